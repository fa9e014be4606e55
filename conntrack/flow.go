package conntrack

import "time"

// Flow is one tracked connection. Fields are ordered to pack small fields
// together (152 bytes on 64-bit).
type Flow struct {
	Key Key
	// ID is unique per table lifetime, for correlating log lines.
	ID uint64
	// Created and LastSeen are clock nanoseconds (Config.Now's clock).
	Created, LastSeen int64
	// Packets and Bytes are indexed by Dir.
	Packets, Bytes [2]uint64
	// MaxGap is the largest gap in ns between two consecutive packets of
	// this flow, either direction.
	MaxGap int64
	// IdleTimeout overrides the state's default timeout (a rule's
	// idle_timeout); 0 uses the default. See Timeout.
	IdleTimeout time.Duration

	// Decision cache owned by the engine: conntrack stores it and never
	// interprets it.
	Generation uint64
	Rule       int32
	Mark       uint32

	slot  int32 // index in the shard's arena
	State State
	// Decision cache, continued.
	Allowed  bool
	PickedUp bool

	flags uint8 // finOriginal, finReply, keySwapped
}

// Duration is the time between the flow's creation and its last packet.
func (f *Flow) Duration() time.Duration { return time.Duration(f.LastSeen - f.Created) }

// Idle is how long the flow has been silent at now.
func (f *Flow) Idle(now int64) time.Duration { return time.Duration(now - f.LastSeen) }
