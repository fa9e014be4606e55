package engine

import (
	"net/netip"
	"testing"

	"github.com/conduit-ot/conduit/engine/ctnl"
	"github.com/conduit-ot/conduit/rules"
)

// The plant: the global mode monitors, operations -> control is
// enforced, and no rule speaks of tcp/20000.
const opsEnforce = "{from: operations, to: control, mode: enforce}"

// line is what a verdict line must say; empty fields are not checked.
type line struct {
	reason, rule, mode, revRule, revMode string
	src                                  string // the line's orientation
	accept, would                        bool   // would: would drop
	reply                                bool
}

func checkLine(t *testing.T, ev verdictEvent, want line) {
	t.Helper()
	got := line{reason: ev.reason, rule: ruleName(ev.pol, ev.rule), mode: ev.mode.String(), src: ev.src.String(),
		accept: ev.accept, would: ev.wouldDrop, reply: ev.reply}
	if ev.rev {
		got.revRule, got.revMode = ruleName(ev.pol, ev.revRule), ev.revMode.String()
	}
	if want.rule == "" {
		want.rule = got.rule
	}
	if want.revRule == "" {
		want.revRule = got.revRule
	}
	if want.src == "" {
		want.src = got.src
	}
	if got != want {
		t.Errorf("verdict line\n got %+v\nwant %+v", got, want)
	}
}

type step struct {
	pkt    []byte
	accept bool
}

func ack(src, dst string, sport, dport uint16) []byte { return tcp(src, dst, sport, dport, fACK|fPSH) }

func icmpPkt(src, dst string, typ uint8, id uint16) []byte {
	return tpkt{src: src, dst: dst, proto: 1, icmpType: typ, icmpID: id}.bytes()
}

func udpPkt(src, dst string, sport, dport uint16) []byte {
	return tpkt{src: src, dst: dst, proto: 17, sport: sport, dport: dport}.bytes()
}

const pingRules = "  - {name: ops-pings-plc, from: operations, to: control, proto: icmp, icmp_types: [8]}\n"

