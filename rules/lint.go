package rules

import (
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
)

// lint returns the warnings of a valid, compiled policy: things that are
// allowed but almost certainly not what the engineer meant.
func (p *Policy) lint(file string) []Diagnostic {
	var ws []Diagnostic
	warn := func(line, col int, format string, a ...any) {
		ws = append(ws, Diagnostic{File: file, Line: line, Col: col, Msg: fmt.Sprintf(format, a...), Warning: true})
	}
	if len(p.Rules) == 0 {
		warn(p.rulesLine, 1, "the policy has no rules: every packet meets the default (%s)", p.Default)
	}
	if p.Default == ActionAllow {
		warn(p.DefaultLine, 1, "default: allow lets through everything no rule denies; the plant's policy should end in deny")
	}
	hasDMZ := false
	for i := range p.Zones {
		hasDMZ = hasDMZ || p.Zones[i].IsDMZ()
	}
	mentioned := make([]bool, len(p.Zones)+1)
	for i := range p.Rules {
		r := &p.Rules[i]
		for _, z := range append(p.endpointZones(&r.From), p.endpointZones(&r.To)...) {
			mentioned[z] = true
		}
		if r.From.Any && r.To.Any && r.Action == ActionAllow && !r.Cleanup {
			what := ""
			if r.Proto != ProtoAny {
				what = " (" + ProtoName(r.Proto) + ")"
			}
			warn(r.Line, r.Col, "rule %s allows any to any%s; mark it cleanup: true if it is the catch-all, or narrow it", r.Name, what)
		}
		if r.Cleanup && r.Action == ActionAllow {
			if enf := p.cleanupEnforced(i); len(enf) > 0 {
				warn(r.Line, r.Col, "the cleanup rule %s makes enforce allow everything: %s %s in enforce mode; remove it (or make it deny) before enforcing",
					r.Name, strings.Join(enf, ", "), map[bool]string{true: "is", false: "are"}[len(enf) == 1])
			}
			if !r.Log {
				warn(r.Line, r.Col, "the cleanup rule %s has log: false, so nothing shows what it still catches", r.Name)
			}
		}
		if c := r.App; c != nil {
			for _, msg := range c.Cond.Lint() {
				warn(c.Line, c.Col, "rule %s: %s", r.Name, msg)
			}
			if r.OnViolation == ViolationReset && r.Proto == ProtoUDP {
				warn(c.Line, c.Col, "rule %s: on_violation reset needs TCP; refused UDP requests are dropped", r.Name)
			}
		}
		if r.Action != ActionAllow {
			continue // denying across levels is exactly right
		}
		if msg := p.purdueCrossing(r, hasDMZ); msg != "" {
			warn(r.Line, r.Col, "rule %s: %s", r.Name, msg)
		}
	}
	for i := range p.Zones {
		if !mentioned[i+1] {
			z := &p.Zones[i]
			warn(z.Line, z.Col, "zone %s is not used by any rule; its traffic only meets catch-all rules and the default", z.Name)
		}
	}
	ws = append(ws, p.shadowed(file)...)
	return ws
}

// cleanupEnforced lists what is in enforce among the traffic the
// allowing cleanup rule i would catch: its conduit's mode (a scoped rule),
// or the global mode and the enforced conduits that no scoped cleanup rule
// and no deny of the whole pair above it already catch (a global rule).
func (p *Policy) cleanupEnforced(i int) []string {
	r := &p.Rules[i]
	var enf []string
	if !(r.From.Any && r.To.Any) {
		from, to := r.From.Zones[0], r.To.Zones[0]
		for _, c := range p.Conduits {
			if c.FromID == from && c.ToID == to {
				if c.Mode == ModeEnforce {
					enf = append(enf, fmt.Sprintf("conduit %s -> %s (line %d)", c.From, c.To, c.Line))
				}
				return enf
			}
		}
		if p.Mode == ModeEnforce {
			enf = append(enf, "the global mode")
		}
		return enf
	}
	if p.Mode == ModeEnforce {
		enf = append(enf, "the global mode")
	}
	for _, c := range p.Conduits {
		if c.Mode == ModeEnforce && !p.pairCaught(c.FromID, c.ToID, i) {
			enf = append(enf, fmt.Sprintf("conduit %s -> %s (line %d)", c.From, c.To, c.Line))
		}
	}
	return enf
}

// pairCaught reports whether a rule above rule i takes every flow from
// zone a to zone b: a scoped cleanup rule of the pair, or a deny of
// the whole pair with nothing else to match.
func (p *Policy) pairCaught(a, b ZoneID, i int) bool {
	covers := func(e *Endpoint, z ZoneID) bool {
		return e.Any || slices.Contains(e.Zones, z)
	}
	for j := range p.Rules[:i] {
		q := &p.Rules[j]
		whole := q.Proto == ProtoAny && len(q.SPorts)+len(q.DPorts)+len(q.ICMPTypes) == 0 && q.App == nil
		if whole && covers(&q.From, a) && covers(&q.To, b) && (q.Action == ActionDeny || q.Cleanup) {
			return true
		}
	}
	return false
}

