package learn

import (
	"encoding/binary"
	"io"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/rules"
)

// Test packets: raw IPv4 with TCP, UDP or ICMP echo.
const (
	tcp  = 6
	udp  = 17
	icmp = 1

	fS = 0x02
	fA = 0x10
	fP = 0x08
	fF = 0x01
)

type tp struct {
	at           time.Duration
	proto        uint8
	src, dst     string
	sport, dport uint16 // ICMP: sport is the echo id
	flags        uint8  // TCP flags; ICMP: the type
	payload      []byte
	seq, ack     uint32 // TCP
}

const t0 = int64(1_700_000_000_000_000_000)

func (p tp) bytes() []byte {
	l4 := map[uint8]int{tcp: 20, udp: 8, icmp: 8}[p.proto]
	b := make([]byte, 20+l4+len(p.payload))
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	b[8], b[9] = 64, p.proto
	s, d := netip.MustParseAddr(p.src).As4(), netip.MustParseAddr(p.dst).As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	l := b[20:]
	switch p.proto {
	case tcp:
		binary.BigEndian.PutUint16(l[0:], p.sport)
		binary.BigEndian.PutUint16(l[2:], p.dport)
		binary.BigEndian.PutUint32(l[4:], p.seq)
		binary.BigEndian.PutUint32(l[8:], p.ack)
		l[12], l[13] = 5<<4, p.flags
	case udp:
		binary.BigEndian.PutUint16(l[0:], p.sport)
		binary.BigEndian.PutUint16(l[2:], p.dport)
		binary.BigEndian.PutUint16(l[4:], uint16(8+len(p.payload)))
	case icmp:
		l[0] = p.flags
		binary.BigEndian.PutUint16(l[4:], p.sport)
	}
	copy(b[20+l4:], p.payload)
	return b
}

func learnAll(pkts []tp) *Matrix {
	l := NewLearner()
	for _, p := range pkts {
		l.Packet(t0+int64(p.at), p.bytes())
	}
	return l.Matrix()
}

// learnCapture learns the capture (pcap or pcapng) read from data, as
// `conduit learn` does a file called name.
func learnCapture(tb testing.TB, name string, data io.Reader) *Matrix {
	tb.Helper()
	r, err := capture.NewReader(data)
	if err != nil {
		tb.Fatal(err)
	}
	l := NewLearner()
	if err := l.Capture(name, r); err != nil {
		tb.Fatal(err)
	}
	return l.Matrix()
}

func key(client, server string, proto uint8, port uint16) ServiceKey {
	return ServiceKey{netip.MustParseAddr(client), netip.MustParseAddr(server), proto, port}
}

func TestOrientation(t *testing.T) {
	cases := []struct {
		name string
		pkts []tp
		want ServiceKey
	}{
		{"syn opens", []tp{{proto: tcp, src: "10.0.0.1", dst: "10.0.0.2", sport: 50000, dport: 9999, flags: fS}}, key("10.0.0.1", "10.0.0.2", tcp, 9999)},
		{"syn-ack first: its receiver is the client", []tp{{proto: tcp, src: "10.0.0.2", dst: "10.0.0.1", sport: 9999, dport: 50000, flags: fS | fA}}, key("10.0.0.1", "10.0.0.2", tcp, 9999)},
		{"mid-stream from the server's known port", []tp{{proto: tcp, src: "10.0.0.2", dst: "10.0.0.1", sport: 502, dport: 50000, flags: fA | fP}}, key("10.0.0.1", "10.0.0.2", tcp, 502)},
		{"mid-stream: system port over registered", []tp{{proto: tcp, src: "10.0.0.2", dst: "10.0.0.1", sport: 7000, dport: 999, flags: fA}}, key("10.0.0.2", "10.0.0.1", tcp, 999)},
		{"mid-stream: registered over ephemeral", []tp{{proto: tcp, src: "10.0.0.2", dst: "10.0.0.1", sport: 7000, dport: 55555, flags: fA}}, key("10.0.0.1", "10.0.0.2", tcp, 7000)},
		{"udp reply first", []tp{{proto: udp, src: "10.0.0.5", dst: "10.0.0.1", sport: 53, dport: 40000}}, key("10.0.0.1", "10.0.0.5", udp, 53)},
		{"udp symmetric: first sender is the client", []tp{{proto: udp, src: "10.0.0.9", dst: "10.0.0.1", sport: 123, dport: 123}}, key("10.0.0.9", "10.0.0.1", udp, 123)},
		{"icmp as sent", []tp{{proto: icmp, src: "10.0.0.1", dst: "10.0.0.2", sport: 7, flags: 8}}, key("10.0.0.1", "10.0.0.2", icmp, 8)},
		{"icmp reply first keeps its type", []tp{{proto: icmp, src: "10.0.0.2", dst: "10.0.0.1", sport: 7, flags: 0}}, key("10.0.0.2", "10.0.0.1", icmp, 0)},
	}
	for _, tc := range cases {
		m := learnAll(tc.pkts)
		if m.Lookup(tc.want) == nil {
			var got []ServiceKey
			for _, s := range m.Services() {
				got = append(got, s.ServiceKey)
			}
			t.Errorf("%s: services %v, want %v", tc.name, got, tc.want)
		}
	}
	m := learnAll(cases[5].pkts)
	if s := m.Lookup(cases[5].want); s.ReversedStarts != 1 || s.ToClient != 1 || s.ToServer != 0 {
		t.Errorf("udp reply first: %+v", s)
	}
}

