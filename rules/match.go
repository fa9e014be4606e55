package rules

import (
	"math/bits"
	"net/netip"
)

// Query is one packet (or flow) to decide, in the request direction.
type Query struct {
	Src, Dst         netip.Addr
	Proto            uint8 // IP protocol number (6 tcp, 17 udp, 1 icmp, 58 icmpv6)
	SrcPort, DstPort uint16
	ICMPType         uint8
	SrcZone, DstZone ZoneID // filled by the caller via Zone (or SetZones)
}

// Zone returns the zone whose CIDR is the longest prefix holding a, or
// ZoneUnknown. IPv4-mapped IPv6 addresses are looked up as IPv4.
func (p *Policy) Zone(a netip.Addr) ZoneID {
	return ZoneID(p.zones.lookup(a.Unmap()))
}

// SetZones fills q.SrcZone and q.DstZone from q.Src and q.Dst.
func (p *Policy) SetZones(q *Query) {
	q.SrcZone = p.Zone(q.Src)
	q.DstZone = p.Zone(q.Dst)
}

// ZoneName returns the zone's name, "unknown" for ZoneUnknown.
func (p *Policy) ZoneName(z ZoneID) string {
	if z == ZoneUnknown || int(z) > len(p.Zones) {
		return "unknown"
	}
	return p.Zones[z-1].Name
}

// ZoneByName returns the zone called name ("unknown" is ZoneUnknown).
func (p *Policy) ZoneByName(name string) (ZoneID, bool) {
	if name == "unknown" {
		return ZoneUnknown, true
	}
	for i := range p.Zones {
		if p.Zones[i].Name == name {
			return ZoneID(i + 1), true
		}
	}
	return 0, false
}

// RuleName returns the name of rule i, "default" for len(p.Rules).
func (p *Policy) RuleName(i int) string {
	if i >= 0 && i < len(p.Rules) {
		return p.Rules[i].Name
	}
	return "default"
}

// ActionOf returns the action of rule i, p.Default for len(p.Rules).
func (p *Policy) ActionOf(i int) Action {
	if i >= 0 && i < len(p.Rules) {
		return p.Rules[i].Action
	}
	return p.Default
}

// ModeFor returns the mode of the conduit from -> to (as written, not the
// reverse), or the global mode when there is none.
func (p *Policy) ModeFor(from, to ZoneID) Mode {
	if m, ok := p.modes[uint32(from)<<16|uint32(to)]; ok {
		return m
	}
	return p.Mode
}

// Match returns the index of the first rule matching q, or len(p.Rules)
// for the implicit rule "default". Zone conditions compare q.SrcZone and
// q.DstZone; CIDR conditions test q.Src and q.Dst. It does not allocate.
func (p *Policy) Match(q *Query) int {
	m := p.matcher
	if m == nil || m.words == 0 {
		return len(p.Rules)
	}
	zs, zd := int(q.SrcZone), int(q.DstZone)
	if zs > m.zones {
		zs = m.zones + 1
	}
	if zd > m.zones {
		zd = m.zones + 1
	}
	var sc, dc int
	if m.srcHasCIDR {
		sc = int(m.srcCIDR.lookup(q.Src.Unmap()))
	}
	if m.dstHasCIDR {
		dc = int(m.dstCIDR.lookup(q.Dst.Unmap()))
	}
	var sv, sp int
	switch q.Proto {
	case ProtoTCP:
		sv = int(m.svcTCP[q.DstPort])
	case ProtoUDP:
		sv = int(m.svcUDP[q.DstPort])
	case ProtoICMP:
		sv = int(m.svcICMP[q.ICMPType])
	case ProtoICMPv6:
		sv = int(m.svcICMPv6[q.ICMPType])
	default:
		sv = int(m.svcOther[q.Proto])
	}
	if m.sport != nil {
		sp = int(m.sport[q.SrcPort])
	}

	// First intersect the summaries (one bit per 64-rule word) to find the
	// words that can hold a match, then test those words in rule order.
	sw := m.swords
	sa, sb := m.srcZone.srow(zs, sw), m.srcCIDRBits.srow(sc, sw)
	sc2, sd := m.dstZone.srow(zd, sw), m.dstCIDRBits.srow(dc, sw)
	se, sf := m.svc.srow(sv, sw), m.sportBits.srow(sp, sw)
	w := m.words
	a, b := m.srcZone.row(zs, w), m.srcCIDRBits.row(sc, w)
	c, d := m.dstZone.row(zd, w), m.dstCIDRBits.row(dc, w)
	e, f := m.svc.row(sv, w), m.sportBits.row(sp, w)
	for s := range sa {
		y := se[s] & (sa[s] | sb[s]) & (sc2[s] | sd[s]) & sf[s]
		for ; y != 0; y &= y - 1 {
			i := s<<6 + bits.TrailingZeros64(y)
			x := e[i] & (a[i] | b[i]) & (c[i] | d[i]) & f[i]
			if x != 0 {
				return i<<6 + bits.TrailingZeros64(x)
			}
		}
	}
	return len(p.Rules)
}

// matcher is the compiled rule index. Every condition dimension maps packet
// fields to a class, and every class to the bitset of rules (in rule order)
// those values satisfy; the first set bit of the intersection is the first
// matching rule. The dimensions are the source (zone or CIDR), the
// destination (zone or CIDR), the service (protocol with destination port
// or ICMP type) and the source port. A per-class summary of non-zero words
// lets a decision skip the words no rule of the packet's service is in.
type matcher struct {
	words  int // uint64s per bitset
	swords int // uint64s per summary
	zones  int // classes 0..zones are zone IDs, zones+1 is "out of range"

	srcZone, dstZone         bitTable
	srcCIDR, dstCIDR         rangeTable // address -> class of rules naming a CIDR holding it
	srcCIDRBits, dstCIDRBits bitTable
	srcHasCIDR, dstHasCIDR   bool
	svc                      bitTable // service classes: protocol with dport or ICMP type
	svcTCP, svcUDP           *[65536]uint16
	svcICMP, svcICMPv6       *[256]uint16
	svcOther                 [256]uint16    // by protocol number, for the rest
	sport                    *[65536]uint16 // nil: no rule has a sport, class 0
	sportBits                bitTable
}

// bitTable holds one rule bitset per class, and per class a summary with
// one bit per bitset word, set when that word is non-zero.
type bitTable struct {
	bits []uint64
	sum  []uint64
}

func (t *bitTable) row(c, w int) []uint64   { return t.bits[c*w : c*w+w] }
func (t *bitTable) srow(c, sw int) []uint64 { return t.sum[c*sw : c*sw+sw] }

func newBitTable(bits []uint64, w int) bitTable {
	if w == 0 {
		return bitTable{}
	}
	sw := (w + 63) / 64
	n := len(bits) / w
	sum := make([]uint64, n*sw)
	for c := range n {
		for i, x := range bits[c*w : c*w+w] {
			if x != 0 {
				sum[c*sw+i>>6] |= 1 << (i & 63)
			}
		}
	}
	return bitTable{bits, sum}
}
