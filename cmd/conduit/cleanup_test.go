package main

import "testing"

const scopedCleanupPolicy = `mode: monitor
queue: {num: 30, count: 1}
` + opsZones + `rules:
  - {name: hmi-polls-plc, from: supervisory, to: control, proto: tcp, dport: 502}
  - {name: cleanup-sup-ctl, from: supervisory, to: control, action: deny, cleanup: true}
  - {name: cleanup-ops-sup, from: operations, to: supervisory, action: deny, cleanup: true}
  - {name: cleanup, from: any, to: any, action: deny, cleanup: true}
default: deny
`

// TestScopedCleanupHits: each cleanup rule counts what its conduit's rules
// leave, and hits gives each its own quiet-for.
func TestScopedCleanupHits(t *testing.T) {
	r := newOpsRigWith(t, scopedCleanupPolicy)
	w := r.o.eng.Worker(0)
	w.Decide(opsSyn("10.20.0.10", "10.10.0.10", 40000, 502)) // hmi-polls-plc
	w.Decide(opsSyn("10.20.0.10", "10.10.0.10", 40001, 503)) // cleanup-sup-ctl
	w.Decide(opsSyn("10.20.0.10", "10.10.0.11", 40002, 80))  // cleanup-sup-ctl
	w.Decide(opsSyn("10.10.0.10", "10.30.0.10", 40003, 80))  // cleanup (no conduit rule)

	var h hitsJSON
	out := r.runJSON(t, runHits, &h)
	want := map[string]struct {
		flows   uint64
		conduit string
		hit     bool
	}{
		"hmi-polls-plc":   {1, "", true},
		"cleanup-sup-ctl": {2, "supervisory -> control", true},
		"cleanup-ops-sup": {0, "operations -> supervisory", false},
		"cleanup":         {1, "", true},
	}
	for _, rh := range h.Rules {
		wr, ok := want[rh.Name]
		if !ok {
			continue
		}
		if rh.Flows != wr.flows || rh.Conduit != wr.conduit || (rh.LastHit != nil) != wr.hit {
			t.Errorf("rule %+v, want %+v", rh, wr)
		}
	}
	out, _, _ = r.run(t, runHits)
	wantContains(t, "hits", out,
		"cleanup rule cleanup-sup-ctl (supervisory -> control): quiet for ",
		"cleanup rule cleanup-ops-sup (operations -> supervisory): never hit since counting began",
		"cleanup rule cleanup: quiet for ",
		"cleanup rule of supervisory -> control",
	)
}
