package engine

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/rules"
)

const basePolicy = `mode: %MODE%
conntrack: {pickup: %PICKUP%}
zones:
  operations:  {level: 3, cidrs: [10.30.0.0/24]}
  supervisory: {level: 2, cidrs: [10.20.0.0/24, "fd00:20::/64"]}
  control:     {level: 1, cidrs: [10.10.0.0/24, "fd00:10::/64"]}
conduits: [%CONDUITS%]
rules:
  - {name: hmi-polls-plcs, from: supervisory, to: control, proto: tcp, dport: 502, idle_timeout: 2h}
  - {name: hmi-ping, from: supervisory, to: control, proto: icmp}
  - {name: ntp, from: control, to: operations, proto: udp, dport: 123}
%EXTRA%default: deny
`

type pol struct{ mode, pickup, conduits, extra string }

func (p pol) yaml() string {
	if p.pickup == "" {
		p.pickup = "true"
	}
	r := strings.NewReplacer("%MODE%", p.mode, "%PICKUP%", p.pickup, "%CONDUITS%", p.conduits, "%EXTRA%", p.extra)
	return r.Replace(basePolicy)
}

func parse(t testing.TB, p pol) *rules.Policy {
	t.Helper()
	rp, err := rules.Parse("test.yaml", []byte(p.yaml()))
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	return rp
}

// testEngine is an engine with a fake clock and a reachable event channel.
type testEngine struct {
	*Engine
	store *inforce.Store
	clock int64
}

func newTestEngine(t testing.TB, p pol) *testEngine {
	t.Helper()
	te := &testEngine{store: inforce.NewStore(parse(t, p)), clock: 1_000_000_000}
	te.Engine = New(Config{Store: te.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() int64 { return te.clock }, EventBuffer: 1024})
	return te
}

// swap installs a new policy the way a reload does.
func (te *testEngine) swap(t testing.TB, p pol) {
	t.Helper()
	r := &inforce.Reloader{Store: te.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Load: func(string) (*rules.Policy, error) { return parse(t, p), nil }}
	if res := r.Reload("test"); !res.Changed {
		t.Fatalf("reload did not change the policy: %+v", res)
	}
}

// verdicts drains the verdict events emitted so far.
func (te *testEngine) verdicts() []verdictEvent {
	var out []verdictEvent
	for {
		select {
		case ev := <-te.events:
			if ev.kind == evVerdict || ev.kind == evPanic {
				out = append(out, ev.v)
			}
		default:
			return out
		}
	}
}

const (
	hmi  = "10.20.0.10"
	plc  = "10.10.0.10"
	hist = "10.30.0.10"
)

