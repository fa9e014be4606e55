package main

import (
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/engine"
)

// TestStatusZonePairs: status counts flows, denied flows and would-drops
// by zone pair, in --json and in the table.
func TestStatusZonePairs(t *testing.T) {
	r := newOpsRigWith(t, strings.Replace(opsTestPolicy, "  - {name: cleanup, from: any, to: any, cleanup: true}\n", "", 1))
	w := r.o.eng.Worker(0)
	w.Decide(opsSyn("10.20.0.10", "10.10.0.10", 40000, 502)) // hmi-polls-plc
	w.Decide(opsSyn("10.30.0.10", "10.10.0.10", 40001, 502)) // default: dropped, the conduit enforces
	w.Decide(opsSyn("10.30.0.10", "10.10.0.10", 40001, 502)) // its retransmission
	w.Decide(opsSyn("10.20.0.10", "10.30.0.10", 40002, 80))  // default: monitor, tracked

	var s statusReport
	out := r.runJSON(t, runStatus, &s)
	want := []engine.ConduitStats{
		{From: "operations", To: "control", Flows: 1, DeniedFlows: 1, WouldDrop: 2},
		{From: "supervisory", To: "control", Flows: 1},
		{From: "supervisory", To: "operations", Flows: 1, DeniedFlows: 1, WouldDrop: 1},
	}
	if len(s.ZonePairs) != len(want) {
		t.Fatalf("zone_pairs = %+v, want %+v", s.ZonePairs, want)
	}
	for i := range want {
		if s.ZonePairs[i] != want[i] {
			t.Errorf("zone_pairs[%d] = %+v, want %+v", i, s.ZonePairs[i], want[i])
		}
	}

	out, _, code := r.run(t, runStatus)
	if code != 0 {
		t.Fatal("status failed")
	}
	rows := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		rows[strings.Join(strings.Fields(l), " ")] = true
	}
	for _, l := range []string{"ZONE PAIR FLOWS DENIED FLOWS WOULD DROP KERNEL DROPPED", "operations -> control 1 1 2 0", "supervisory -> operations 1 1 1 0"} {
		if !rows[l] {
			t.Errorf("status lacks %q:\n%s", l, out)
		}
	}
}
