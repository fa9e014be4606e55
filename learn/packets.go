package learn

import (
	"errors"
	"io"
	"net/netip"
	"time"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/rules"
)

// icmpTimeout is the engine's default ICMP timeout, which no rule changes.
const icmpTimeout = int64(30 * time.Second)

// flowKey is direction-free: the lower address (and its port) first.
type flowKey struct {
	a, b   netip.Addr
	pa, pb uint16
	proto  uint8
}

// flow is one flow instance being observed.
type flow struct {
	svc        *Service
	clientIsA  bool
	clientPort uint16
	last       int64
	synOnly    bool // TCP: nothing but the client's SYN so far
	h          flowHealth
}

// Learner builds a Matrix from IP packets. It is not safe for concurrent use.
type Learner struct {
	m     *Matrix
	flows map[flowKey]*flow
	p     packet.Parsed
	obs   *observer // the engine that inspects industrial services (observe.go)
	// decoded: the last packet decoded, so p holds its addresses.
	decoded bool
	copies  copies // recent frames, to skip forwarded copies (ingress.go)

	logFlows map[uint64]*logFlow // flows of verdict logs not yet ended

	// Bounds of a live matrix (live.go); 0: none, as for captures.
	noInspect             bool
	maxFlows, maxServices int
}

// NewLearner starts an empty matrix.
func NewLearner() *Learner {
	return &Learner{m: NewMatrix(), flows: map[flowKey]*flow{}}
}

// Matrix returns the matrix learned so far.
func (l *Learner) Matrix() *Matrix {
	l.lifetimes()
	return l.m
}

// Capture learns every packet of r. It returns the reader's error where a
// truncated or corrupt capture stopped; the packets before it count.
func (l *Learner) Capture(name string, r *capture.Reader) error {
	l.m.Sources = append(l.m.Sources, name)
	var p capture.Packet
	r.OnNonIP = l.nonIP
	for {
		err := r.Next(&p)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		l.Packet(p.Time, p.Data)
		if l.decoded {
			l.ingressPacket(&p)
		}
	}
}

// Packet learns one IP packet captured at ts (ns).
func (l *Learner) Packet(ts int64, b []byte) {
	m := l.m
	m.Packets++
	p := &l.p
	l.decoded = false
	if p.Decode(b) != packet.ReasonOK || p.Fragment == packet.LaterFragment {
		m.Malformed++
		return
	}
	l.decoded = true
	if linkControl(p) {
		return
	}
	m.seen(ts)
	k, srcIsA := keyOf(p)
	f := l.flows[k]
	if f != nil && p.Proto == packet.ProtoTCP && p.TCPFlags&(packet.TCPSyn|packet.TCPAck) == packet.TCPSyn && !f.synOnly {
		// A new connection on a reused port pair.
		f = nil
	}
	if f != nil && (p.Proto == packet.ProtoICMP || p.Proto == packet.ProtoICMPv6) && ts-f.last >= icmpTimeout {
		// The engine has forgotten it: the next message starts a new flow,
		// judged by its own type.
		f = nil
	}
	var gap int64
	if f == nil && l.maxFlows > 0 && len(l.flows) >= l.maxFlows {
		l.prune(ts)
	}
	if f == nil {
		if old := l.flows[k]; old != nil && old.svc.Proto == packet.ProtoTCP && !old.h.lived {
			// A new session on a reused port pair: the old one's life ended.
			old.h.lived = true
			old.svc.health().Lifetimes.add(old.last - old.h.start)
		}
		if f = l.open(k, srcIsA, ts); f == nil {
			m.Overflow++ // a new service, and a live matrix has no room for it
			return
		}
		l.flows[k] = f
	} else if f.last > 0 {
		gap = ts - f.last
		f.svc.gap(gap, f.clientPort)
	}
	f.last = ts
	s := f.svc
	s.seen(ts)
	s.Packets++
	s.Bytes += uint64(len(b))
	toServer := srcIsA == f.clientIsA
	if toServer {
		s.ToServer++
	} else {
		s.ToClient++
	}
	if p.Proto == packet.ProtoTCP && (p.TCPFlags&packet.TCPSyn == 0 || p.TCPFlags&packet.TCPAck != 0) {
		f.synOnly = false
	}
	if p.Proto == packet.ProtoTCP || p.Proto == packet.ProtoUDP {
		l.health(f, s, ts, gap, toServer)
	}
	if !l.noInspect && appOf(s.Proto, s.Port) != rules.AppNone {
		l.observe(s, ts, b)
	}
}

