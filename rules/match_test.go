package rules

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// naiveMatch is the specification of Match: a linear first-match scan.
func naiveMatch(p *Policy, q *Query) int {
	for i := range p.Rules {
		if naiveRuleMatches(&p.Rules[i], q) {
			return i
		}
	}
	return len(p.Rules)
}

func naiveRuleMatches(r *Rule, q *Query) bool {
	return naiveEndpoint(&r.From, q.SrcZone, q.Src) &&
		naiveEndpoint(&r.To, q.DstZone, q.Dst) &&
		(r.Proto == ProtoAny || r.Proto == q.Proto) &&
		inRanges(r.SPorts, q.SrcPort) &&
		inRanges(r.DPorts, q.DstPort) &&
		inTypes(r.ICMPTypes, q.ICMPType)
}

func naiveEndpoint(e *Endpoint, z ZoneID, a netip.Addr) bool {
	return e.Any || slices.Contains(e.Zones, z) ||
		slices.ContainsFunc(e.CIDRs, func(c netip.Prefix) bool { return c.Contains(a.Unmap()) })
}

// inRanges and inTypes: an empty list matches every value.
func inRanges(rs []PortRange, v uint16) bool {
	return len(rs) == 0 || slices.ContainsFunc(rs, func(r PortRange) bool { return r.Lo <= v && v <= r.Hi })
}

func inTypes(ts []uint8, v uint8) bool { return len(ts) == 0 || slices.Contains(ts, v) }

// naiveZone is the specification of Zone: the longest prefix over all zones.
func naiveZone(p *Policy, a netip.Addr) ZoneID {
	a = a.Unmap()
	best, id := -1, ZoneUnknown
	for i, z := range p.Zones {
		for _, c := range z.CIDRs {
			if c.Contains(a) && c.Bits() > best {
				best, id = c.Bits(), ZoneID(i+1)
			}
		}
	}
	return id
}

// gen makes random policies and packets over a small address and port
// universe, so prefixes nest and collide and packets hit rule edges.
type gen struct{ r *rand.Rand }

var genPorts = []uint16{0, 1, 22, 53, 80, 102, 443, 502, 1023, 1024, 20000, 44818, 65534, 65535}

func (g gen) addr(v6 bool) netip.Addr {
	if v6 {
		var b [16]byte
		b[0], b[1] = 0xfd, 0x00
		b[2] = byte(g.r.IntN(3))
		b[15] = byte(g.r.IntN(8))
		b[8] = byte(g.r.IntN(2)) << 7
		return netip.AddrFrom16(b)
	}
	return netip.AddrFrom4([4]byte{10, byte(g.r.IntN(4)), byte(g.r.IntN(4)), byte(g.r.IntN(8) * 33)})
}

func (g gen) prefix() netip.Prefix {
	if g.r.IntN(4) == 0 {
		bits := []int{0, 8, 16, 24, 56, 64, 120, 126, 128}[g.r.IntN(9)]
		return netip.PrefixFrom(g.addr(true), bits).Masked()
	}
	bits := []int{0, 8, 12, 14, 16, 22, 24, 26, 30, 32}[g.r.IntN(10)]
	return netip.PrefixFrom(g.addr(false), bits).Masked()
}

func (g gen) port() uint16 {
	if g.r.IntN(5) == 0 {
		return uint16(g.r.IntN(65536))
	}
	p := int(genPorts[g.r.IntN(len(genPorts))]) + g.r.IntN(3) - 1
	return uint16(min(max(p, 0), 65535))
}

func (g gen) ports() []PortRange {
	n := 1 + g.r.IntN(3)
	var out []PortRange
	for range n {
		a, b := g.port(), g.port()
		if g.r.IntN(2) == 0 {
			b = a
		}
		out = append(out, PortRange{Lo: min(a, b), Hi: max(a, b)})
	}
	return out
}

func (g gen) endpoint(nz int) Endpoint {
	if g.r.IntN(5) == 0 {
		return Endpoint{Any: true, Items: []string{"any"}}
	}
	var e Endpoint
	for range 1 + g.r.IntN(3) {
		if g.r.IntN(2) == 0 {
			e.Zones = append(e.Zones, ZoneID(g.r.IntN(nz+1)))
		} else {
			e.CIDRs = append(e.CIDRs, g.prefix())
		}
	}
	return e
}