func TestDecideModes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		p      pol
		pkt    []byte
		accept bool
		rule   string
		would  bool // would drop
		logged bool
		reason string
	}{
		{"enforce allows the rule", pol{mode: "enforce"}, tcp(hmi, plc, 40000, 502, fSYN), true, "hmi-polls-plcs", false, true, ReasonNewFlow},
		{"enforce denies by default", pol{mode: "enforce"}, tcp(hmi, plc, 40000, 503, fSYN), false, "default", true, true, ReasonNewFlow},
		{"monitor passes but reports", pol{mode: "monitor"}, tcp(hmi, plc, 40000, 503, fSYN), true, "default", true, true, ReasonNewFlow},
		{"monitor allows the rule", pol{mode: "monitor"}, tcp(hmi, plc, 40000, 502, fSYN), true, "hmi-polls-plcs", false, true, ReasonNewFlow},
		{"passthrough evaluates nothing", pol{mode: "passthrough"}, tcp(hmi, plc, 40000, 503, fSYN), true, "", false, true, ReasonPassthrough},
		{"conduit override enforces one pair", pol{mode: "monitor", conduits: "{from: operations, to: control, mode: enforce}"},
			tcp(hist, plc, 40000, 502, fSYN), false, "default", true, true, ReasonNewFlow},
		{"conduit override is directional", pol{mode: "monitor", conduits: "{from: control, to: operations, mode: enforce}"},
			tcp(hist, plc, 40000, 502, fSYN), true, "default", true, true, ReasonNewFlow},
		{"icmp echo by rule", pol{mode: "enforce"}, tpkt{src: hmi, dst: plc, proto: 1, icmpType: 8, icmpID: 7}.bytes(), true, "hmi-ping", false, true, ReasonNewFlow},
		{"udp by rule", pol{mode: "enforce"}, tpkt{src: plc, dst: hist, proto: 17, sport: 5000, dport: 123}.bytes(), true, "ntp", false, true, ReasonNewFlow},
		{"malformed dropped in enforce", pol{mode: "enforce"}, tcp(hmi, plc, 1, 502, fSYN)[:30], false, "", true, true, "ipv4-total-length"},
		{"malformed passes in monitor", pol{mode: "monitor"}, []byte{0x45, 0, 0}, true, "", true, true, "truncated-ipv4"},
		{"ipv6 neighbour solicitation passes enforce", pol{mode: "enforce"},
			tpkt{src: "fe80::1", dst: "ff02::1:ff00:1", proto: 58, icmpType: 135, ttl: 255}.bytes(), true, "", false, false, ""},
		{"routed neighbour solicitation is not link control", pol{mode: "enforce"},
			tpkt{src: "fe80::1", dst: "ff02::1:ff00:1", proto: 58, icmpType: 135, ttl: 64}.bytes(), false, "default", true, true, ReasonNewFlow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			te := newTestEngine(t, tc.p)
			w := te.Worker(0)
			if got := w.Decide(tc.pkt); got != tc.accept {
				t.Fatalf("accept = %v, want %v", got, tc.accept)
			}
			evs := te.verdicts()
			if !tc.logged {
				if len(evs) != 0 {
					t.Fatalf("logged %+v, want nothing", evs)
				}
				return
			}
			if len(evs) != 1 {
				t.Fatalf("%d verdict events, want 1", len(evs))
			}
			ev := evs[0]
			if name := ruleName(ev.pol, ev.rule); name != tc.rule || ev.wouldDrop != tc.would || ev.accept != tc.accept || ev.reason != tc.reason {
				t.Errorf("event rule %q would-drop %v accept %v reason %q; want %q %v %v %q",
					name, ev.wouldDrop, ev.accept, ev.reason, tc.rule, tc.would, tc.accept, tc.reason)
			}
		})
	}
}

func TestRepliesAndLoggingPerFlow(t *testing.T) {
	te := newTestEngine(t, pol{mode: "enforce"})
	w := te.Worker(0)
	steps := []struct {
		pkt    []byte
		accept bool
	}{
		{tcp(hmi, plc, 40000, 502, fSYN), true},
		{tcp(plc, hmi, 502, 40000, fSYN|fACK), true}, // the reply needs no rule
		{tcp(hmi, plc, 40000, 502, fACK), true},
		{tcp(hmi, plc, 40000, 502, fACK|fPSH), true},
		{tcp(plc, hmi, 502, 40000, fACK|fPSH), true},
		{tcp(plc, hmi, 502, 41000, fSYN), false}, // the PLC may not open a session to the HMI
	}
	for i, s := range steps {
		if got := w.Decide(s.pkt); got != s.accept {
			t.Fatalf("step %d: accept = %v, want %v", i, got, s.accept)
		}
	}
	if evs := te.verdicts(); len(evs) != 2 {
		t.Errorf("%d verdict lines for one allowed and one denied flow, want 2: %+v", len(evs), evs)
	}
	// A denied sender that retries gets one line per flow, not per packet.
	for range 5 {
		w.Decide(tcp(plc, hmi, 502, 41000, fSYN))
	}
	if evs := te.verdicts(); len(evs) != 0 {
		t.Errorf("retransmitted denied SYNs logged %d more lines", len(evs))
	}
	if c := te.Counters(); c.Packets != 11 || c.Accepted != 5 || c.Dropped != 6 {
		t.Errorf("counters %+v", c)
	}
}