func TestFlowsAndGaps(t *testing.T) {
	c, s := "10.0.0.1", "10.0.0.2"
	m := learnAll([]tp{
		{at: 0, proto: tcp, src: c, dst: s, sport: 50000, dport: 502, flags: fS},
		{at: time.Millisecond, proto: tcp, src: s, dst: c, sport: 502, dport: 50000, flags: fS | fA},
		{at: 2 * time.Millisecond, proto: tcp, src: c, dst: s, sport: 50000, dport: 502, flags: fA},
		{at: 2 * time.Hour, proto: tcp, src: s, dst: c, sport: 502, dport: 50000, flags: fA | fP}, // gap 2h
		{at: 2*time.Hour + time.Second, proto: tcp, src: c, dst: s, sport: 50000, dport: 502, flags: fF | fA},
		{at: 2*time.Hour + 2*time.Second, proto: tcp, src: s, dst: c, sport: 502, dport: 50000, flags: fF | fA},
		// The port pair again, a day later: a new connection, not a gap.
		{at: 26 * time.Hour, proto: tcp, src: c, dst: s, sport: 50000, dport: 502, flags: fS},
		{at: 26*time.Hour + time.Millisecond, proto: tcp, src: s, dst: c, sport: 502, dport: 50000, flags: fS | fA},
		// A retransmitted SYN is the same connection.
		{at: 27 * time.Hour, proto: tcp, src: c, dst: s, sport: 50001, dport: 502, flags: fS},
		{at: 27*time.Hour + 3*time.Second, proto: tcp, src: c, dst: s, sport: 50001, dport: 502, flags: fS},
	})
	sv := m.Lookup(key(c, s, tcp, 502))
	if sv == nil || sv.Flows != 3 || sv.Packets != 10 || sv.ToServer != 6 || sv.ToClient != 4 {
		t.Fatalf("service %+v", sv)
	}
	if time.Duration(sv.MaxGap) != 2*time.Hour-2*time.Millisecond || sv.MaxGapClientPort != 50000 {
		t.Errorf("max gap %s on port %d", time.Duration(sv.MaxGap), sv.MaxGapClientPort)
	}
	if sv.First != t0 || sv.Last != t0+int64(27*time.Hour+3*time.Second) {
		t.Errorf("first %d last %d", sv.First-t0, sv.Last-t0)
	}
}

func TestICMPFlowsExpireLikeTheEngine(t *testing.T) {
	m := learnAll([]tp{
		{at: 0, proto: icmp, src: "10.0.0.1", dst: "10.0.0.2", sport: 9, flags: 8},
		{at: time.Millisecond, proto: icmp, src: "10.0.0.2", dst: "10.0.0.1", sport: 9, flags: 0},
		// 40 s later the engine has forgotten the flow: a lone reply is a
		// new flow of type 0 from the replier.
		{at: 40 * time.Second, proto: icmp, src: "10.0.0.2", dst: "10.0.0.1", sport: 9, flags: 0},
	})
	if a, b := m.Lookup(key("10.0.0.1", "10.0.0.2", icmp, 8)), m.Lookup(key("10.0.0.2", "10.0.0.1", icmp, 0)); a == nil || b == nil || a.Packets != 2 || b.Packets != 1 {
		t.Errorf("echo %+v, late reply %+v", a, b)
	}
}