// TestOrientation: a packet with no flow entry that does not prove which
// side opened its flow is judged in both orientations, adopted only in one
// a rule allows, and otherwise decided by the stricter of the two modes.
func TestOrientation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		p     pol
		first []byte
		want  line
		then  []step // later packets and their verdicts
	}{
		{"server-first mid-stream under an enforce conduit is dropped",
			pol{mode: "monitor", conduits: opsEnforce}, ack(plc, hist, 20000, 35974),
			line{reason: ReasonPickupDenied, rule: "default", mode: "enforce", src: hist, revRule: "default", revMode: "monitor", would: true, reply: true},
			[]step{{ack(hist, plc, 35974, 20000), false}, {ack(plc, hist, 20000, 35974), false}}},
		{"... with pickup off too",
			pol{mode: "monitor", pickup: "false", conduits: opsEnforce}, ack(plc, hist, 20000, 35974),
			line{reason: ReasonNoFlow, rule: "default", mode: "enforce", src: hist, revRule: "default", revMode: "monitor", would: true, reply: true},
			[]step{{ack(hist, plc, 35974, 20000), false}, {ack(plc, hist, 20000, 35974), false}}},
		{"client-first mid-stream under an enforce conduit is dropped",
			pol{mode: "monitor", conduits: opsEnforce}, ack(hist, plc, 35974, 20000),
			line{reason: ReasonPickupDenied, rule: "default", mode: "enforce", src: hist, revRule: "default", revMode: "monitor", would: true},
			[]step{{ack(plc, hist, 20000, 35974), false}}},
		{"a passthrough conduit does not open the enforced one",
			pol{mode: "enforce", conduits: "{from: control, to: operations, mode: passthrough}"}, ack(plc, hist, 20000, 35974),
			line{reason: ReasonPickupDenied, rule: "default", mode: "enforce", src: hist, revRule: "", revMode: "passthrough", would: true, reply: true},
			[]step{{ack(hist, plc, 35974, 20000), false}}},
		{"an allowed session is picked up from the server's side",
			pol{mode: "monitor", conduits: "{from: supervisory, to: control, mode: enforce}"}, ack(plc, hmi, 502, 40000),
			line{reason: ReasonPickup, rule: "hmi-polls-plcs", mode: "enforce", src: hmi, revRule: "default", revMode: "monitor", accept: true, reply: true},
			[]step{{ack(hmi, plc, 40000, 502), true}, {ack(plc, hmi, 502, 40000), true}}},
		{"an allowed session is picked up from the client's side",
			pol{mode: "enforce"}, ack(hmi, plc, 40000, 502),
			line{reason: ReasonPickup, rule: "hmi-polls-plcs", mode: "enforce", src: hmi, accept: true},
			[]step{{ack(plc, hmi, 502, 40000), true}}},
		{"a SYN-ACK whose SYN was missed is picked up reversed",
			pol{mode: "enforce"}, tcp(plc, hmi, 502, 40000, fSYN|fACK),
			line{reason: ReasonPickup, rule: "hmi-polls-plcs", mode: "enforce", src: hmi, revRule: "default", revMode: "enforce", accept: true, reply: true},
			[]step{{tcp(hmi, plc, 40000, 502, fACK), true}}},
		{"both orientations monitored: passes, tracked as it came",
			pol{mode: "monitor"}, ack(plc, hist, 20000, 35974),
			line{reason: ReasonPickupDenied, rule: "default", mode: "monitor", src: plc, revRule: "default", revMode: "monitor", accept: true, would: true},
			[]step{{ack(hist, plc, 35974, 20000), true}}},
		{"both orientations passthrough",
			pol{mode: "passthrough"}, ack(plc, hist, 20000, 35974),
			line{reason: ReasonPassthrough, rule: "", mode: "passthrough", src: plc, revRule: "", revMode: "passthrough", accept: true},
			[]step{{ack(hist, plc, 35974, 20000), true}}},
		{"a plain SYN proves its orientation: the monitored side may open",
			pol{mode: "monitor", conduits: opsEnforce}, tcp(plc, hist, 20000, 35974, fSYN),
			line{reason: ReasonNewFlow, rule: "default", mode: "monitor", src: plc, accept: true, would: true},
			[]step{{tcp(hist, plc, 35974, 20000, fSYN|fACK), true}}},
		{"an echo reply under an enforce conduit is dropped",
			pol{mode: "monitor", conduits: opsEnforce}, icmpPkt(plc, hist, 0, 7),
			line{reason: ReasonPickupDenied, rule: "default", mode: "enforce", src: hist, revRule: "default", revMode: "monitor", would: true, reply: true},
			[]step{{icmpPkt(hist, plc, 8, 7), false}}},
		{"an echo reply is adopted as the request a rule allows",
			pol{mode: "enforce", extra: pingRules}, icmpPkt(plc, hist, 0, 7),
			line{reason: ReasonPickup, rule: "ops-pings-plc", mode: "enforce", src: hist, revRule: "default", revMode: "enforce", accept: true, reply: true},
			[]step{{icmpPkt(hist, plc, 8, 7), true}}},
		{"an echo request proves its orientation",
			pol{mode: "monitor", conduits: opsEnforce}, icmpPkt(plc, hist, 8, 9),
			line{reason: ReasonNewFlow, rule: "default", mode: "monitor", src: plc, accept: true, would: true},
			[]step{{icmpPkt(hist, plc, 0, 9), true}}},
		{"a udp datagram from a rule's service port is not taken for its reply",
			pol{mode: "enforce"}, udpPkt(hist, plc, 123, 161),
			line{reason: ReasonNewFlow, rule: "default", mode: "enforce", src: hist, would: true},
			[]step{{udpPkt(plc, hist, 5000, 123), true}}}, // the rule's own direction opens
		{"a udp datagram is judged as it came",
			pol{mode: "monitor", conduits: opsEnforce}, udpPkt(plc, hist, 20000, 35974),
			line{reason: ReasonNewFlow, rule: "default", mode: "monitor", src: plc, accept: true, would: true},
			nil},
		{"a SYN-ACK with data is never adopted",
			pol{mode: "enforce"}, tpkt{src: plc, dst: hmi, proto: 6, sport: 502, dport: 40000, flags: fSYN | fACK, payload: []byte("data")}.bytes(),
			line{reason: ReasonSynPayload, rule: "", mode: "enforce", src: plc, would: true},
			[]step{{ack(hmi, plc, 40000, 502), true}}}, // the HMI's own session is not harmed: picked up
		{"a SYN-ACK with data does not pass an adopted flow either",
			pol{mode: "enforce"}, tcp(plc, hmi, 502, 40000, fSYN|fACK),
			line{reason: ReasonPickup, rule: "hmi-polls-plcs", mode: "enforce", src: hmi, revRule: "default", revMode: "enforce", accept: true, reply: true},
			[]step{{tpkt{src: plc, dst: hmi, proto: 6, sport: 502, dport: 40000, flags: fSYN | fACK, payload: []byte("data")}.bytes(), false},
				{tpkt{src: hmi, dst: plc, proto: 6, sport: 40000, dport: 502, flags: fSYN, payload: []byte("data")}.bytes(), false},
				{tcp(hmi, plc, 40000, 502, fACK), true}}},
		{"a SYN-ACK with data is judged by the stricter mode",
			pol{mode: "monitor", conduits: "{from: supervisory, to: control, mode: enforce}"},
			tpkt{src: plc, dst: hmi, proto: 6, sport: 502, dport: 40000, flags: fSYN | fACK, payload: []byte("data")}.bytes(),
			line{reason: ReasonSynPayload, rule: "", mode: "enforce", src: plc, would: true}, nil},
		{"a SYN with data is refused",
			pol{mode: "enforce"}, tpkt{src: hmi, dst: plc, proto: 6, sport: 40000, dport: 502, flags: fSYN, payload: []byte("data")}.bytes(),
			line{reason: ReasonSynPayload, rule: "", mode: "enforce", src: hmi, would: true},
			[]step{{tcp(hmi, plc, 40000, 502, fSYN), true}}},
		{"a SYN-ACK with data in monitor passes untracked",
			pol{mode: "monitor"}, tpkt{src: plc, dst: hmi, proto: 6, sport: 502, dport: 40000, flags: fSYN | fACK, payload: []byte("data")}.bytes(),
			line{reason: ReasonSynPayload, rule: "", mode: "monitor", src: plc, accept: true, would: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			te := newTestEngine(t, tc.p)
			w := te.Worker(0)
			if got := w.Decide(tc.first); got != tc.want.accept {
				t.Fatalf("first packet: accept = %v, want %v", got, tc.want.accept)
			}
			evs := te.verdicts()
			if len(evs) != 1 {
				t.Fatalf("%d verdict lines, want 1: %+v", len(evs), evs)
			}
			checkLine(t, evs[0], tc.want)
			for i, s := range tc.then {
				if got := w.Decide(s.pkt); got != s.accept {
					t.Errorf("packet %d after: accept = %v, want %v", i+1, got, s.accept)
				}
			}
			if tc.want.reason == ReasonSynPayload && te.Counters().Malformed != 1 {
				t.Errorf("malformed = %d, want 1", te.Counters().Malformed)
			}
		})
	}
}

