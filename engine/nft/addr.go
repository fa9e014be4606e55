package nft

import (
	"net/netip"
	"sort"
)

// family is one IP version of the table: where its addresses sit in the
// network header and how sets key them.
type family struct {
	v6       bool
	suffix   string // "4" or "6": names of the family's chains and sets
	addrLen  uint32
	saddrOff uint32
	daddrOff uint32
	zero     netip.Addr
}

var (
	fam4 = family{suffix: "4", addrLen: 4, saddrOff: 12, daddrOff: 16, zero: netip.IPv4Unspecified()}
	fam6 = family{v6: true, suffix: "6", addrLen: 16, saddrOff: 8, daddrOff: 24, zero: netip.IPv6Unspecified()}
)

// ival is an inclusive address interval of one family.
type ival struct{ lo, hi netip.Addr }

// lastAddr is the highest address of a masked prefix.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// canon masks p and turns an IPv4-mapped prefix into IPv4: the form the
// rules package looks addresses up in.
func canon(p netip.Prefix) netip.Prefix {
	a := p.Addr()
	if a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked()
	}
	return p.Masked()
}

// mapped is the IPv6 image (::ffff:a.b.c.d/96+n) of an IPv4 prefix.
func mapped(p netip.Prefix) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom16(p.Addr().As16()), p.Bits()+96)
}

// partition cuts the family's whole address space into the intervals
// between the boundaries of the given prefixes, in address order. Over
// each interval every prefix either holds all addresses or none, so the
// interval's first address decides for all of it. IPv4 prefixes also cut
// the IPv6 space at their mapped image, which the rules package looks up
// as IPv4.
func partition(f family, pfx []netip.Prefix) []ival {
	cuts := map[netip.Addr]bool{f.zero: true}
	add := func(p netip.Prefix) {
		cuts[p.Addr()] = true
		if n := lastAddr(p).Next(); n.IsValid() {
			cuts[n] = true
		}
	}
	for _, p := range pfx {
		p = canon(p)
		switch {
		case p.Addr().Is4() && !f.v6:
			add(p)
		case p.Addr().Is4() && f.v6:
			add(mapped(p))
		case p.Addr().Is6() && f.v6:
			add(p)
		}
	}
	starts := make([]netip.Addr, 0, len(cuts))
	for a := range cuts {
		starts = append(starts, a)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].Less(starts[j]) })
	out := make([]ival, len(starts))
	for i, s := range starts {
		out[i].lo = s
		if i+1 < len(starts) {
			out[i].hi = starts[i+1].Prev()
		} else {
			out[i].hi = maxAddr(f)
		}
	}
	return out
}

func maxAddr(f family) netip.Addr {
	if f.v6 {
		return netip.AddrFrom16([16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	}
	return netip.AddrFrom4([4]byte{0xff, 0xff, 0xff, 0xff})
}

// merge joins adjacent intervals (the input is in address order).
func merge(in []ival) []ival {
	var out []ival
	for _, v := range in {
		if n := len(out); n > 0 && out[n-1].hi.Next() == v.lo {
			out[n-1].hi = v.hi
			continue
		}
		out = append(out, v)
	}
	return out
}