// purdueRank orders levels; with a DMZ in the policy, 3.5 is a level of its
// own, so enterprise (4) to operations (3) skips it.
func purdueRank(level string, hasDMZ bool) int {
	switch level {
	case "0", "1", "2", "3":
		return int(level[0] - '0')
	case "3.5", "dmz":
		return 4
	case "4", "5":
		r := int(level[0] - '0')
		if hasDMZ {
			r++
		}
		return r
	}
	return -1
}

// purdueCrossing describes the first zone pair of r that jumps more than
// one Purdue level, or returns "".
func (p *Policy) purdueCrossing(r *Rule, hasDMZ bool) string {
	from, to := p.endpointZones(&r.From), p.endpointZones(&r.To)
	for _, a := range from {
		for _, b := range to {
			za, zb := &p.Zones[a-1], &p.Zones[b-1]
			ra, rb := purdueRank(za.Level, hasDMZ), purdueRank(zb.Level, hasDMZ)
			if ra < 0 || rb < 0 || ra-rb <= 1 && rb-ra <= 1 {
				continue
			}
			hi, lo := za, zb
			if rb > ra {
				hi, lo = zb, za
			}
			if hasDMZ && !hi.IsDMZ() && !lo.IsDMZ() && (hi.Level == "4" || hi.Level == "5") {
				return fmt.Sprintf("%s (level %s) to %s (level %s) goes straight from level %s to level %s without passing the DMZ",
					za.Name, za.Level, zb.Name, zb.Level, hi.Level, lo.Level)
			}
			return fmt.Sprintf("%s (level %s) to %s (level %s) crosses more than one Purdue level in one hop",
				za.Name, za.Level, zb.Name, zb.Level)
		}
	}
	return ""
}

// endpointZones lists the known zones an endpoint names, directly or by a
// CIDR lying wholly in one zone.
func (p *Policy) endpointZones(e *Endpoint) []ZoneID {
	var out []ZoneID
	for _, z := range e.Zones {
		if z != ZoneUnknown {
			out = append(out, z)
		}
	}
	for _, c := range e.CIDRs {
		if z, uniform := p.prefixZone(c); uniform && z != ZoneUnknown {
			out = append(out, z)
		}
	}
	return out
}

// prefixZone returns the zone owning c's addresses (by longest prefix) and
// whether every address of c belongs to it.
func (p *Policy) prefixZone(c netip.Prefix) (ZoneID, bool) {
	zone, best := ZoneUnknown, -1
	for i := range p.Zones {
		for _, zc := range p.Zones[i].CIDRs {
			if zc.Bits() <= c.Bits() && zc.Bits() > best && zc.Contains(c.Addr()) {
				zone, best = ZoneID(i+1), zc.Bits()
			}
		}
	}
	for i := range p.Zones {
		for _, zc := range p.Zones[i].CIDRs {
			if zc.Bits() > c.Bits() && c.Contains(zc.Addr()) && ZoneID(i+1) != zone {
				return zone, false
			}
		}
	}
	return zone, true
}

// shadowed warns about rules that can never match because an earlier rule
// matches every packet they would. Candidates come from the compiled index
// (the earlier rules matching one packet of the later rule), then each is
// checked exactly, so the work stays near-linear in the number of rules.
func (p *Policy) shadowed(file string) []Diagnostic {
	m := p.matcher
	if m == nil || m.words == 0 {
		return nil
	}
	var ws []Diagnostic
	w := m.words
	cand := make([]uint64, w)
	for i := 1; i < len(p.Rules); i++ {
		b := &p.Rules[i]
		for k := range cand {
			cand[k] = ^uint64(0)
		}
		and := func(x []uint64) {
			for k := range cand {
				cand[k] &= x[k]
			}
		}
		and(classBits(m.svc, m.serviceClass(b), w))
		sp := 0
		if m.sport != nil {
			sp = int(m.sport[firstPort(b.SPorts)])
		}
		and(classBits(m.sportBits, sp, w))
		p.endpointCandidates(cand, &b.From, m.srcZone, &m.srcCIDR, m.srcCIDRBits, m.srcHasCIDR)
		p.endpointCandidates(cand, &b.To, m.dstZone, &m.dstCIDR, m.dstCIDRBits, m.dstHasCIDR)
	scan:
		for k := 0; k <= (i-1)>>6; k++ {
			for x := cand[k]; x != 0; x &= x - 1 {
				j := k<<6 + bits.TrailingZeros64(x)
				if j >= i {
					break scan
				}
				if a := &p.Rules[j]; p.covers(a, b) {
					why := ""
					if a.App != nil {
						why = fmt.Sprintf(" (flows are matched by addresses and ports; %s's %s condition then judges their requests and does not hand refused ones to later rules)", a.Name, a.App.Proto)
					}
					ws = append(ws, Diagnostic{File: file, Line: b.Line, Col: b.Col, Warning: true,
						Msg: fmt.Sprintf("rule %s can never match: rule %s (line %d) above it matches everything it does%s", b.Name, a.Name, a.Line, why)})
					break scan
				}
			}
		}
	}
	return ws
}