// open starts a flow instance and decides which side is the client.
func (l *Learner) open(k flowKey, srcIsA bool, ts int64) *flow {
	p := &l.p
	dstServes, conclusive := true, true
	port := uint16(0)
	switch p.Proto {
	case packet.ProtoTCP:
		switch p.TCPFlags & (packet.TCPSyn | packet.TCPAck) {
		case packet.TCPSyn: // the client's SYN
		case packet.TCPSyn | packet.TCPAck: // the server's SYN-ACK
			dstServes = false
		default:
			dstServes, _ = dstIsServer(p.SrcPort, p.DstPort)
		}
	case packet.ProtoUDP:
		dstServes, conclusive = dstIsServer(p.SrcPort, p.DstPort)
	case packet.ProtoICMP, packet.ProtoICMPv6:
		// The engine judges an ICMP flow by its first message, as sent.
		port = uint16(p.ICMPType)
	}
	client, server, cport, sport := p.Src, p.Dst, p.SrcPort, p.DstPort
	if !dstServes {
		client, server, cport, sport = p.Dst, p.Src, p.DstPort, p.SrcPort
	}
	if p.Proto == packet.ProtoTCP || p.Proto == packet.ProtoUDP {
		port = sport
	} else {
		cport = 0
	}
	key := ServiceKey{Client: client, Server: server, Proto: p.Proto, Port: port}
	if l.maxServices > 0 && len(l.m.services) >= l.maxServices && l.m.services[key] == nil {
		return nil
	}
	s := l.m.service(key)
	s.uninspected = s.uninspected || l.noInspect && appOf(key.Proto, key.Port) != rules.AppNone
	s.Flows++
	if p.Proto == packet.ProtoUDP && conclusive && !dstServes {
		s.ReversedStarts++
	}
	return &flow{svc: s, clientIsA: srcIsA == dstServes, clientPort: cport,
		synOnly: p.Proto == packet.ProtoTCP && p.TCPFlags&(packet.TCPSyn|packet.TCPAck) == packet.TCPSyn}
}

// keyOf returns the direction-free key of p and whether p's source is its
// first side.
func keyOf(p *packet.Parsed) (flowKey, bool) {
	src, dst := p.Src.Unmap(), p.Dst.Unmap()
	var sp, dp uint16
	switch p.Proto {
	case packet.ProtoTCP, packet.ProtoUDP:
		sp, dp = p.SrcPort, p.DstPort
	case packet.ProtoICMP, packet.ProtoICMPv6:
		sp, dp = p.ICMPID, p.ICMPID
	}
	if c := src.Compare(dst); c < 0 || c == 0 && sp <= dp {
		return flowKey{a: src, b: dst, pa: sp, pb: dp, proto: p.Proto}, true
	}
	return flowKey{a: dst, b: src, pa: dp, pb: sp, proto: p.Proto}, false
}

// linkControl mirrors the engine: IPv6 neighbour discovery and MLD pass
// without rules, so they are not services to allow.
func linkControl(p *packet.Parsed) bool {
	if p.Proto != packet.ProtoICMPv6 {
		return false
	}
	switch p.ICMPType {
	case 133, 134, 135, 136, 137:
		return p.TTL == 255
	case 130, 131, 132, 143:
		return p.TTL == 1 && (p.Src.IsLinkLocalUnicast() || p.Src.IsUnspecified())
	}
	return false
}