func (g gen) policy(maxRules int) *Policy {
	p := &Policy{Mode: ModeMonitor}
	used := map[netip.Prefix]bool{}
	nz := g.r.IntN(9)
	for i := range nz {
		z := Zone{Name: fmt.Sprintf("z%d", i), Level: levels[g.r.IntN(len(levels))]}
		for range 1 + g.r.IntN(3) {
			c := g.prefix()
			if !used[c] {
				used[c] = true
				z.CIDRs = append(z.CIDRs, c)
			}
		}
		if len(z.CIDRs) == 0 {
			// every zone needs one CIDR; a host prefix in a private range
			// of its own cannot collide.
			z.CIDRs = []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(i), 1}), 32)}
		}
		p.Zones = append(p.Zones, z)
	}
	protos := []uint8{ProtoAny, ProtoTCP, ProtoUDP, ProtoICMP, ProtoICMPv6}
	n := g.r.IntN(maxRules + 1)
	for i := range n {
		r := Rule{Name: fmt.Sprintf("r%d", i), Log: true, From: g.endpoint(nz), To: g.endpoint(nz)}
		r.Proto = protos[g.r.IntN(len(protos))]
		if r.Proto == ProtoTCP || r.Proto == ProtoUDP {
			if g.r.IntN(2) == 0 {
				r.DPorts = g.ports()
			}
			if g.r.IntN(4) == 0 {
				r.SPorts = g.ports()
			}
		}
		if (r.Proto == ProtoICMP || r.Proto == ProtoICMPv6) && g.r.IntN(2) == 0 {
			for range 1 + g.r.IntN(3) {
				r.ICMPTypes = append(r.ICMPTypes, uint8(g.r.IntN(4)*4))
			}
		}
		if g.r.IntN(3) == 0 {
			r.Action = ActionDeny
		}
		p.Rules = append(p.Rules, r)
	}
	return p
}

// addrIn returns a random address inside c.
func (g gen) addrIn(c netip.Prefix) netip.Addr {
	b := c.Addr().As16()
	off := 0
	if c.Addr().Is4() {
		off = 12
	}
	for i := c.Bits() + off*8; i < 128; i++ {
		if g.r.IntN(2) == 0 {
			b[i/8] |= 1 << (7 - i%8)
		}
	}
	a := netip.AddrFrom16(b)
	if c.Addr().Is4() {
		a = a.Unmap()
	}
	return a
}

func (g gen) queryAddr(p *Policy) netip.Addr {
	var a netip.Addr
	switch k := g.r.IntN(4); {
	case k == 0 && len(p.Zones) > 0:
		z := p.Zones[g.r.IntN(len(p.Zones))]
		a = g.addrIn(z.CIDRs[g.r.IntN(len(z.CIDRs))])
	case k == 1 && len(p.Rules) > 0:
		r := p.Rules[g.r.IntN(len(p.Rules))]
		if len(r.From.CIDRs) > 0 {
			a = g.addrIn(r.From.CIDRs[0])
		} else {
			a = g.addr(g.r.IntN(4) == 0)
		}
	default:
		a = g.addr(g.r.IntN(4) == 0)
	}
	if a.Is4() && g.r.IntN(8) == 0 {
		a = netip.AddrFrom16(a.As16()) // v4-mapped
	}
	return a
}

func (g gen) query(p *Policy) Query {
	q := Query{Src: g.queryAddr(p), Dst: g.queryAddr(p)}
	q.Proto = []uint8{ProtoTCP, ProtoUDP, ProtoICMP, ProtoICMPv6, 47, 0, uint8(g.r.IntN(256))}[g.r.IntN(7)]
	q.SrcPort, q.DstPort = g.port(), g.port()
	q.ICMPType = uint8(g.r.IntN(14))
	p.SetZones(&q)
	if g.r.IntN(20) == 0 {
		// Match must agree with the spec even for zone IDs it did not hand out.
		q.SrcZone = ZoneID(g.r.IntN(len(p.Zones) + 3))
	}
	return q
}