func TestMalformedAndLinkControl(t *testing.T) {
	l := NewLearner()
	l.Packet(t0, []byte{0x45, 0, 0})
	nd := make([]byte, 48)
	nd[0], nd[6], nd[7] = 0x60, 58, 255
	binary.BigEndian.PutUint16(nd[4:], 8)
	nd[8], nd[9] = 0xfe, 0x80
	nd[24], nd[25] = 0xff, 0x02
	nd[40] = 135 // neighbour solicitation
	l.Packet(t0, nd)
	m := l.Matrix()
	if m.Packets != 2 || m.Malformed != 1 || len(m.Services()) != 0 {
		t.Errorf("packets %d malformed %d services %d", m.Packets, m.Malformed, len(m.Services()))
	}
}

func TestFunctions(t *testing.T) {
	m := learnAll([]tp{
		{proto: tcp, src: "10.0.0.1", dst: "10.0.0.2", sport: 50000, dport: 502, flags: fA | fP, payload: append(append([]byte{}, mbRead...), mbWrite...)},
		{proto: tcp, src: "10.0.0.1", dst: "10.0.0.2", sport: 50000, dport: 502, flags: fA | fP, payload: mbRead, seq: 24},
		// A response is not a request.
		{proto: tcp, src: "10.0.0.2", dst: "10.0.0.1", sport: 502, dport: 50000, flags: fA | fP, payload: []byte{0, 1, 0, 0, 0, 5, 1, 3, 2, 0, 0}},
	})
	s := m.Lookup(key("10.0.0.1", "10.0.0.2", tcp, 502))
	if s.Functions["modbus read_holding_registers"] != 2 || s.Functions["modbus write_single_register"] != 1 || len(s.Functions) != 2 {
		t.Errorf("functions %v", s.Functions)
	}
}

func parseDraft(t *testing.T, m *Matrix, cfg DraftConfig) (*rules.Policy, string) {
	t.Helper()
	y, _ := Draft(m, cfg)
	p, err := rules.Parse("draft.yaml", y)
	if err != nil {
		t.Fatalf("draft does not parse: %v\n%s", err, y)
	}
	return p, string(y)
}

// draftHas asserts that the draft y contains every one of want.
func draftHas(t *testing.T, y string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(y, w) {
			t.Errorf("draft lacks %q:\n%s", w, y)
		}
	}
}

func TestDraftSides(t *testing.T) {
	var pkts []tp
	// Two HMIs poll three PLCs each (hosts: two rules, as the PLCs have
	// different clients), seven clients read one historian (more than 6:
	// zone to host), and one ping.
	for i, hmi := range []string{"10.20.0.11", "10.20.0.12"} {
		for j := range 3 {
			plc := "10.10.0." + string(rune('1'+i*3+j))
			pkts = append(pkts, tp{proto: tcp, src: hmi, dst: plc, sport: 50000, dport: 502, flags: fS})
		}
	}
	for i := range 7 {
		pkts = append(pkts, tp{proto: tcp, src: "10.30.0." + string(rune('1'+i)), dst: "10.40.0.10", sport: 50000, dport: 5450, flags: fS})
	}
	pkts = append(pkts,
		tp{proto: tcp, src: "10.20.0.11", dst: "10.10.0.1", sport: 50001, dport: 102, flags: fS},
		tp{proto: tcp, src: "10.20.0.11", dst: "10.10.0.2", sport: 50001, dport: 102, flags: fS},
		tp{proto: tcp, src: "10.20.0.11", dst: "10.10.0.3", sport: 50001, dport: 102, flags: fS},
		tp{proto: icmp, src: "10.20.0.11", dst: "10.10.0.1", sport: 1, flags: 8})
	p, y := parseDraft(t, learnAll(pkts), DraftConfig{HostsPerSide: 6})
	if len(p.Warnings) != 0 {
		t.Errorf("warnings %v\n%s", p.Warnings, y)
	}
	type rule struct{ from, to, ports string }
	var got []rule
	for _, r := range p.Rules {
		got = append(got, rule{r.From.String(), r.To.String(), rules.FormatPorts(r.DPorts)})
	}
	want := []rule{
		// Same sides, two services: one rule with both ports.
		{"10.20.0.11", "[10.10.0.1, 10.10.0.2, 10.10.0.3]", "[102, 502]"},
		{"10.20.0.12", "[10.10.0.4, 10.10.0.5, 10.10.0.6]", "502"},
		{"net-10-30-0", "10.40.0.10", "5450"},
		{"10.20.0.11", "10.10.0.1", "any"},
		// A cleanup rule per conduit the rules serve, then the global one.
		{"net-10-20-0", "net-10-10-0", "any"},
		{"net-10-30-0", "net-10-40-0", "any"},
		{"any", "any", "any"},
	}
	if len(got) != len(want) {
		t.Fatalf("rules %v\n%s", got, y)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("rule %d (%s): %v, want %v", i, p.Rules[i].Name, got[i], want[i])
		}
	}
	last := p.Rules[len(p.Rules)-1]
	if !last.Cleanup || last.Action != rules.ActionDeny || p.Mode != rules.ModeMonitor || p.Default != rules.ActionDeny {
		t.Errorf("cleanup %+v, mode %v", last, p.Mode)
	}
	draftHas(t, y, "level: unknown  # inferred zone", "# evidence: s7-modbus, tcp/102, 502 from 1 client to 3 servers")
}

