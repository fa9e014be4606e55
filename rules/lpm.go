package rules

import (
	"encoding/binary"
	"net/netip"
	"sort"
)

// Longest-prefix lookups are done on range tables: the prefixes of one
// address family cut its address space into intervals over which the set of
// covering prefixes is constant (CIDR prefixes are always nested or
// disjoint), so a lookup is one binary search over interval starts, with no
// allocation and no pointer chasing.

// u128 is an address in one family's space (IPv4 uses the low 32 bits).
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || a.hi == b.hi && a.lo < b.lo }

func (a u128) add1() u128 {
	a.lo++
	if a.lo == 0 {
		a.hi++
	}
	return a
}

func (a u128) sub1() u128 {
	if a.lo == 0 {
		a.hi--
	}
	a.lo--
	return a
}

var (
	max4 = u128{0, 0xffffffff}
	max6 = u128{^uint64(0), ^uint64(0)}
)

// addrU128 returns a (which must be unmapped) as a number in its family's space.
func addrU128(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{0, uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// prefixSpan returns the first and last address of a masked prefix.
func prefixSpan(p netip.Prefix) (first, last u128) {
	first = addrU128(p.Addr())
	host := 32 - p.Bits()
	if p.Addr().Is6() {
		host = 128 - p.Bits()
	}
	last = first
	switch {
	case host >= 128:
		last = max6
	case host >= 64:
		last.lo = ^uint64(0)
		last.hi |= (uint64(1) << (host - 64)) - 1
	case host > 0:
		last.lo |= (uint64(1) << host) - 1
	}
	return first, last
}

// span is a prefix of the input to sweep; id is the caller's.
type span struct {
	first, last u128
	id          int
}

// sweep calls emit for each maximal interval [lo, hi] of [0, max] over which
// the set of covering spans is constant, in address order. stack holds the
// ids of the covering spans, outermost first, so its last element is the
// longest prefix. Spans must be distinct prefixes of one family.
func sweep(spans []span, max u128, emit func(lo, hi u128, stack []int)) {
	sort.Slice(spans, func(i, j int) bool {
		a, b := spans[i], spans[j]
		if a.first != b.first {
			return a.first.less(b.first)
		}
		return b.last.less(a.last) // outer first
	})
	var (
		pos   u128
		done  bool
		stack []int // indexes into spans
		ids   []int
	)
	out := func(end u128) {
		if done || end.less(pos) {
			return
		}
		ids = ids[:0]
		for _, i := range stack {
			ids = append(ids, spans[i].id)
		}
		emit(pos, end, ids)
		if end == max {
			done = true
		} else {
			pos = end.add1()
		}
	}
	for i, s := range spans {
		for len(stack) > 0 && spans[stack[len(stack)-1]].last.less(s.first) {
			out(spans[stack[len(stack)-1]].last)
			stack = stack[:len(stack)-1]
		}
		if pos.less(s.first) {
			out(s.first.sub1())
		}
		stack = append(stack, i)
	}
	for len(stack) > 0 {
		out(spans[stack[len(stack)-1]].last)
		stack = stack[:len(stack)-1]
	}
	out(max)
}

// rangeTable maps an address to the value of the interval holding it.
type rangeTable struct {
	v4 ranges[uint32]
	v6 ranges[u128]
}

// ranges is one family's intervals: their starts, ascending, and values.
type ranges[K any] struct {
	start []K
	val   []uint32
}

// lookup returns the value for a, which must already be unmapped. An
// invalid address gets 0.
func (t *rangeTable) lookup(a netip.Addr) uint32 {
	if a.Is4() {
		b := a.As4()
		return t.v4.at(binary.BigEndian.Uint32(b[:]), func(s, x uint32) bool { return s <= x })
	}
	if !a.Is6() {
		return 0
	}
	b := a.As16()
	x := u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
	return t.v6.at(x, func(s, x u128) bool { return !x.less(s) })
}

// at returns the value of the last interval whose start s is at or below
// x (le(s, x)); an empty table gives 0. Called with a func literal, at and
// le inline into lookup, whose loops stay as if written out per family.
func (r *ranges[K]) at(x K, le func(s, x K) bool) uint32 {
	s := r.start
	lo, hi := 0, len(s)
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if le(s[m], x) {
			lo = m
		} else {
			hi = m
		}
	}
	if lo < len(r.val) {
		return r.val[lo]
	}
	return 0
}

// add appends the interval starting at lo with value v, unless the one
// before has the same value (adjacent equal intervals are one).
func (r *ranges[K]) add(lo K, v uint32) {
	if n := len(r.val); n > 0 && r.val[n-1] == v {
		return
	}
	r.start = append(r.start, lo)
	r.val = append(r.val, v)
}

// buildRangeTable sweeps prefixes (distinct, masked, unmapped) and assigns
// each interval the value returned by value(stack); adjacent intervals with
// equal values are merged.
func buildRangeTable(prefixes []netip.Prefix, value func(stack []int) uint32) rangeTable {
	var s4, s6 []span
	for i, p := range prefixes {
		f, l := prefixSpan(p)
		if p.Addr().Is4() {
			s4 = append(s4, span{f, l, i})
		} else {
			s6 = append(s6, span{f, l, i})
		}
	}
	var t rangeTable
	sweep(s4, max4, func(lo, _ u128, stack []int) { t.v4.add(uint32(lo.lo), value(stack)) })
	sweep(s6, max6, func(lo, _ u128, stack []int) { t.v6.add(lo, value(stack)) })
	return t
}

// zoneTable resolves addresses to zones.
type zoneTable struct{ rangeTable }

func buildZoneTable(zones []Zone) zoneTable {
	var (
		pfx []netip.Prefix
		ids []ZoneID
	)
	for i, z := range zones {
		for _, p := range z.CIDRs {
			pfx = append(pfx, p)
			ids = append(ids, ZoneID(i+1))
		}
	}
	return zoneTable{buildRangeTable(pfx, func(stack []int) uint32 {
		if len(stack) == 0 {
			return uint32(ZoneUnknown)
		}
		return uint32(ids[stack[len(stack)-1]])
	})}
}
