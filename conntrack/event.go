package conntrack

import "time"

// EventKind says why an Event was emitted.
type EventKind uint8

const (
	// EventFlowEnd: a flow expired (idle, handshake or close timeout) or was
	// removed. Reason is one of the Reason* constants.
	EventFlowEnd EventKind = iota
	// EventEviction: a flow was evicted to make room (its shard was full):
	// the least recently seen flow of the lowest Class present. Class
	// says which; ClassEstablished means nothing of less worth was left.
	EventEviction
	// EventOccupancyHigh: the table's occupancy rose to 90% of capacity.
	// Emitted once per crossing; Flow is zero.
	EventOccupancyHigh
	// EventOccupancyNormal: occupancy fell back below 80% after an
	// EventOccupancyHigh (hysteresis avoids a warning per insert). Flow is zero.
	EventOccupancyNormal
)

var eventNames = [...]string{"flow_end", "eviction", "occupancy_high", "occupancy_normal"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "unknown"
}

// Reasons carried by events.
const (
	ReasonIdle      = "idle"              // idle timeout (established TCP, UDP, ICMP, other, unconfirmed pickup)
	ReasonHandshake = "handshake-timeout" // SYN sent/received and never completed
	ReasonClosed    = "closed"            // FIN/RST seen, close timeout elapsed
	ReasonRemoved   = "removed"           // Shard.Remove
	ReasonReplaced  = "replaced"          // Shard.Insert of a key already present
	ReasonCapacity  = "capacity"          // eviction
	ReasonOccupancy = "occupancy"         // occupancy crossings
)

// Event reports the end of a flow or a change in occupancy.
type Event struct {
	Kind EventKind
	// Flow is a copy taken when the flow ended.
	Flow Flow
	// Class is the flow's eviction class when it ended (flow_end and
	// eviction events).
	Class Class
	// Idle is how long the flow had been silent when it ended.
	Idle time.Duration
	// Reason is one of the Reason* constants, or the caller's reason given
	// to RemoveReason.
	Reason string
	// At is the clock time of the event (ns).
	At int64
	// Entries and Capacity describe the table at the time of an occupancy
	// event.
	Entries, Capacity int
}