func differential(t *testing.T, seed uint64, policies, queries int) {
	g := gen{rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	cases := 0
	for pi := range policies {
		maxRules := 40
		if pi%10 == 0 {
			maxRules = 300 // several bitset words
		}
		p := g.policy(maxRules)
		if err := p.compile(); err != nil {
			t.Fatalf("seed %d policy %d: compile: %v", seed, pi, err)
		}
		for range queries {
			q := g.query(p)
			for _, a := range []netip.Addr{q.Src, q.Dst} {
				if got, want := p.Zone(a), naiveZone(p, a); got != want {
					t.Fatalf("seed %d policy %d: Zone(%v) = %d, want %d\nzones: %+v", seed, pi, a, got, want, p.Zones)
				}
			}
			if got, want := p.Match(&q), naiveMatch(p, &q); got != want {
				t.Fatalf("seed %d policy %d: Match(%+v) = %d, want %d\nrules: %+v", seed, pi, q, got, want, p.Rules)
			}
			cases++
		}
	}
	if cases < 100000 {
		t.Fatalf("only %d cases", cases)
	}
}

func TestMatchDifferentialFixedSeed(t *testing.T) {
	differential(t, 1, 1000, 100)
}

func TestMatchDifferentialRandomSeed(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	differential(t, seed, 1000, 100)
}

// TestShadowSound checks that every "can never match" warning is true: for
// random packets, whenever the shadowed rule matches, its shadower does too.
func TestShadowSound(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	g := gen{rand.New(rand.NewPCG(seed, 7))}
	found := 0
	for pi := range 1500 {
		p := g.policy(30)
		if err := p.compile(); err != nil {
			t.Fatal(err)
		}
		ws := p.shadowed("x")
		type pair struct{ a, b *Rule }
		var pairs []pair
		for _, w := range ws {
			var an, bn string
			var line int
			if _, err := fmt.Sscanf(w.Msg, "rule %s can never match: rule %s (line %d)", &bn, &an, &line); err != nil {
				t.Fatalf("unexpected message %q", w.Msg)
			}
			pairs = append(pairs, pair{ruleByName(p, an), ruleByName(p, bn)})
		}
		found += len(pairs)
		for range 200 {
			q := g.query(p)
			p.SetZones(&q) // shadowing assumes zones come from addresses
			for _, pr := range pairs {
				if naiveRuleMatches(pr.b, &q) && !naiveRuleMatches(pr.a, &q) {
					t.Fatalf("seed %d policy %d: %s said to shadow %s, but only %s matches %+v", seed, pi, pr.a.Name, pr.b.Name, pr.b.Name, q)
				}
			}
		}
	}
	if found == 0 {
		t.Fatal("no shadowed rules found in random policies; the test is not exercising anything")
	}
}

func ruleByName(p *Policy, n string) *Rule {
	for i := range p.Rules {
		if p.Rules[i].Name == n {
			return &p.Rules[i]
		}
	}
	panic("no rule " + n)
}

func mustParse(t testing.TB, src string) *Policy {
	t.Helper()
	p, err := Parse("t.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

// mustFail parses src, which must fail with diagnostics, and returns them.
func mustFail(t testing.TB, name, src string) *Errors {
	t.Helper()
	_, err := Parse(name, []byte(src))
	var errs *Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse = %v, want *Errors", err)
	}
	return errs
}

// wantOneError asserts that src fails with exactly one diagnostic, and
// that it contains want.
func wantOneError(t testing.TB, src, want string) {
	t.Helper()
	if errs := mustFail(t, "t.yaml", src); len(errs.List) != 1 || !strings.Contains(errs.List[0].String(), want) {
		t.Errorf("errors:\n%v\nwant one containing %q", errs, want)
	}
}

const nestedZones = `
mode: monitor
zones:
  site:  {level: 3, cidrs: [10.0.0.0/8, "fd00::/8"]}
  cell:  {level: 2, cidrs: [10.1.0.0/16]}
  plc:   {level: 1, cidrs: [10.1.2.0/24, 10.1.2.9]}
conduits:
  - {from: cell, to: plc, mode: enforce}
rules:
  - {name: to-site, from: any, to: site, proto: tcp, dport: 22}
  - {name: to-cell, from: any, to: cell}
  - {name: host, from: any, to: 10.1.2.9/32, proto: udp}
  - {name: to-plc, from: any, to: plc, proto: udp}
default: deny
`

func TestZoneAndMatchSemantics(t *testing.T) {
	p := mustParse(t, nestedZones)
	zone := func(s string) string { return p.ZoneName(p.Zone(netip.MustParseAddr(s))) }
	for addr, want := range map[string]string{
		"10.9.9.9": "site", "10.1.9.9": "cell", "10.1.2.3": "plc", "10.1.2.9": "plc",
		"::ffff:10.1.2.3": "plc", "fd00::1": "site", "192.168.1.1": "unknown", "fe80::1": "unknown",
	} {
		if got := zone(addr); got != want {
			t.Errorf("Zone(%s) = %s, want %s", addr, got, want)
		}
	}
	cases := []struct {
		dst   string
		proto uint8
		dport uint16
		want  string
	}{
		{"10.9.9.9", ProtoTCP, 22, "to-site"},
		{"10.1.9.9", ProtoTCP, 22, "to-cell"}, // cell is more specific than site: to-site does not match
		{"10.1.2.3", ProtoTCP, 22, "default"}, // plc is nested in both
		{"10.1.2.3", ProtoUDP, 53, "to-plc"},
		{"10.1.2.9", ProtoUDP, 53, "host"}, // CIDR matches whatever the zone
		{"192.168.0.1", ProtoTCP, 22, "default"},
	}
	for _, c := range cases {
		q := Query{Src: netip.MustParseAddr("10.5.5.5"), Dst: netip.MustParseAddr(c.dst), Proto: c.proto, SrcPort: 40000, DstPort: c.dport}
		p.SetZones(&q)
		i := p.Match(&q)
		if got := p.RuleName(i); got != c.want {
			t.Errorf("%s %s/%d: matched %s, want %s", c.dst, ProtoName(c.proto), c.dport, got, c.want)
		}
		if i == len(p.Rules) && p.ActionOf(i) != ActionDeny {
			t.Errorf("default action = %v", p.ActionOf(i))
		}
	}
	cell, _ := p.ZoneByName("cell")
	plc, _ := p.ZoneByName("plc")
	if m := p.ModeFor(cell, plc); m != ModeEnforce {
		t.Errorf("ModeFor(cell, plc) = %v", m)
	}
	if m := p.ModeFor(plc, cell); m != ModeMonitor {
		t.Errorf("ModeFor(plc, cell) = %v, want the global mode (conduits are directional)", m)
	}
}

func TestEmptyPolicyMatchesDefault(t *testing.T) {
	var p Policy
	q := Query{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2")}
	if p.Zone(q.Src) != ZoneUnknown || p.Match(&q) != 0 || p.RuleName(0) != "default" {
		t.Fatal("zero Policy must put everything in unknown and match default")
	}
}

func TestNoAllocs(t *testing.T) {
	p := mustParse(t, nestedZones)
	qs := []Query{
		{Src: netip.MustParseAddr("10.1.9.9"), Dst: netip.MustParseAddr("10.1.2.3"), Proto: ProtoTCP, SrcPort: 40000, DstPort: 502},
		{Src: netip.MustParseAddr("fd00::1"), Dst: netip.MustParseAddr("fd00::2"), Proto: ProtoUDP, DstPort: 53},
		{Src: netip.MustParseAddr("::ffff:10.1.2.9"), Dst: netip.MustParseAddr("10.1.2.9"), Proto: ProtoICMP, ICMPType: 8},
	}
	bp := benchPolicy(1000, 1)
	bq := benchQueries(bp, 64, 2)
	n := testing.AllocsPerRun(1000, func() {
		for i := range qs {
			q := &qs[i]
			q.SrcZone, q.DstZone = p.Zone(q.Src), p.Zone(q.Dst)
			_ = p.ActionOf(p.Match(q))
			_ = p.ModeFor(q.SrcZone, q.DstZone)
		}
		for i := range bq {
			bp.SetZones(&bq[i])
			_ = bp.Match(&bq[i])
		}
	})
	if n != 0 {
		t.Fatalf("Zone+Match allocate %v times per run", n)
	}
}

// TestConcurrentMatch runs many readers at once; with -race it proves the
// packet path shares no mutable state.
func TestConcurrentMatch(t *testing.T) {
	p := benchPolicy(500, 3)
	qs := benchQueries(p, 256, 4)
	want := make([]int, len(qs))
	for i := range qs {
		want[i] = naiveMatch(p, &qs[i])
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 2000 {
				i := (k*7 + w) % len(qs)
				q := qs[i] // private copy
				p.SetZones(&q)
				if got := p.Match(&q); got != want[i] {
					t.Errorf("query %d: %d, want %d", i, got, want[i])
					return
				}
			}
		}()
	}
	wg.Wait()
}

// benchPolicy builds a plant-like policy with n rules: 32 zones of a /24,
// rules between zones and hosts on service ports, a few deny rules.
func benchPolicy(n int, seed uint64) *Policy {
	r := rand.New(rand.NewPCG(seed, 99))
	p := &Policy{Mode: ModeMonitor}
	for i := range 32 {
		p.Zones = append(p.Zones, Zone{Name: fmt.Sprintf("z%d", i), Level: levels[i%len(levels)],
			CIDRs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 24)}})
	}
	side := func() Endpoint {
		if r.IntN(3) == 0 {
			z := r.IntN(32)
			return Endpoint{CIDRs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(z), 0, byte(r.IntN(256))}), 32)}}
		}
		return Endpoint{Zones: []ZoneID{ZoneID(1 + r.IntN(32))}}
	}
	for i := range n {
		rl := Rule{Name: fmt.Sprintf("r%d", i), Log: true, From: side(), To: side()}
		rl.Proto = []uint8{ProtoTCP, ProtoTCP, ProtoUDP, ProtoICMP}[r.IntN(4)]
		if rl.Proto != ProtoICMP {
			port := uint16(1 + r.IntN(1000))
			if r.IntN(2) == 0 {
				port = genPorts[1+r.IntN(len(genPorts)-2)]
			}
			rl.DPorts = []PortRange{{Lo: port, Hi: port}}
		}
		if r.IntN(10) == 0 {
			rl.Action = ActionDeny
		}
		p.Rules = append(p.Rules, rl)
	}
	if err := p.compile(); err != nil {
		panic(err)
	}
	return p
}

