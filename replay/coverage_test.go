package replay

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
)

// TestPlantCoverage: what each rule of the plant policy carried. Every
// flow and every request a rule counts is in exactly one of its tuples,
// and hmi-polls-modbus (supervisory -> control, tcp/502) carried only
// reads, from each HMI to its own PLCs. The whole answer is a golden file.
func TestPlantCoverage(t *testing.T) {
	p := loadPolicy(t, filepath.Join(testdata, "plant.yaml"))
	r := New(Config{Policy: p})
	if err := r.Open(filepath.Join(testdata, "plant.pcap")); err != nil {
		t.Fatal(err)
	}
	res, err := r.Result()
	if err != nil {
		t.Fatal(err)
	}
	cov := r.Engine().Coverage(0)
	if len(cov) != len(res.Rules) {
		t.Fatalf("%d rules with coverage, %d with hits", len(cov), len(res.Rules))
	}
	for i, rc := range cov {
		h := res.Rules[i]
		var flows, reqs uint64
		for _, tc := range rc.Tuples {
			flows, reqs = flows+tc.Flows, reqs+tc.Requests
			if tc.FirstSeen.After(tc.LastSeen) || tc.LastSeen.After(*h.LastHit) {
				t.Errorf("rule %s tuple %+v: seen out of order (rule last hit %s)", rc.Name, tc, h.LastHit)
			}
		}
		if rc.Name != h.Name || flows != h.Flows || reqs != h.Requests || rc.MoreFlows != 0 || rc.MoreTuples != 0 {
			t.Errorf("rule %s: tuples carry %d flows, %d requests; hits say %+v", rc.Name, flows, reqs, h)
		}
	}
	hmi := cov[0]
	if hmi.Name != "hmi-polls-modbus" || len(hmi.Tuples) != 22 {
		t.Fatalf("hmi-polls-modbus: %+v", hmi)
	}
	for _, tc := range hmi.Tuples {
		for f := range tc.Functions {
			switch f {
			case "modbus read_coils", "modbus read_holding_registers", "modbus read_input_registers":
			default:
				t.Errorf("hmi-polls-modbus carried %s on %+v", f, tc)
			}
		}
	}
	goldenJSON(t, filepath.Join(testdata, "plant.coverage.json"), "coverage", cov)
}

// TestCoverageSurvivesRestart: the state file keeps coverage with the hit
// counters; a new engine that loads it answers the same.
func TestCoverageSurvivesRestart(t *testing.T) {
	p := loadPolicy(t, filepath.Join(testdata, "plant.yaml"))
	r := New(Config{Policy: p})
	if err := r.Open(filepath.Join(testdata, "plant.pcap")); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(t.TempDir(), "state.json")
	if err := r.Engine().SaveHits(state); err != nil {
		t.Fatal(err)
	}
	fresh := New(Config{Policy: p})
	if _, err := fresh.Engine().LoadHits(state); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(r.Engine().Coverage(0))
	got, _ := json.Marshal(fresh.Engine().Coverage(0))
	if !bytes.Equal(got, want) {
		t.Errorf("coverage after a restart:\n%s\nwant\n%s", got, want)
	}
	// Loaded twice (a restart that did not save): counts add, tuples stay.
	if _, err := fresh.Engine().LoadHits(state); err != nil {
		t.Fatal(err)
	}
	c := fresh.Engine().Coverage(0)
	if len(c[0].Tuples) != 22 || c[0].Tuples[0].Flows != 2*r.Engine().Coverage(0)[0].Tuples[0].Flows {
		t.Errorf("coverage loaded twice: %+v", c[0].Tuples[0])
	}
}
