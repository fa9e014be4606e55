package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/engine"
)

// TestCoverageCommand: the daemon answers what each rule carried, bounded
// per rule with the rest counted.
func TestCoverageCommand(t *testing.T) {
	r := newOpsRig(t)
	w := r.o.eng.Worker(0)
	w.Decide(opsSyn("10.20.0.10", "10.10.0.10", 40000, 502))
	w.Decide(opsSyn("10.20.0.10", "10.10.0.10", 40001, 502))
	w.Decide(opsSyn("10.20.0.11", "10.10.0.10", 40002, 502))
	n := engine.CoverTuples + 44
	for i := range n {
		w.Decide(opsSyn("10.20.0.12", "10.10.0.20", 41000, uint16(1000+i))) // cleanup: one tuple per port
	}
	var c coverageReply
	out := r.runJSON(t, runCoverage, &c, "--top", "10")
	byName := map[string]engine.RuleCoverage{}
	for _, rc := range c.Rules {
		byName[rc.Name] = rc
	}
	hmi := byName["hmi-polls-plc"]
	if len(hmi.Tuples) != 2 || hmi.Tuples[0].Flows != 2 || hmi.Tuples[0].Client.String() != "10.20.0.10" || hmi.Tuples[1].Client.String() != "10.20.0.11" || hmi.MoreTuples != 0 {
		t.Errorf("hmi-polls-plc: %+v", hmi)
	}
	cl := byName["cleanup"]
	if len(cl.Tuples) != 10 || cl.MoreTuples != engine.CoverTuples-10 || cl.MoreFlows != 44 || !cl.Cleanup {
		t.Errorf("cleanup: %d tuples, %d more, %d more flows", len(cl.Tuples), cl.MoreTuples, cl.MoreFlows)
	}
	if len(byName["wide"].Tuples) != 0 || len(c.Rules) != 4 {
		t.Errorf("rules %+v", c.Rules)
	}
	out, _, _ = r.run(t, runCoverage, "--rule", "cleanup", "--top", "3")
	wantContains(t, "coverage --rule cleanup", out, "rule cleanup (allow, cleanup): 256 tuples", "… and 253 more", "… and 44 flows, 0 requests beyond the 256 tuples kept per rule", "10.20.0.12  10.10.0.20")
	if _, errOut, code := r.run(t, runCoverage, "--rule", "nope"); code != 1 || !strings.HasPrefix(errOut, "conduit coverage: no rule \"nope\" in the policy in force (rules: hmi-polls-plc, wide, cleanup, default)") {
		t.Errorf("unknown rule: %d %q", code, errOut)
	}
	out, _, _ = r.run(t, runCoverage)
	if !strings.Contains(out, "carried nothing: wide, default") {
		t.Errorf("coverage:\n%s", out)
	}
}

// TestCoverageOffline: -c FILE CAPTURE... replays instead of asking a
// daemon, with the capture's clock.
func TestCoverageOffline(t *testing.T) {
	code, out, errOut := evRun(t, runCoverage, "-c", evidence+"/plant.yaml", evidence+"/plant.pcap", "--json", "--rule", "hmi-polls-modbus", "--top", "0")
	if code != 0 {
		t.Fatalf("coverage: %d %s", code, errOut)
	}
	var c coverageReply
	json.Unmarshal([]byte(out), &c)
	if len(c.Rules) != 1 || len(c.Rules[0].Tuples) != 22 || c.Now.Format("2006-01-02") != "2024-03-04" {
		t.Errorf("offline coverage: %+v", c)
	}
}