func TestDraftIdleTimeout(t *testing.T) {
	c, s := "10.0.0.1", "10.0.0.2"
	m := learnAll([]tp{
		// UDP gap 5m: 15m > udp 10m.
		{at: 0, proto: udp, src: c, dst: s, sport: 40000, dport: 161},
		{at: 5 * time.Minute, proto: udp, src: c, dst: s, sport: 40000, dport: 161},
		// UDP gap 2m: 6m, within 10m (another server: rules between the
		// same hosts merge, and take the largest gap).
		{at: 0, proto: udp, src: c, dst: "10.0.0.3", sport: 40001, dport: 514},
		{at: 2 * time.Minute, proto: udp, src: c, dst: "10.0.0.3", sport: 40001, dport: 514},
		// TCP gap 10h: 30h > 24h.
		{at: 0, proto: tcp, src: c, dst: s, sport: 50000, dport: 20000, flags: fS},
		{at: 10 * time.Hour, proto: tcp, src: c, dst: s, sport: 50000, dport: 20000, flags: fA},
		// ICMP: rules cannot change its timeout.
		{at: 0, proto: icmp, src: c, dst: s, sport: 1, flags: 8},
		{at: 20 * time.Second, proto: icmp, src: c, dst: s, sport: 1, flags: 8},
	})
	p, y := parseDraft(t, m, DraftConfig{})
	want := map[string]time.Duration{"20000": 30 * time.Hour, "161": 15 * time.Minute, "514": 0, "any": 0}
	for _, r := range p.Rules[:len(p.Rules)-1] {
		if w := want[rules.FormatPorts(r.DPorts)]; r.IdleTimeout != w {
			t.Errorf("rule %s: idle_timeout %s, want %s\n%s", r.Name, r.IdleTimeout, w, y)
		}
	}
	// A larger margin, and defaults that are longer.
	p, _ = parseDraft(t, m, DraftConfig{Margin: 5, Timeouts: rules.Timeouts{TCPEstablished: 7 * 24 * time.Hour, UDP: time.Hour}})
	for _, r := range p.Rules {
		if r.IdleTimeout != 0 {
			t.Errorf("margin 5, long defaults: rule %s has idle_timeout %s", r.Name, r.IdleTimeout)
		}
	}
}

func TestDraftZonesGiven(t *testing.T) {
	m := learnAll([]tp{
		{proto: tcp, src: "10.20.0.11", dst: "10.10.0.5", sport: 50000, dport: 502, flags: fS},
		{proto: udp, src: "10.20.0.11", dst: "192.168.7.7", sport: 40000, dport: 53},
		{proto: udp, src: "10.20.0.11", dst: "224.0.1.1", sport: 123, dport: 123},
	})
	given := []*Zone{
		{Name: "supervisory", Level: "2", CIDRs: []netip.Prefix{netip.MustParsePrefix("10.20.0.0/24")}},
		{Name: "control", Level: "1", CIDRs: []netip.Prefix{netip.MustParsePrefix("10.10.0.0/16")}},
	}
	p, y := parseDraft(t, m, DraftConfig{Zones: given, HostsPerSide: 0})
	var names []string
	for _, z := range p.Zones {
		names = append(names, z.Name+"/"+z.Level)
	}
	if strings.Join(names, " ") != "supervisory/2 control/1 net-192-168-7/unknown" {
		t.Errorf("zones %v\n%s", names, y)
	}
	// The multicast group has no zone; it is named as it is.
	found := false
	for _, r := range p.Rules {
		found = found || r.To.String() == "224.0.1.1"
	}
	if !found {
		t.Errorf("no rule to the multicast group\n%s", y)
	}
}