// benchQueries returns packets of which about half satisfy some rule's
// conditions (not necessarily matching it first) and half are random.
func benchQueries(p *Policy, n int, seed uint64) []Query {
	r := rand.New(rand.NewPCG(seed, 5))
	pick := func(e Endpoint) netip.Addr {
		if len(e.CIDRs) > 0 {
			return e.CIDRs[0].Addr()
		}
		return netip.AddrFrom4([4]byte{10, byte(e.Zones[0] - 1), 0, byte(r.IntN(256))})
	}
	qs := make([]Query, n)
	for i := range qs {
		q := &qs[i]
		if r.IntN(2) == 0 && len(p.Rules) > 0 {
			rl := &p.Rules[r.IntN(len(p.Rules))]
			q.Src, q.Dst, q.Proto = pick(rl.From), pick(rl.To), rl.Proto
			if len(rl.DPorts) > 0 {
				q.DstPort = rl.DPorts[0].Lo
			}
			q.SrcPort = uint16(32768 + r.IntN(28000))
		} else {
			q.Src = netip.AddrFrom4([4]byte{10, byte(r.IntN(40)), 0, byte(r.IntN(256))})
			q.Dst = netip.AddrFrom4([4]byte{10, byte(r.IntN(40)), 0, byte(r.IntN(256))})
			q.Proto = []uint8{ProtoTCP, ProtoUDP, ProtoICMP}[r.IntN(3)]
			q.SrcPort, q.DstPort = uint16(r.IntN(65536)), uint16(r.IntN(1024))
		}
		p.SetZones(q)
	}
	return qs
}

