package conntrack

// Dir is the direction of a packet relative to its flow's Key.
type Dir uint8

const (
	DirOriginal Dir = iota // same direction as Flow.Key (the request)
	DirReply               // Flow.Key.Reverse()
)

func (d Dir) String() string {
	if d == DirReply {
		return "reply"
	}
	return "original"
}

// State is a flow's connection state. Non-TCP flows use only StateNew and
// StateEstablished (a packet was seen in the reply direction).
type State uint8

const (
	// StateNew: first packet of a UDP/ICMP/other flow, or a TCP flow picked up
	// mid-stream (no SYN seen) whose reply direction has not been seen yet.
	StateNew State = iota
	StateSynSent
	StateSynRecv
	StateEstablished
	// StateClosing: a FIN in one direction, or an RST.
	StateClosing
	// StateClosed: FINs seen in both directions.
	StateClosed
)

var stateNames = [...]string{"new", "syn_sent", "syn_recv", "established", "closing", "closed"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// TCP header flag bits, as in byte 13 of the TCP header; Update takes them raw.
const (
	TCPFlagFIN uint8 = 0x01
	TCPFlagSYN uint8 = 0x02
	TCPFlagRST uint8 = 0x04
	TCPFlagPSH uint8 = 0x08
	TCPFlagACK uint8 = 0x10
)

// Flow.flags bits.
const (
	finOriginal uint8 = 1 << iota // a FIN was seen in the original direction
	finReply                      // ... in the reply direction
	keySwapped                    // canon(f.Key) swapped the endpoints
)

const finBoth = finOriginal | finReply

// tcpTransition advances f's TCP state for one packet. It is deliberately
// permissive: it follows what the endpoints evidently agreed on rather than
// validating sequence numbers, because a dropped packet must never be
// explained by our own bookkeeping.
func tcpTransition(f *Flow, d Dir, flags uint8) {
	syn := flags&TCPFlagSYN != 0
	ack := flags&TCPFlagACK != 0
	switch {
	case flags&TCPFlagRST != 0:
		if f.State < StateClosing {
			f.State = StateClosing
		}
	case syn && !ack:
		// A fresh SYN on a closing/closed flow is the tuple being reused by a
		// new connection; on a flow picked up mid-stream it is a real start.
		if d == DirOriginal && (f.State == StateNew || f.State >= StateClosing) {
			f.State = StateSynSent
			f.flags &^= finBoth
		}
	case syn && ack:
		if d == DirReply && (f.State == StateNew || f.State == StateSynSent) {
			f.State = StateSynRecv
		}
	case flags&TCPFlagFIN != 0:
		if d == DirOriginal {
			f.flags |= finOriginal
		} else {
			f.flags |= finReply
		}
		if f.flags&finBoth == finBoth {
			f.State = StateClosed
		} else if f.State < StateClosing {
			f.State = StateClosing
		}
	default:
		switch {
		case f.State == StateSynRecv && d == DirOriginal && ack:
			f.State = StateEstablished
		case f.State == StateNew && d == DirReply:
			// Picked up mid-stream and the other side answered.
			f.State = StateEstablished
		}
	}
}