// TestOddPacketsDecided: what the decoder refuses is dropped in enforce
// and passed in monitor, with its reason on the verdict line.
func TestOddPacketsDecided(t *testing.T) {
	withIPOpts := func(b []byte, opts []byte) []byte {
		out := append([]byte{0x40 | byte(5+len(opts)/4)}, b[1:20]...)
		out = append(append(out, opts...), b[20:]...)
		out[2], out[3] = byte(len(out)>>8), byte(len(out))
		return out
	}
	withTCPOpts := func(b []byte, opts []byte) []byte {
		out := append(append(append([]byte(nil), b[:40]...), opts...), b[40:]...)
		out[32] = byte(5+len(opts)/4) << 4
		out[2], out[3] = byte(len(out)>>8), byte(len(out))
		return out
	}
	for _, c := range []struct {
		name   string
		pkt    []byte
		reason string
	}{
		{"ip option length 0", withIPOpts(tcp(hmi, plc, 40000, 502, fSYN), []byte{7, 0, 0, 0}), "bad-ip-option"},
		{"ip option length 40", withIPOpts(tcp(hmi, plc, 40000, 502, fSYN), []byte{7, 40, 0, 0}), "bad-ip-option"},
		{"tcp mss length 0", withTCPOpts(tcp(hmi, plc, 40000, 502, fSYN), []byte{2, 0, 0, 0}), "bad-tcp-option"},
		{"syn+fin", tcp(hmi, plc, 40000, 502, fSYN|fFIN), "bad-tcp-flags"},
		{"null flags", tcp(hmi, plc, 40000, 502, 0), "bad-tcp-flags"},
		{"fin+psh+urg", tcp(hmi, plc, 40000, 502, fFIN|fPSH|0x20), "bad-tcp-flags"},
	} {
		for _, mode := range []string{"enforce", "monitor"} {
			te := newTestEngine(t, pol{mode: mode})
			w := te.Worker(0)
			// Allowed as a flow: the packet's oddness alone decides.
			w.Decide(tcp(hmi, plc, 40000, 502, fSYN))
			te.verdicts()
			if got := w.Decide(c.pkt); got != (mode == "monitor") {
				t.Errorf("%s in %s: accept = %v", c.name, mode, got)
			}
			evs := te.verdicts()
			if len(evs) != 1 || evs[0].reason != c.reason || !evs[0].wouldDrop || evs[0].dport != 502 {
				t.Errorf("%s in %s: verdict lines %+v, want one with reason %s", c.name, mode, evs, c.reason)
			}
		}
	}
}