func TestTimeoutAdvice(t *testing.T) {
	c, s := "10.0.0.1", "10.0.0.2"
	m := learnAll([]tp{
		{at: 0, proto: tcp, src: c, dst: s, sport: 50000, dport: 502, flags: fS},
		{at: 40 * time.Minute, proto: tcp, src: c, dst: s, sport: 50000, dport: 502, flags: fA},
		// Seen mid-stream from the server: matched reversed, as the engine picks it up.
		{at: 0, proto: tcp, src: s, dst: c, sport: 102, dport: 50001, flags: fA},
		{at: 2 * time.Hour, proto: tcp, src: s, dst: c, sport: 102, dport: 50001, flags: fA},
		{at: 0, proto: udp, src: c, dst: s, sport: 123, dport: 123},
		{at: 11 * time.Minute, proto: udp, src: c, dst: s, sport: 123, dport: 123},
		{at: 0, proto: udp, src: c, dst: s, sport: 40000, dport: 161},
		{at: 9 * time.Minute, proto: udp, src: c, dst: s, sport: 40000, dport: 161},
	})
	p, err := rules.Parse("p.yaml", []byte(`mode: enforce
zones:
  a: {level: 2, cidrs: [10.0.0.0/24]}
rules:
  - {name: modbus, from: 10.0.0.1, to: 10.0.0.2, proto: tcp, dport: 502, idle_timeout: 30m}
  - {name: s7, from: 10.0.0.1, to: 10.0.0.2, proto: tcp, dport: 102, idle_timeout: 3h}
  - {name: ntp, from: 10.0.0.1, to: 10.0.0.2, proto: udp, dport: 123}
  - {name: snmp, from: 10.0.0.1, to: 10.0.0.2, proto: udp, dport: 161}
default: deny
`))
	if err != nil {
		t.Fatal(err)
	}
	adv := Timeouts(m, p, 3)
	if len(adv) != 2 {
		t.Fatalf("advice %+v", adv)
	}
	if a := adv[0]; a.Rule != "modbus" || a.Timeout != 30*time.Minute || a.Source != "idle_timeout" || a.Gap != 40*time.Minute || a.Suggest != 2*time.Hour {
		t.Errorf("modbus advice %+v", a)
	}
	if a := adv[1]; a.Rule != "ntp" || a.Timeout != 10*time.Minute || a.Source != "conntrack.timeouts.udp" || a.Suggest != 33*time.Minute {
		t.Errorf("ntp advice %+v", a)
	}
}