func TestPickup(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pickup string
		pkt    []byte
		accept bool
		reason string
	}{
		{"request mid-stream adopted", "true", tcp(hmi, plc, 40000, 502, fACK|fPSH), true, ReasonPickup},
		{"reply mid-stream adopted reversed", "true", tcp(plc, hmi, 502, 40000, fACK|fPSH), true, ReasonPickup},
		{"unknown mid-stream denied", "true", tcp(hmi, plc, 40000, 503, fACK), false, ReasonPickupDenied},
		{"pickup off: default rule, no-flow", "false", tcp(hmi, plc, 40000, 502, fACK|fPSH), false, ReasonNoFlow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			te := newTestEngine(t, pol{mode: "enforce", pickup: tc.pickup})
			w := te.Worker(0)
			if got := w.Decide(tc.pkt); got != tc.accept {
				t.Fatalf("accept = %v, want %v", got, tc.accept)
			}
			evs := te.verdicts()
			if len(evs) != 1 || evs[0].reason != tc.reason {
				t.Fatalf("events %+v, want one with reason %s", evs, tc.reason)
			}
			if tc.accept {
				// The flow is adopted in the request orientation: replies pass too.
				if evs[0].src.String() != hmi || evs[0].dport != 502 {
					t.Errorf("adopted as %v:%d -> %v:%d", evs[0].src, evs[0].sport, evs[0].dst, evs[0].dport)
				}
				if !w.Decide(tcp(plc, hmi, 502, 40000, fACK)) || !w.Decide(tcp(hmi, plc, 40000, 502, fACK)) {
					t.Error("adopted flow does not pass both ways")
				}
				if c := te.Counters(); c.Pickups != 1 {
					t.Errorf("pickups = %d", c.Pickups)
				}
			}
		})
	}
}

func TestReloadReevaluatesFlows(t *testing.T) {
	te := newTestEngine(t, pol{mode: "monitor"})
	w := te.Worker(0)
	// An allowed session and a would-drop session, both passing in monitor.
	if !w.Decide(tcp(hmi, plc, 40000, 502, fSYN)) || !w.Decide(tcp(hmi, plc, 40001, 503, fSYN)) {
		t.Fatal("monitor dropped a packet")
	}
	te.verdicts()
	// Switch to enforce: the allowed session survives, the other stops.
	te.swap(t, pol{mode: "enforce"})
	if !w.Decide(tcp(plc, hmi, 502, 40000, fSYN|fACK)) {
		t.Error("allowed session broken by the switch to enforce")
	}
	if w.Decide(tcp(hmi, plc, 40001, 503, fACK)) {
		t.Error("denied session still passing after the switch to enforce")
	}
	evs := te.verdicts()
	if len(evs) != 2 || evs[0].reason != ReasonReevaluated || evs[1].reason != ReasonReevaluated {
		t.Errorf("mode switch events %+v", evs)
	}
	// Narrow the policy: the HMI rule disappears, its session stops in enforce.
	te.swap(t, pol{mode: "enforce", extra: "  - {name: block-hmi, from: supervisory, to: control, action: deny}\n"})
	if !w.Decide(tcp(hmi, plc, 40000, 502, fACK)) {
		t.Error("a rule appended after the HMI rule must not change it")
	}
	te.swap(t, pol{mode: "enforce", pickup: "false"})
	if !w.Decide(tcp(hmi, plc, 40000, 502, fACK)) {
		t.Error("pickup off must not affect a tracked session")
	}
}