// TestReevaluateOrientation: after a reload, a flow whose start was not
// seen is judged as a first packet would be.
func TestReevaluateOrientation(t *testing.T) {
	t.Run("a monitored pickup stops when the other side is enforced", func(t *testing.T) {
		for _, pickup := range []string{"true", "false"} {
			te := newTestEngine(t, pol{mode: "monitor", pickup: pickup})
			w := te.Worker(0)
			if !w.Decide(ack(plc, hist, 20000, 35974)) || !w.Decide(ack(hist, plc, 35974, 20000)) {
				t.Fatal("monitor dropped")
			}
			te.verdicts()
			te.swap(t, pol{mode: "monitor", pickup: pickup, conduits: opsEnforce})
			if w.Decide(ack(hist, plc, 35974, 20000)) {
				t.Errorf("pickup %s: the client's request passed the enforce conduit as a reply", pickup)
			}
			evs := te.verdicts()
			if len(evs) != 1 {
				t.Fatalf("pickup %s: %d lines", pickup, len(evs))
			}
			checkLine(t, evs[0], line{reason: ReasonReevaluated, rule: "default", mode: "enforce", src: hist, revRule: "default", revMode: "monitor", would: true})
			if w.Decide(ack(plc, hist, 20000, 35974)) {
				t.Errorf("pickup %s: the server's packet passed after the reload", pickup)
			}
		}
	})
	t.Run("a reversed pickup stays allowed", func(t *testing.T) {
		te := newTestEngine(t, pol{mode: "enforce"})
		w := te.Worker(0)
		if !w.Decide(ack(plc, hmi, 502, 40000)) {
			t.Fatal("pickup dropped")
		}
		for i := range 3 { // each reload keeps the orientation (it used to flip)
			te.swap(t, pol{mode: "enforce", extra: "  - {name: x" + string(rune('a'+i)) + ", from: any, to: any, proto: udp, dport: 9}\n"})
			if !w.Decide(ack(hmi, plc, 40000, 502)) || !w.Decide(ack(plc, hmi, 502, 40000)) {
				t.Fatalf("reload %d broke the allowed session", i+1)
			}
			f, _ := w.shard.Lookup(keyOf(&w.pkt), te.clock)
			k := f.Key
			if markOf(f).reversed() {
				k = k.Reverse()
			}
			if k.Src.String() != hmi || k.DstPort != 502 {
				t.Errorf("reload %d: judged as %v", i+1, k)
			}
		}
	})
	t.Run("an echo reply after a reload is its request's", func(t *testing.T) {
		te := newTestEngine(t, pol{mode: "enforce", extra: pingRules})
		w := te.Worker(0)
		if !w.Decide(icmpPkt(hist, plc, 8, 3)) {
			t.Fatal("ping dropped")
		}
		te.swap(t, pol{mode: "enforce", extra: pingRules + "  - {name: x, from: any, to: any, proto: udp, dport: 9}\n"})
		if !w.Decide(icmpPkt(plc, hist, 0, 3)) || !w.Decide(icmpPkt(hist, plc, 8, 3)) {
			t.Error("an allowed ping broke at a reload whose first packet was the reply")
		}
	})
}