func classBits(t bitTable, c, w int) []uint64 { return t.row(c, w) }

// serviceClass returns the service class of one packet rule b matches
// (its protocol with its first port or type): every rule covering b must
// be in it.
func (m *matcher) serviceClass(b *Rule) int {
	switch b.Proto {
	case ProtoTCP:
		return int(m.svcTCP[firstPort(b.DPorts)])
	case ProtoUDP:
		return int(m.svcUDP[firstPort(b.DPorts)])
	case ProtoICMP, ProtoICMPv6:
		t := uint8(0)
		if len(b.ICMPTypes) > 0 {
			t = b.ICMPTypes[0]
		}
		if b.Proto == ProtoICMP {
			return int(m.svcICMP[t])
		}
		return int(m.svcICMPv6[t])
	}
	return int(m.svcOther[255]) // a protocol no rule names: only "any" rules
}

func firstPort(rs []PortRange) uint16 {
	if len(rs) == 0 {
		return 0
	}
	return rs[0].Lo
}

// endpointCandidates narrows cand to rules whose side could cover e: they
// must at least match one address of e.
func (p *Policy) endpointCandidates(cand []uint64, e *Endpoint, zoneBits bitTable, t *rangeTable, cidrBits bitTable, hasCIDR bool) {
	w := len(cand)
	m := p.matcher
	var zc int
	var addr netip.Addr
	switch {
	case e.Any:
		zc = m.zones + 1 // only "any" rules
	case len(e.Zones) > 0:
		zc = int(e.Zones[0])
		if zc != 0 {
			addr = p.Zones[zc-1].CIDRs[0].Addr()
		}
	case len(e.CIDRs) > 0:
		addr = e.CIDRs[0].Addr()
		zc = int(p.Zone(addr))
	}
	zb := classBits(zoneBits, zc, w)
	var cb []uint64
	if hasCIDR && addr.IsValid() {
		cb = classBits(cidrBits, int(t.lookup(addr)), w)
	}
	for k := range cand {
		x := zb[k]
		if cb != nil {
			x |= cb[k]
		}
		cand[k] &= x
	}
}

// covers reports whether rule a matches every packet rule b matches.
func (p *Policy) covers(a, b *Rule) bool {
	if a.Proto != ProtoAny && a.Proto != b.Proto {
		return false
	}
	return coverRanges(a.SPorts, b.SPorts, 65535) &&
		coverRanges(a.DPorts, b.DPorts, 65535) &&
		coverRanges(icmpRanges(a), icmpRanges(b), 255) &&
		p.coversEndpoint(&a.From, &b.From) &&
		p.coversEndpoint(&a.To, &b.To)
}

// coverRanges reports whether condition a (empty: anything) holds for
// every value of condition b (empty: 0..max).
func coverRanges(a, b []PortRange, max uint16) bool {
	if len(a) == 0 {
		return true
	}
	if len(b) == 0 {
		b = []PortRange{{Lo: 0, Hi: max}}
	}
	ma := mergeRanges(a)
next:
	for _, r := range b {
		for _, x := range ma {
			if x.Lo <= r.Lo && r.Hi <= x.Hi {
				continue next
			}
		}
		return false
	}
	return true
}

func (p *Policy) coversEndpoint(a, b *Endpoint) bool {
	if a.Any {
		return true
	}
	if b.Any {
		return false
	}
	for _, z := range b.Zones {
		if slices.Contains(a.Zones, z) {
			continue
		}
		if z == ZoneUnknown {
			return false
		}
		for _, zc := range p.Zones[z-1].CIDRs {
			if !prefixIn(zc, a.CIDRs) {
				return false
			}
		}
	}
	for _, c := range b.CIDRs {
		if prefixIn(c, a.CIDRs) {
			continue
		}
		if z, uniform := p.prefixZone(c); !uniform || !slices.Contains(a.Zones, z) {
			return false
		}
	}
	return true
}

// prefixIn reports whether c lies within one of ps.
func prefixIn(c netip.Prefix, ps []netip.Prefix) bool {
	for _, x := range ps {
		if x.Bits() <= c.Bits() && x.Contains(c.Addr()) {
			return true
		}
	}
	return false
}
