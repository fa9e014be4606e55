package rules

import (
	"fmt"
	"net/netip"
	"slices"
	"sort"

	"github.com/conduit-ot/conduit/proto"
)

// maxCompiledBytes bounds the matcher's bitset tables so that a hostile or
// absurd policy is refused instead of exhausting memory.
const maxCompiledBytes = 512 << 20

// classes deduplicates bitsets; rows are kept apart while building (no
// regrowth of one huge slice) and flattened once by flat.
type classes struct {
	words int
	rows  [][]uint64
	index map[uint64][]int // content hash -> class ids
	total *int             // shared byte budget
	err   error
}

func newClasses(words int, total *int) *classes {
	return &classes{words: words, index: map[uint64][]int{}, total: total}
}

func (c *classes) add(b []uint64) int {
	h := uint64(14695981039346656037)
	for _, x := range b {
		h = (h ^ x) * 1099511628211
		h ^= h >> 29
	}
	for _, i := range c.index[h] {
		if slices.Equal(c.rows[i], b) {
			return i
		}
	}
	*c.total += 8 * c.words
	if *c.total > maxCompiledBytes && c.err == nil {
		c.err = fmt.Errorf("policy too large to compile: its rule index would exceed %d MiB", maxCompiledBytes>>20)
	}
	if c.err != nil {
		return 0
	}
	i := len(c.rows)
	c.rows = append(c.rows, slices.Clone(b))
	c.index[h] = append(c.index[h], i)
	return i
}

// flat returns the classes as one slice: class i at [i*words:(i+1)*words].
func (c *classes) flat() []uint64 {
	out := make([]uint64, 0, len(c.rows)*c.words)
	for _, r := range c.rows {
		out = append(out, r...)
	}
	return out
}

// compile builds the zone table, the conduit map and the rule matcher from
// the policy's fields. Parse calls it on a validated policy; tests call it
// on policies they build directly.
func (p *Policy) compile() error {
	for i := range p.Rules {
		p.Rules[i].Index = i
		if c := p.Rules[i].App; c != nil && c.Cond != nil {
			c.Cond.Build()
		}
	}
	p.zones = buildZoneTable(p.Zones)
	p.binds = false
	for i := range p.Zones {
		p.binds = p.binds || p.Zones[i].Bound()
	}
	p.modes = make(map[uint32]Mode, len(p.Conduits))
	for _, c := range p.Conduits {
		p.modes[uint32(c.FromID)<<16|uint32(c.ToID)] = c.Mode
	}
	m, err := buildMatcher(p.Rules, len(p.Zones))
	if err != nil {
		return err
	}
	p.matcher = m
	return nil
}

func setBit(b []uint64, i int)      { b[i>>6] |= 1 << (i & 63) }
func hasBit(b []uint64, i int) bool { return b[i>>6]&(1<<(i&63)) != 0 }

