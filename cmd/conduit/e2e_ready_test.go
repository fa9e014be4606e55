package main

// End-to-end test of the evidence commands on the netns plant: cleanup
// rules scoped to conduits keep their own quiet-for, ready judges each
// conduit by its own, coverage says what each rule carried, review turns a
// cleanup rule's catches into a candidate rule, and coverage survives a
// restart.

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/internal/e2e"
)

const readyE2EPolicy = `mode: monitor
queue: {num: %d, count: 1, fail_open: true}
log: {file: "-"}
control: {socket: %q}
zones:
  enterprise:  {level: 4, cidrs: [10.40.0.0/16, "fd00:40::/64"]}
  operations:  {level: 3, cidrs: [10.30.0.0/24, "fd00:30::/64"]}
  supervisory: {level: 2, cidrs: [10.20.0.0/24, "fd00:20::/64"]}
  control:     {level: 1, cidrs: [10.10.0.0/24, "fd00:10::/64"]}
rules:
  - {name: hmi-io-udp, from: supervisory, to: control, proto: udp, dport: 2222}
  - {name: cleanup-ops-ctl, from: operations, to: control, cleanup: true}
  - {name: cleanup-sup-ctl, from: supervisory, to: control, cleanup: true}
  - {name: cleanup, from: any, to: any, cleanup: true}
default: deny
`

func TestE2EReadyPerConduit(t *testing.T) {
	r := newRig(t)
	sock := r.Socket()
	state := filepath.Join(r.Dir, "state.json")
	e2e.WriteFile(t, r.Path, fmt.Sprintf(readyE2EPolicy, 74, sock))
	d := r.startOps("--state", state)

	r.udpExchanges(e2e.SupUDP, 3) // hmi-io-udp
	r.udpExchanges(e2e.OpsUDP, 1) // cleanup-ops-ctl
	const quiet = "3s"            // long enough that the checks after a new flow run inside it
	time.Sleep(3500 * time.Millisecond)
	for _, c := range []string{"supervisory->control", "operations->control"} {
		if out := r.opsCLI(sock, 0, "ready", "--conduit", c, "--quiet", quiet); !strings.Contains(out, ": ready for enforce") {
			t.Errorf("ready %s after %s quiet:\n%s", c, quiet, out)
		}
	}
	// A new unknown flow from operations: that conduit's cleanup rule
	// is no longer quiet, supervisory -> control's still is.
	r.udpExchanges(e2e.OpsUDP, 1)
	out := r.opsCLI(sock, 1, "ready", "--conduit", "operations->control", "--quiet", quiet)
	if !strings.Contains(out, "FAIL  cleanup_quiet   quiet for ") || !strings.Contains(out, "(last caught by cleanup-ops-ctl at ") {
		t.Errorf("ready operations->control after an unknown flow:\n%s", out)
	}
	r.opsCLI(sock, 0, "ready", "--conduit", "supervisory->control", "--quiet", quiet)
	r.opsCLI(sock, 1, "ready", "--quiet", quiet) // the box: not while one conduit is not
	hits := r.opsCLI(sock, 0, "hits")
	wantContains(t, "hits", hits, "cleanup rule cleanup-ops-ctl (operations -> control): quiet for ",
		"cleanup rule cleanup-sup-ctl (supervisory -> control): never hit since counting began",
		"cleanup rule cleanup: never hit since counting began",
	)

	var cov coverageReply
	r.opsJSON(sock, &cov, "coverage", "--rule", "cleanup-ops-ctl")
	want := func(cov coverageReply, why string) {
		t.Helper()
		if len(cov.Rules) != 1 || len(cov.Rules[0].Tuples) != 1 {
			t.Fatalf("%s: coverage %+v", why, cov)
		}
		tc := cov.Rules[0].Tuples[0]
		if tc.Client != r.Src(e2e.OpsUDP) || tc.Server != r.Dst(e2e.OpsUDP) || tc.Proto != "udp" || tc.Port != uint16(e2e.OpsUDP.Port()) || tc.Flows != 2 {
			t.Errorf("%s: cleanup-ops-ctl carried %+v", why, tc)
		}
	}
	want(cov, "coverage")
	var rev reviewReport
	r.opsJSON(sock, &rev, "review")
	if len(rev.Candidates) != 1 || rev.Candidates[0].Cleanup != "cleanup-ops-ctl" || len(rev.Candidates[0].Rules) != 1 ||
		!strings.Contains(rev.Candidates[0].Rules[0].YAML, fmt.Sprintf("from: %s\n    to: %s\n    proto: udp\n    dport: %d\n", r.Src(e2e.OpsUDP), r.Dst(e2e.OpsUDP), e2e.OpsUDP.Port())) {
		t.Errorf("review candidates: %+v", rev.Candidates)
	}

	// Coverage is saved with the counters and back after a restart.
	d.Stop()
	d2 := r.startOps("--state", state)
	d2.Wait(0, "the restored hit counters", func(l e2e.Line) bool { return l.Event() == "state" })
	cov = coverageReply{}
	r.opsJSON(sock, &cov, "coverage", "--rule", "cleanup-ops-ctl")
	want(cov, "coverage after a restart")
	var all coverageReply
	r.opsJSON(sock, &all, "coverage")
	var io engine.RuleCoverage
	for _, rc := range all.Rules {
		if rc.Name == "hmi-io-udp" {
			io = rc
		}
	}
	if len(io.Tuples) != 1 || io.Tuples[0].Flows != 3 || io.Tuples[0].Client != r.Src(e2e.SupUDP) {
		t.Errorf("hmi-io-udp after a restart: %+v", io)
	}
}
