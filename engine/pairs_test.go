package engine

import (
	"testing"
)

// pairsOf indexes Conduits by "from>to".
func pairsOf(e *Engine) map[string]ConduitStats {
	m := map[string]ConduitStats{}
	for _, c := range e.Conduits() {
		m[c.From+">"+c.To] = c
	}
	return m
}

func TestConduitCounters(t *testing.T) {
	for _, tc := range []struct {
		mode string
		// Denied flow operations → control: its packets and whether
		// they are refused.
		deniedPackets, wouldDrop uint64
	}{
		{mode: "monitor", deniedPackets: 3, wouldDrop: 3},
		{mode: "enforce", deniedPackets: 3, wouldDrop: 3},
		{mode: "passthrough", deniedPackets: 3, wouldDrop: 0},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			te := newTestEngine(t, pol{mode: tc.mode})
			w := te.Worker(0)
			// Allowed: supervisory → control, one flow, its reply counted
			// with it (the request direction names the pair).
			w.Decide(tcp(hmi, plc, 40000, 502, fSYN))
			w.Decide(tcp(plc, hmi, 502, 40000, fSYN|fACK))
			w.Decide(tcp(hmi, plc, 40000, 502, fACK))
			// Denied: operations → control (the default rule).
			w.Decide(tcp(hist, plc, 40001, 9999, fSYN))
			w.Decide(tcp(hist, plc, 40001, 9999, fSYN)) // retransmission: the same flow
			w.Decide(tcp(hist, plc, 40001, 9999, fACK))
			m := pairsOf(te.Engine)
			if a := m["supervisory>control"]; a.Flows != 1 || a.DeniedFlows != 0 || a.WouldDrop != 0 {
				t.Errorf("supervisory>control = %+v, want 1 flow, nothing denied", a)
			}
			if _, ok := m["control>supervisory"]; ok {
				t.Errorf("the reply was counted as its own pair: %+v", m)
			}
			d := m["operations>control"]
			wantDenied := uint64(1)
			if tc.mode == "passthrough" {
				wantDenied = 0 // nothing is evaluated
			}
			if d.Flows != 1 || d.DeniedFlows != wantDenied || d.WouldDrop != tc.wouldDrop {
				t.Errorf("operations>control = %+v, want 1 flow, %d denied, %d would-drop", d, wantDenied, tc.wouldDrop)
			}
			// The pairs add up to the would-drop verdicts.
			var sum uint64
			for _, c := range m {
				sum += c.WouldDrop
			}
			if c := te.Counters(); sum != c.WouldDrop {
				t.Errorf("pairs' would-drops sum to %d, the verdicts count %d", sum, c.WouldDrop)
			}
		})
	}
}

// TestConduitCountersRefused: packets refused before any flow (malformed
// SYN data) are charged to their addresses' pair.
func TestConduitCountersRefused(t *testing.T) {
	te := newTestEngine(t, pol{mode: "monitor"})
	w := te.Worker(0)
	syn := tpkt{src: hist, dst: plc, proto: 6, sport: 1, dport: 2, flags: fSYN, payload: []byte("x")}.bytes()
	w.Decide(syn)
	w.Decide(syn)
	if d := pairsOf(te.Engine)["operations>control"]; d.WouldDrop != 2 || d.Flows != 0 {
		t.Errorf("operations>control = %+v, want 2 would-drops and no flow", d)
	}
}

// TestConduitCountersReload: counts are kept by zone name across a reload
// that renumbers the zones, and a flow whose decision the reload changes
// is counted again.
func TestConduitCountersReload(t *testing.T) {
	te := newTestEngine(t, pol{mode: "monitor"})
	w := te.Worker(0)
	w.Decide(tcp(hist, plc, 40001, 9999, fSYN))
	te.swap(t, pol{mode: "monitor", extra: "  - {name: hist-any, from: operations, to: control, proto: tcp, dport: 9999}\n"})
	w.Decide(tcp(hist, plc, 40001, 9999, fACK)) // now allowed: a second decision
	d := pairsOf(te.Engine)["operations>control"]
	if d.Flows != 2 || d.DeniedFlows != 1 || d.WouldDrop != 1 {
		t.Errorf("operations>control = %+v, want 2 flow decisions, 1 denied, 1 would-drop", d)
	}
}

// TestConduitCountersKernel: the pre-filter's drops are charged to a
// pair only for a rule naming one zone each side.
func TestConduitCountersKernel(t *testing.T) {
	extra := "  - {name: no-hist, action: deny, from: operations, to: control, proto: tcp}\n" +
		"  - {name: no-any, action: deny, from: any, to: control, proto: udp}\n"
	te := newTestEngine(t, pol{mode: "enforce", extra: extra})
	te.SetKernelCounts(func() (KernelCounts, error) {
		return KernelCounts{Dropped: map[string]KernelCounter{
			"no-hist": {Packets: 7}, "no-any": {Packets: 5}, "default": {Packets: 11},
		}}, nil
	})
	m := pairsOf(te.Engine)
	if d := m["operations>control"]; d.KernelDropped != 7 {
		t.Errorf("operations>control = %+v, want 7 kernel drops", d)
	}
	if len(m) != 1 {
		t.Errorf("pairs = %+v, want only operations>control", m)
	}
}

func TestConduitCountersNoAllocs(t *testing.T) {
	for _, mode := range []string{"monitor", "enforce"} {
		te := newTestEngine(t, pol{mode: mode})
		w := te.Worker(0)
		syn := tcp(hist, plc, 40000, 9999, fSYN)
		ack := tcp(hist, plc, 40000, 9999, fACK|fPSH)
		w.Decide(syn)
		w.Decide(ack)
		te.verdicts()
		for name, pkt := range map[string][]byte{"denied-syn": syn, "denied-data": ack} {
			if n := testing.AllocsPerRun(1000, func() { w.Decide(pkt) }); n != 0 {
				t.Errorf("%s %s: %.1f allocations per packet", mode, name, n)
			}
		}
	}
}

// TestConduitCountersInterleaved: refused packets of flows of different
// pairs, interleaved, are each charged to their own pair.
func TestConduitCountersInterleaved(t *testing.T) {
	te := newTestEngine(t, pol{mode: "monitor"})
	w := te.Worker(0)
	a := tcp(hist, plc, 40001, 9999, fACK) // operations → control, picked up
	b := tcp(hmi, hist, 40002, 8888, fACK) // supervisory → operations
	for range 3 {
		w.Decide(a)
		w.Decide(b)
		w.Decide(b)
	}
	m := pairsOf(te.Engine)
	if d := m["operations>control"]; d.WouldDrop != 3 || d.Flows != 1 {
		t.Errorf("operations>control = %+v, want 3 would-drops of 1 flow", d)
	}
	if d := m["supervisory>operations"]; d.WouldDrop != 6 || d.Flows != 1 {
		t.Errorf("supervisory>operations = %+v, want 6 would-drops of 1 flow", d)
	}
}