func TestDiff(t *testing.T) {
	c, s := "10.0.0.1", "10.0.0.2"
	before := learnAll([]tp{
		{proto: tcp, src: c, dst: s, sport: 50000, dport: 502, flags: fS},
		{proto: tcp, src: s, dst: c, sport: 502, dport: 50000, flags: fS | fA},
		{proto: udp, src: c, dst: s, sport: 40000, dport: 53},
		{proto: udp, src: s, dst: c, sport: 53, dport: 40000},
		{proto: tcp, src: c, dst: s, sport: 50001, dport: 102, flags: fS},
		{proto: tcp, src: s, dst: c, sport: 102, dport: 50001, flags: fS | fA},
	})
	after := learnAll([]tp{
		// Modbus still asks, nobody answers: something drops the replies.
		{proto: tcp, src: c, dst: s, sport: 50002, dport: 502, flags: fS},
		{proto: tcp, src: c, dst: s, sport: 50002, dport: 502, flags: fS},
		// DNS as before; S7 gone; SNMP new.
		{proto: udp, src: c, dst: s, sport: 40009, dport: 53},
		{proto: udp, src: s, dst: c, sport: 53, dport: 40009},
		{proto: udp, src: c, dst: s, sport: 40000, dport: 161},
	})
	zs := InferZones(before, nil, after)
	got := map[string]string{}
	for _, ch := range Diff(before, after, zs) {
		got[ch.Key.Service] = ch.Kind
	}
	want := map[string]string{"modbus": Changed, "s7": Missing, "snmp": New}
	if len(got) != len(want) {
		t.Fatalf("changes %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
}

func TestLog(t *testing.T) {
	log := `{"time":"2024-03-04T06:00:00Z","level":"INFO","msg":"verdict","event":"verdict","mode":"monitor","verdict":"accept","would":"accept","rule":"r","proto":"tcp","src":"10.0.0.1","dst":"10.0.0.2","sport":50000,"dport":502,"flow":7,"reason":"new-flow"}
{"time":"2024-03-04T06:00:01Z","level":"WARN","msg":"verdict","event":"verdict","mode":"monitor","verdict":"accept","would":"drop","rule":"default","proto":"tcp","src":"10.0.0.2","dst":"10.0.0.1","sport":102,"dport":50001,"flow":8,"reason":"pickup"}
{"time":"2024-03-04T06:00:02Z","level":"WARN","msg":"verdict","event":"verdict","mode":"enforce","verdict":"drop","would":"drop","rule":"default","proto":"udp","src":"10.0.0.1","dst":"10.0.0.9","sport":40000,"dport":161,"flow":0,"reason":"new-flow"}
{"time":"2024-03-04T06:00:03Z","level":"WARN","msg":"verdict","event":"verdict","mode":"enforce","verdict":"drop","would":"drop","rule":"","proto":"tcp","src":"10.0.0.1","dst":"10.0.0.9","sport":0,"dport":0,"flow":0,"reason":"ipv4-total-length"}
{"time":"2024-03-04T06:00:04Z","level":"INFO","msg":"verdict","event":"verdict","mode":"monitor","verdict":"accept","would":"accept","rule":"p","proto":"icmp","src":"10.0.0.1","dst":"10.0.0.2","sport":5,"dport":0,"flow":9,"reason":"new-flow"}
{"time":"2024-03-04T06:00:05Z","level":"INFO","msg":"verdict","event":"verdict","mode":"monitor","verdict":"accept","would":"accept","rule":"p","proto":"icmp","src":"10.0.0.1","dst":"10.0.0.4","sport":6,"dport":0,"icmp_type":8,"flow":10,"reason":"new-flow"}
{"time":"2024-03-04T06:00:06Z","level":"WARN","msg":"verdict","event":"verdict","mode":"monitor","verdict":"accept","would":"drop","rule":"default","proto":"tcp","src":"10.0.0.5","dst":"10.0.0.1","sport":35974,"dport":20000,"flow":11,"reason":"pickup-denied","reverse_rule":"default","reverse_mode":"monitor","reply":true}
not json at all
{"time":"2024-03-04T08:00:00Z","level":"INFO","msg":"flow_end","event":"flow_end","flow":7,"proto":"tcp","src":"10.0.0.1","dst":"10.0.0.2","sport":50000,"dport":502,"state":"established","reason":"idle","idle":60000000000,"duration":3600000000000,"max_gap":1800000000000,"packets_orig":10,"packets_reply":8,"bytes_orig":600,"bytes_reply":900,"rule":"r"}
{"time":"2024-03-04T08:00:00Z","level":"INFO","msg":"flow_end","event":"flow_end","flow":99,"proto":"udp","src":"10.0.0.1","dst":"10.0.0.3","sport":123,"dport":123,"state":"established","reason":"idle","idle":600000000000,"duration":1000000000,"max_gap":1000000000,"packets_orig":1,"packets_reply":1,"bytes_orig":76,"bytes_reply":76}
`
	l := NewLearner()
	n, err := l.Log("verdicts.log", strings.NewReader(log))
	if err != nil || n != 9 {
		t.Fatalf("%d lines used, %v", n, err)
	}
	m := l.Matrix()
	mb := m.Lookup(key("10.0.0.1", "10.0.0.2", tcp, 502))
	if mb == nil || mb.Flows != 1 || mb.Packets != 18 || mb.ToServer != 10 || mb.ToClient != 8 || mb.Bytes != 1500 ||
		time.Duration(mb.MaxGap) != 30*time.Minute || mb.Partial != 0 || mb.Last != mustTime(t, "2024-03-04T07:59:00Z") {
		t.Errorf("modbus %+v", mb)
	}
	// A pickup seen from the server's port is turned round; still running.
	if s7 := m.Lookup(key("10.0.0.1", "10.0.0.2", tcp, 102)); s7 == nil || s7.Denied != 1 || s7.Partial != 1 {
		t.Errorf("s7 %+v", s7)
	}
	// A flow met mid-stream that no rule allows either way is a service too.
	if dnp := m.Lookup(key("10.0.0.5", "10.0.0.1", tcp, 20000)); dnp == nil || dnp.Denied != 1 || dnp.Partial != 1 {
		t.Errorf("pickup-denied %+v", dnp)
	}
	if snmp := m.Lookup(key("10.0.0.1", "10.0.0.9", udp, 161)); snmp == nil || snmp.Packets != 1 || snmp.Denied != 1 {
		t.Errorf("snmp %+v", snmp)
	}
	// A line without icmp_type (an older daemon's) leaves the type unknown;
	// with it, the service has its type, as from a capture.
	if ping := m.Lookup(key("10.0.0.1", "10.0.0.2", icmp, ICMPTypeUnknown)); ping == nil {
		t.Error("no ICMP service")
	}
	if ping := m.Lookup(key("10.0.0.1", "10.0.0.4", icmp, 8)); ping == nil {
		t.Error("no ICMP echo service from a line with icmp_type")
	}
	if ntp := m.Lookup(key("10.0.0.1", "10.0.0.3", udp, 123)); ntp == nil || ntp.Flows != 1 || ntp.Packets != 2 {
		t.Errorf("flow begun before the log: %+v", ntp)
	}
	if m.Malformed != 1 {
		t.Errorf("malformed %d", m.Malformed)
	}
	// A draft allows every ICMP type where the log did not say, and the
	// type seen where it did.
	p, y := parseDraft(t, m, DraftConfig{})
	typed := 0
	for _, r := range p.Rules {
		if r.Proto != rules.ProtoICMP {
			continue
		}
		switch to := r.To.String(); {
		case to == "10.0.0.2" && len(r.ICMPTypes) != 0:
			t.Errorf("ICMP rule with types %v for a line without icmp_type\n%s", r.ICMPTypes, y)
		case to == "10.0.0.4":
			typed++
			if len(r.ICMPTypes) != 1 || r.ICMPTypes[0] != 8 {
				t.Errorf("ICMP rule types %v, want [8]\n%s", r.ICMPTypes, y)
			}
		}
	}
	if typed != 1 {
		t.Errorf("%d ICMP rules to 10.0.0.4\n%s", typed, y)
	}

	if _, err := NewLearner().Log("x", strings.NewReader(strings.Repeat("hello\n", 20))); err == nil {
		t.Error("text that is not a log: no error")
	}
}

func mustTime(t *testing.T, s string) int64 {
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixNano()
}

func TestLoadZones(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"policy.yaml": "mode: monitor\nzones:\n  ops: {level: 3, cidrs: [10.30.0.0/24]}\n  ctl: {level: 1, cidrs: [10.10.0.0/24, \"fd00:10::/64\", 10.11.0.5]}\nrules: []\n",
		"bare.yaml":   "ops: {level: 3, cidrs: [10.30.0.0/24]}\nctl: {level: 1, cidrs: [10.10.0.0/24, \"fd00:10::/64\", 10.11.0.5]}\n",
	} {
		path := dir + "/" + name
		if err := writeFile(path, text); err != nil {
			t.Fatal(err)
		}
		zs, err := LoadZones(path)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(zs) != 2 || zs[0].Name != "ops" || zs[1].Level != "1" || len(zs[1].CIDRs) != 3 || zs[1].CIDRs[2].Bits() != 32 {
			t.Errorf("%s: %+v %+v", name, zs[0], zs[1])
		}
	}
	if err := writeFile(dir+"/bad.yaml", "ops: {cidrs: [10.30.0.0/24]}\n"); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadZones(dir + "/bad.yaml"); err == nil || !strings.Contains(err.Error(), "needs a level") {
		t.Errorf("zone without level: %v", err)
	}
}

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o644) }