// TestSeedOrientation: a kernel session the policy denies in either
// orientation is not seeded in the monitored one, and stays denied
// whichever side speaks next.
func TestSeedOrientation(t *testing.T) {
	a := netip.MustParseAddr
	for _, en := range []ctnl.Entry{
		{Proto: 6, Src: a(plc), Dst: a(hist), SrcPort: 20000, DstPort: 35974, Established: true},
		{Proto: 6, Src: a(hist), Dst: a(plc), SrcPort: 35974, DstPort: 20000, Established: true},
	} {
		for _, pickup := range []string{"true", "false"} {
			te := newTestEngine(t, pol{mode: "monitor", pickup: pickup, conduits: opsEnforce})
			if res := te.Seed([]ctnl.Entry{en}); res.Denied != 1 {
				t.Errorf("seed %v->%v pickup %s: %+v, want denied", en.Src, en.Dst, pickup, res)
			}
			w := te.Worker(0)
			if w.Decide(ack(plc, hist, 20000, 35974)) || w.Decide(ack(hist, plc, 35974, 20000)) {
				t.Errorf("seed %v->%v pickup %s: a packet of the denied session passed", en.Src, en.Dst, pickup)
			}
		}
	}
	// One a rule allows is seeded in the rule's orientation, and says so.
	te := newTestEngine(t, pol{mode: "monitor", conduits: "{from: supervisory, to: control, mode: enforce}"})
	res := te.Seed([]ctnl.Entry{{Proto: 6, Src: a(plc), Dst: a(hmi), SrcPort: 502, DstPort: 40000, Established: true}})
	if res.Seeded != 1 {
		t.Fatalf("seed %+v", res)
	}
	evs := te.verdicts()
	checkLine(t, evs[0], line{reason: ReasonSeeded, rule: "hmi-polls-plcs", mode: "enforce", src: hmi, revRule: "default", revMode: "monitor", accept: true})
}

// TestVerdictLineOrientations: the JSON line of a flow judged both ways
// names the other orientation's rule and mode.
func TestVerdictLineOrientations(t *testing.T) {
	te, buf := jsonEngine(t, pol{mode: "monitor", conduits: opsEnforce})
	te.Worker(0).Decide(ack(plc, hist, 20000, 35974))
	lines := drain(t, te, buf, DeniedLimit{})
	if len(lines) != 1 {
		t.Fatalf("lines %v", lines)
	}
	l := lines[0]
	for k, v := range map[string]any{"reason": "pickup-denied", "mode": "enforce", "verdict": "drop", "would": "drop", "rule": "default",
		"src": hist, "dst": plc, "sport": 35974.0, "dport": 20000.0, "from_zone": "operations", "to_zone": "control",
		"reverse_rule": "default", "reverse_mode": "monitor", "reply": true} {
		if l[k] != v {
			t.Errorf("%s = %v, want %v (line %v)", k, l[k], v, l)
		}
	}
}

func TestStricter(t *testing.T) {
	order := []rules.Mode{rules.ModePassthrough, rules.ModeMonitor, rules.ModeEnforce}
	for i, a := range order {
		for j, b := range order {
			if stricter(a, b) != (i > j) {
				t.Errorf("stricter(%v, %v) = %v", a, b, stricter(a, b))
			}
		}
	}
}

// BenchmarkDecideFirst measures the packets that reach newFlow every time:
// denied in enforce, so never tracked.
func BenchmarkDecideFirst(b *testing.B) {
	for _, c := range []struct {
		name string
		pkt  []byte
	}{
		{"denied-syn", tcp(hist, plc, 40000, 503, fSYN)},
		{"denied-midstream", ack(plc, hist, 20000, 35974)},
	} {
		b.Run(c.name, func(b *testing.B) {
			te := newTestEngine(b, pol{mode: "monitor", conduits: opsEnforce + ", {from: control, to: operations, mode: enforce}"})
			w := te.Worker(0)
			b.ReportAllocs()
			for b.Loop() {
				w.Decide(c.pkt)
				select { // keep the event buffer from filling
				case <-te.events:
				default:
				}
			}
		})
	}
}
