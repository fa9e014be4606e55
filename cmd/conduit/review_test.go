package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/replay"
	"github.com/conduit-ot/conduit/rules"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of review and ready")

// goldenText compares got with a file of testdata/replay; -update
// rewrites it.
func goldenText(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(evidence, name)
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/conduit -run Review -update creates it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./cmd/conduit -run Review -update rewrites it); got:\n%s", path, got)
	}
}

const plantZones = `zones:
  operations:  {level: 3, cidrs: [10.30.0.0/24]}
  supervisory: {level: 2, cidrs: [10.20.0.0/24]}
  engineering: {level: 2, cidrs: [10.20.0.32/28]}
  control:     {level: 1, cidrs: [10.10.0.0/24]}
`

// TestReviewPlant: review of the plant policy over the plant capture,
// exactly (golden files): a one-hour window narrows the broad rules and
// retires the NTP rules, quiet since the first minute; a three-hour one
// also turns what the cleanup rule caught into a candidate rule. The
// narrowed rules are a valid policy that carries, in replay, every request
// the broad rule carried, and nothing else takes the Modbus traffic.
func TestReviewPlant(t *testing.T) {
	pol, pcap := filepath.Join(evidence, "plant.yaml"), filepath.Join(evidence, "plant.pcap")
	code, out1h, errOut := evRun(t, runReview, "-c", pol, pcap, "--window", "1h")
	if code != 0 {
		t.Fatalf("review: %d %s", code, errOut)
	}
	goldenText(t, "plant.review-1h.yaml", out1h)
	code, out3h, errOut := evRun(t, runReview, "-c", pol, pcap, "--window", "3h")
	if code != 0 {
		t.Fatalf("review: %d %s", code, errOut)
	}
	goldenText(t, "plant.review-3h.yaml", out3h)

	code, js, _ := evRun(t, runReview, "-c", pol, pcap, "--window", "1h", "--json")
	var rep reviewReport
	if err := json.Unmarshal([]byte(js), &rep); code != 0 || err != nil {
		t.Fatalf("review --json: %d %v", code, err)
	}
	if rep.YAML != out1h || len(rep.Narrowed) != 6 || rep.Narrowed[0].Rule != "hmi-polls-modbus" || rep.Narrowed[0].Requests != 521 ||
		len(rep.Retire) != 2 || rep.Retire[0].Rule != "ntp-controllers" || len(rep.Candidates) != 0 {
		t.Errorf("review --json: %+v", rep)
	}
	if !strings.Contains(out3h, "candidates from cleanup rule cleanup (global)") || !strings.Contains(out3h, "from: 10.20.0.33\n    to: 10.30.0.5\n    proto: udp\n    dport: 53\n") {
		t.Errorf("3h review lacks the cleanup candidate:\n%s", out3h)
	}

	// The narrowed rules, then anything else: the narrowed ones carry all
	// the Modbus requests.
	text := "mode: enforce\n" + plantZones + out1h[strings.Index(out1h, "rules:\n"):strings.Index(out1h, "# === retire")] +
		"  - {name: rest, from: any, to: any}\n"
	p, err := rules.Parse("narrowed.yaml", []byte(text))
	if err != nil {
		t.Fatalf("the review is not a valid rules list: %v\n%s", err, text)
	}
	r := replay.New(replay.Config{Policy: p})
	if err := r.Open(pcap); err != nil {
		t.Fatal(err)
	}
	res, _ := r.Result()
	var mbFlows, mbReqs uint64
	for _, h := range res.Rules {
		if strings.HasPrefix(h.Name, "hmi-polls-modbus-") {
			mbFlows, mbReqs = mbFlows+h.Flows, mbReqs+h.Requests
		}
	}
	if mbFlows != 23 || mbReqs != 521 || res.Verdicts.Drop != 0 {
		t.Errorf("narrowed Modbus rules carried %d flows, %d requests; %+v", mbFlows, mbReqs, res)
	}
	for _, rc := range r.Engine().Coverage(0) {
		if rc.Name != "rest" {
			continue
		}
		for _, tc := range rc.Tuples {
			if tc.Port == 502 || tc.Port == 102 || tc.Port == 20000 || tc.Port == 44818 {
				t.Errorf("an industrial flow fell through the narrowed rules: %+v", tc)
			}
		}
	}
}