func TestIdleTimeoutFromRule(t *testing.T) {
	te := newTestEngine(t, pol{mode: "enforce", pickup: "false"})
	w := te.Worker(0)
	for _, p := range [][]byte{tcp(hmi, plc, 40000, 502, fSYN), tcp(plc, hmi, 502, 40000, fSYN|fACK), tcp(hmi, plc, 40000, 502, fACK)} {
		if !w.Decide(p) {
			t.Fatal("handshake dropped")
		}
	}
	te.clock += int64(90 * 60 * 1e9) // 1h30m idle: within the rule's 2h
	if !w.Decide(tcp(hmi, plc, 40000, 502, fACK|fPSH)) {
		t.Fatal("session idle 1h30m dropped with a 2h idle_timeout")
	}
	te.clock += int64(3 * 3600 * 1e9) // 3h idle: beyond it
	if w.Decide(tcp(hmi, plc, 40000, 502, fACK|fPSH)) {
		t.Fatal("session idle 3h accepted mid-stream with pickup off and a 2h idle_timeout")
	}
	evs := te.verdicts()
	if last := evs[len(evs)-1]; last.reason != ReasonNoFlow {
		t.Errorf("expired session's packet reason %q, want %q", last.reason, ReasonNoFlow)
	}
}

func TestPanicGetsAVerdict(t *testing.T) {
	for _, tc := range []struct {
		mode, failOpen string
		conduits       string
		accept         bool
	}{
		{"enforce", "true", "", true},
		{"enforce", "false", "", false},
		{"monitor", "false", "", true},
		// The packet's conduit is in enforce although the global mode is not.
		{"monitor", "false", "{from: supervisory, to: control, mode: enforce}", false},
		// ... and the packet is a reply on that conduit.
		{"monitor", "false", "{from: control, to: supervisory, mode: enforce}", false},
		{"enforce", "false", "{from: supervisory, to: control, mode: monitor}", false},
		// Both orientations monitored: the flow is, whatever the global mode.
		{"enforce", "false", "{from: supervisory, to: control, mode: monitor}, {from: control, to: supervisory, mode: monitor}", true},
		{"monitor", "false", "{from: operations, to: control, mode: enforce}", true},
	} {
		te := newTestEngine(t, pol{mode: tc.mode, extra: ""})
		p := parse(t, pol{mode: tc.mode, conduits: tc.conduits})
		p.Queue.FailOpen = tc.failOpen == "true"
		te.store = inforce.NewStore(p)
		te.Engine.store = te.store
		w := te.Worker(0)
		w.testPanic = func() { panic("boom") }
		if got := w.Decide(tcp(hmi, plc, 40000, 502, fSYN)); got != tc.accept {
			t.Errorf("%s fail_open %s conduits [%s]: accept = %v, want %v", tc.mode, tc.failOpen, tc.conduits, got, tc.accept)
		}
		w.testPanic = nil
		// The shard lock was released: the next packet is decided normally.
		if !w.Decide(tcp(hmi, plc, 40000, 502, fSYN)) {
			t.Errorf("%s: engine stuck after a panic", tc.mode)
		}
		evs := te.verdicts()
		if len(evs) == 0 || evs[0].reason != ReasonPanic {
			t.Errorf("panic not logged: %+v", evs)
		}
		if te.Counters().Panics != 1 {
			t.Errorf("panics = %d", te.Counters().Panics)
		}
	}
}

func TestDecideNoAllocs(t *testing.T) {
	te := newTestEngine(t, pol{mode: "enforce"})
	w := te.Worker(0)
	syn, data, denied := tcp(hmi, plc, 40000, 502, fSYN), tcp(hmi, plc, 40000, 502, fACK|fPSH), tcp(hist, plc, 1, 2, fSYN)
	w.Decide(syn)
	w.Decide(denied)
	te.verdicts()
	midstream := tcp(hist, plc, 1, 2, fACK)                                                                               // judged both ways
	synData := tpkt{src: plc, dst: hmi, proto: 6, sport: 502, dport: 1, flags: fSYN | fACK, payload: []byte("x")}.bytes() // syn-payload
	for name, pkt := range map[string][]byte{"established": data, "denied-again": denied, "denied-midstream": midstream, "syn-payload": synData} {
		if n := testing.AllocsPerRun(1000, func() { w.Decide(pkt) }); n != 0 {
			t.Errorf("%s: %.1f allocations per packet", name, n)
		}
	}
}

// benchDecide times the decision of pkt by an engine in mode that decided
// first first.
func benchDecide(b *testing.B, mode string, first, pkt []byte) {
	w := newTestEngine(b, pol{mode: mode}).Worker(0)
	w.Decide(first)
	b.ReportAllocs()
	for b.Loop() {
		w.Decide(pkt)
	}
}