func buildMatcher(rules []Rule, nzones int) (*matcher, error) {
	n := len(rules)
	w := (n + 63) / 64
	m := &matcher{words: w, swords: (w + 63) / 64, zones: nzones}
	total := 0
	if int64(nzones+2)*int64(w)*8*2 > maxCompiledBytes {
		return nil, fmt.Errorf("policy too large to compile: %d zones x %d rules", nzones, n)
	}

	// Zones: class z holds rules naming zone z or any; the extra last class
	// (for IDs beyond the policy's zones) holds only the "any" rules.
	zoneDim := func(end func(*Rule) *Endpoint) []uint64 {
		t := make([]uint64, (nzones+2)*w)
		for i := range rules {
			e := end(&rules[i])
			if e.Any {
				for z := 0; z <= nzones+1; z++ {
					setBit(t[z*w:], i)
				}
				continue
			}
			for _, z := range e.Zones {
				if int(z) <= nzones {
					setBit(t[int(z)*w:], i)
				}
			}
		}
		return t
	}
	m.srcZone = newBitTable(zoneDim(func(r *Rule) *Endpoint { return &r.From }), w)
	m.dstZone = newBitTable(zoneDim(func(r *Rule) *Endpoint { return &r.To }), w)

	// CIDRs: a range table maps an address to the class of rules naming a
	// CIDR that holds it; class 0 is the empty set.
	cidrDim := func(end func(*Rule) *Endpoint) (rangeTable, bitTable, bool, error) {
		idx := map[netip.Prefix]int{}
		var pfx []netip.Prefix
		var sets [][]uint64
		for i := range rules {
			for _, c := range end(&rules[i]).CIDRs {
				c = canonPrefix(c)
				j, ok := idx[c]
				if !ok {
					j = len(pfx)
					idx[c] = j
					pfx = append(pfx, c)
					sets = append(sets, make([]uint64, w))
				}
				setBit(sets[j], i)
			}
		}
		cl := newClasses(w, &total)
		scratch := make([]uint64, w)
		cl.add(scratch)
		if len(pfx) == 0 {
			return rangeTable{}, newBitTable(cl.flat(), w), false, nil
		}
		t := buildRangeTable(pfx, func(stack []int) uint32 {
			clear(scratch)
			for _, j := range stack {
				for k, x := range sets[j] {
					scratch[k] |= x
				}
			}
			return uint32(cl.add(scratch))
		})
		return t, newBitTable(cl.flat(), w), true, cl.err
	}
	var err error
	if m.srcCIDR, m.srcCIDRBits, m.srcHasCIDR, err = cidrDim(func(r *Rule) *Endpoint { return &r.From }); err != nil {
		return nil, err
	}
	if m.dstCIDR, m.dstCIDRBits, m.dstHasCIDR, err = cidrDim(func(r *Rule) *Endpoint { return &r.To }); err != nil {
		return nil, err
	}

	// Service: the protocol together with the field its rules may
	// constrain (destination port for tcp and udp, type for icmp and
	// icmpv6), so a class holds only rules of the packet's protocol that
	// accept that port or type. This keeps the classes sparse, which is
	// what lets Match skip most words.
	svc := newClasses(w, &total)
	scratch := make([]uint64, w)
	for v := 0; v < 256; v++ {
		clear(scratch)
		for i := range rules {
			if rules[i].Proto == ProtoAny || rules[i].Proto == uint8(v) {
				setBit(scratch, i)
			}
		}
		m.svcOther[v] = uint16(svc.add(scratch))
	}
	of := func(p uint8) func(*Rule) bool {
		return func(r *Rule) bool { return r.Proto == ProtoAny || r.Proto == p }
	}
	dports := func(r *Rule) []PortRange { return r.DPorts }
	tcp, _ := valueDim(rules, w, 65536, svc, of(ProtoTCP), dports)
	udp, _ := valueDim(rules, w, 65536, svc, of(ProtoUDP), dports)
	icmp4, _ := valueDim(rules, w, 256, svc, of(ProtoICMP), icmpRanges)
	icmp6, _ := valueDim(rules, w, 256, svc, of(ProtoICMPv6), icmpRanges)
	m.svcTCP, m.svcUDP = (*[65536]uint16)(tcp), (*[65536]uint16)(udp)
	m.svcICMP, m.svcICMPv6 = (*[256]uint16)(icmp4), (*[256]uint16)(icmp6)
	m.svc = newBitTable(svc.flat(), w)

	// Source ports are rare: without any, every packet is class 0.
	sp := newClasses(w, &total)
	all := func(*Rule) bool { return true }
	if t, used := valueDim(rules, w, 65536, sp, all, func(r *Rule) []PortRange { return r.SPorts }); used {
		m.sport = (*[65536]uint16)(t)
	}
	m.sportBits = newBitTable(sp.flat(), w)
	if svc.err != nil {
		return nil, svc.err
	}
	if sp.err != nil {
		return nil, sp.err
	}
	return m, nil
}

func icmpRanges(r *Rule) []PortRange {
	if len(r.ICMPTypes) == 0 {
		return nil
	}
	rs := make([]PortRange, len(r.ICMPTypes))
	for i, t := range r.ICMPTypes {
		rs[i] = PortRange{Lo: uint16(t), Hi: uint16(t)}
	}
	return rs
}

// valueDim indexes a condition on a small integer field (ports, ICMP type)
// of size values, over the rules that include selects; those without the
// condition accept every value. It returns the value -> class table (with
// classes added to cl) and whether any selected rule has the condition.
func valueDim(rules []Rule, w, size int, cl *classes, include func(*Rule) bool, get func(*Rule) []PortRange) ([]uint16, bool) {
	type event struct {
		at   int
		rule int
		set  bool
	}
	base := make([]uint64, w)
	var evs []event
	for i := range rules {
		if !include(&rules[i]) {
			continue
		}
		rs := get(&rules[i])
		if len(rs) == 0 {
			setBit(base, i)
			continue
		}
		for _, r := range mergeRanges(rs) {
			evs = append(evs, event{int(r.Lo), i, true})
			if int(r.Hi)+1 < size {
				evs = append(evs, event{int(r.Hi) + 1, i, false})
			}
		}
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i].at < evs[j].at })
	table := make([]uint16, size)
	cur := base
	pos := 0
	fill := func(end int) {
		if end <= pos {
			return
		}
		c := cl.add(cur)
		if c > 0xffff && cl.err == nil {
			cl.err = fmt.Errorf("policy too large to compile: too many distinct port conditions")
		}
		for v := pos; v < end; v++ {
			table[v] = uint16(c)
		}
		pos = end
	}
	for _, e := range evs {
		fill(e.at)
		if e.set {
			setBit(cur, e.rule)
		} else {
			cur[e.rule>>6] &^= 1 << (e.rule & 63)
		}
	}
	fill(size)
	return table, len(evs) > 0
}

// mergeRanges returns rs sorted with overlapping and adjacent ranges joined.
func mergeRanges(rs []PortRange) []PortRange { return proto.MergeRanges(rs) }

// canonPrefix masks p and turns an IPv4-mapped IPv6 prefix into IPv4, the
// form addresses are looked up in.
func canonPrefix(p netip.Prefix) netip.Prefix {
	a := p.Addr()
	if a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked()
	}
	return p.Masked()
}
