package conntrack

// Class ranks a flow for eviction, like the kernel's early_drop: a full
// shard makes room from the lowest class that has a flow, least recently
// seen first, so that what the plant depends on — allowed sessions that
// both sides took up — goes last. A flood of new or denied flows therefore
// displaces its own kind, never an established allowed session while a
// flow of a lower class is in the table.
type Class uint8

const (
	// ClassDenied: the policy denies the flow (Allowed false). Such flows
	// are tracked in monitor and passthrough only; enforce drops them
	// untracked.
	ClassDenied Class = iota
	// ClassHandshake: an allowed TCP flow that is half-open (SYN sent or
	// received) or was picked up mid-stream and not yet answered.
	ClassHandshake
	// ClassClosing: an allowed TCP flow after a FIN or RST.
	ClassClosing
	// ClassUnanswered: an allowed UDP, ICMP or other flow whose reply
	// direction has not been seen.
	ClassUnanswered
	// ClassEstablished: an allowed flow both sides took part in (assured,
	// in the kernel's words). Evicting one is worth a warning.
	ClassEstablished

	// NumClasses is the number of classes, for arrays indexed by Class.
	NumClasses = int(ClassEstablished) + 1
)

var classNames = [NumClasses]string{"denied", "handshake", "closing", "unanswered", "established"}

// String names the class as status and metrics do.
func (c Class) String() string {
	if int(c) < NumClasses {
		return classNames[c]
	}
	return "unknown"
}

// Class is f's eviction class, from its decision cache (Allowed) and state.
func (f *Flow) Class() Class {
	if !f.Allowed {
		return ClassDenied
	}
	switch f.State {
	case StateEstablished:
		return ClassEstablished
	case StateClosing, StateClosed:
		return ClassClosing
	case StateNew:
		if f.Key.Proto != ProtoTCP {
			return ClassUnanswered
		}
	}
	return ClassHandshake // syn_sent, syn_recv, an unanswered TCP pickup
}
