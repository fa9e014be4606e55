package conntrack

import "time"

// Timeouts are the idle timeouts per protocol and TCP state.
type Timeouts struct {
	TCPEstablished time.Duration
	TCPHandshake   time.Duration // SYN sent/received, and unconfirmed mid-stream pickups
	TCPClosing     time.Duration // one FIN, or RST
	UDP            time.Duration
	ICMP           time.Duration
	Other          time.Duration
}

// DefaultTimeouts are OT-grade: a PLC's TCP session may sit idle for hours
// between polls, so established TCP survives a day of silence.
func DefaultTimeouts() Timeouts {
	return Timeouts{
		TCPEstablished: 24 * time.Hour,
		TCPHandshake:   30 * time.Second,
		TCPClosing:     2 * time.Minute,
		UDP:            10 * time.Minute,
		ICMP:           30 * time.Second,
		Other:          10 * time.Minute,
	}
}

// closedTimeout bounds how long a flow lingers after FINs in both
// directions (for the last ACK and retransmissions).
const closedTimeout = 10 * time.Second

// withDefaults fills zero fields from DefaultTimeouts.
func (t Timeouts) withDefaults() Timeouts {
	d := DefaultTimeouts()
	for _, p := range []struct{ v, def *time.Duration }{
		{&t.TCPEstablished, &d.TCPEstablished},
		{&t.TCPHandshake, &d.TCPHandshake},
		{&t.TCPClosing, &d.TCPClosing},
		{&t.UDP, &d.UDP},
		{&t.ICMP, &d.ICMP},
		{&t.Other, &d.Other},
	} {
		if *p.v <= 0 {
			*p.v = *p.def
		}
	}
	return t
}

// Timeout is the idle time after which f expires in its current state.
// The per-flow IdleTimeout (a rule's idle_timeout) overrides established TCP,
// UDP and other protocols; handshake, closing and ICMP keep their defaults so
// a long rule timeout cannot pin half-open or finished connections.
func (f *Flow) Timeout(t *Timeouts) time.Duration {
	switch f.Key.Proto {
	case ProtoTCP:
		switch f.State {
		case StateEstablished:
			if f.IdleTimeout > 0 {
				return f.IdleTimeout
			}
			return t.TCPEstablished
		case StateClosing:
			return t.TCPClosing
		case StateClosed:
			return min(closedTimeout, t.TCPClosing)
		default: // new (unconfirmed pickup), syn_sent, syn_recv
			return t.TCPHandshake
		}
	case ProtoUDP:
		if f.IdleTimeout > 0 {
			return f.IdleTimeout
		}
		return t.UDP
	case ProtoICMP, ProtoICMPv6:
		return t.ICMP
	default:
		if f.IdleTimeout > 0 {
			return f.IdleTimeout
		}
		return t.Other
	}
}

// Expired reports whether f has been idle for at least its timeout at now.
func (f *Flow) Expired(now int64, t *Timeouts) bool {
	return now-f.LastSeen >= int64(f.Timeout(t))
}