func BenchmarkDecide(b *testing.B) {
	for _, mode := range []string{"passthrough", "monitor", "enforce"} {
		b.Run(mode+"/established", func(b *testing.B) {
			benchDecide(b, mode, tcp(hmi, plc, 40000, 502, fSYN), tcp(hmi, plc, 40000, 502, fACK|fPSH))
		})
	}
}

func TestHitsCountedByRuleName(t *testing.T) {
	te := newTestEngine(t, pol{mode: "enforce"})
	w := te.Worker(0)
	te.clock = 5e9
	w.Decide(tcp(hmi, plc, 40000, 502, fSYN))
	w.Decide(tcp(plc, hmi, 502, 40000, fSYN|fACK))
	te.clock = 6e9
	w.Decide(tcp(hmi, plc, 40000, 502, fACK))
	w.Decide(tcp(hist, plc, 40001, 502, fSYN)) // default, dropped
	w.Decide(tcp(hist, plc, 40001, 502, fSYN)) // its retransmission: same flow
	byName := func() map[string]RuleHits {
		m := map[string]RuleHits{}
		for _, h := range te.Hits() {
			m[h.Name] = h
		}
		return m
	}
	h := byName()
	if r := h["hmi-polls-plcs"]; r.Packets != 3 || r.Flows != 1 || r.Bytes != 120 || r.Index != 0 || r.Action != "allow" ||
		r.FirstHit == nil || r.FirstHit.UnixNano() != 5e9 || r.LastHit.UnixNano() != 6e9 {
		t.Errorf("hmi-polls-plcs = %+v", r)
	}
	if r := h["hmi-polls-plcs"]; r.WouldDrop != 0 {
		t.Errorf("hmi-polls-plcs would_drop = %d", r.WouldDrop)
	}
	if r := h["default"]; r.Packets != 2 || r.WouldDrop != 2 || r.Flows != 1 || r.Index != 3 || r.Action != "deny" {
		t.Errorf("default = %+v", r)
	}
	if r := h["ntp"]; r.Packets != 0 || r.FirstHit != nil {
		t.Errorf("ntp = %+v", r)
	}
	// A reload that moves the rule keeps its counts (by name).
	te.swap(t, pol{mode: "enforce", extra: "  - {name: extra, from: any, to: any, proto: udp, dport: 9}\n"})
	w.Decide(tcp(hmi, plc, 40000, 502, fACK))
	if r := byName()["hmi-polls-plcs"]; r.Packets != 4 {
		t.Errorf("after reload hmi-polls-plcs packets = %d, want 4", r.Packets)
	}
}

func TestPickupPrefersSpecificRuleOverCleanup(t *testing.T) {
	cleanup := "  - {name: cleanup, from: any, to: any, cleanup: true}\n"
	te := newTestEngine(t, pol{mode: "monitor", extra: cleanup}) // extra rules go last, before default
	w := te.Worker(0)
	// The PLC's reply is the first packet seen: the cleanup rule allows its
	// orientation, but hmi-polls-plcs allows the request orientation.
	if !w.Decide(tcp(plc, hmi, 502, 40000, fACK|fPSH)) {
		t.Fatal("monitor dropped a packet")
	}
	evs := te.verdicts()
	if len(evs) != 1 || ruleName(evs[0].pol, evs[0].rule) != "hmi-polls-plcs" || evs[0].src.String() != hmi || evs[0].dport != 502 {
		t.Fatalf("adopted as %+v, want hmi-polls-plcs in the request orientation", evs)
	}
	// A mid-stream packet no specific rule allows either way stays with cleanup, forward.
	w.Decide(tcp(hist, plc, 40001, 9999, fACK))
	evs = te.verdicts()
	if len(evs) != 1 || ruleName(evs[0].pol, evs[0].rule) != "cleanup" || evs[0].src.String() != hist {
		t.Fatalf("unknown mid-stream flow adopted as %+v, want cleanup forward", evs)
	}
}