func BenchmarkMatch(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		p := benchPolicy(n, 1)
		qs := benchQueries(p, 1024, 2)
		miss := make([]Query, 0, len(qs))
		for _, q := range qs {
			if naiveMatch(p, &q) == len(p.Rules) {
				miss = append(miss, q)
			}
		}
		b.Run(fmt.Sprintf("rules=%d/mixed", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p.Match(&qs[i&1023])
				i++
			}
		})
		b.Run(fmt.Sprintf("rules=%d/default", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p.Match(&miss[i%len(miss)])
				i++
			}
		})
		b.Run(fmt.Sprintf("rules=%d/zones+match", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				q := &qs[i&1023]
				q.SrcZone, q.DstZone = p.Zone(q.Src), p.Zone(q.Dst)
				p.Match(q)
				i++
			}
		})
		b.Run(fmt.Sprintf("rules=%d/naive", n), func(b *testing.B) {
			i := 0
			for b.Loop() {
				naiveMatch(p, &qs[i&1023])
				i++
			}
		})
	}
}

func BenchmarkZone(b *testing.B) {
	p := mustParse(b, nestedZones)
	addrs := []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("fd00::1"), netip.MustParseAddr("192.168.1.1")}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		p.Zone(addrs[i%3])
		i++
	}
}
