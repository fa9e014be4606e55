package main

// The e2e tests of this package drive the harness of internal/e2e; rig
// carries their own helpers on its Rig.

import (
	"os"
	"testing"

	"github.com/conduit-ot/conduit/internal/e2e"
)

func TestMain(m *testing.M) { os.Exit(e2e.Main(m)) }

// rig is an e2e.Rig with the helpers of this package's e2e tests.
type rig struct{ *e2e.Rig }

func newRig(t *testing.T) *rig { t.Helper(); return &rig{e2e.NewRig(t)} }

// checkViolation checks what every app-violation verdict line of an
// inspection test says: the rule, the mode and its verdict (accept in
// monitor, drop otherwise), that it would drop, the port, the protocol
// and whether conduit reset the flow. It returns the line's app object
// for the protocol's own fields.
func checkViolation(t testing.TB, l e2e.Line, rule, mode, onViolation, proto string, dport int) map[string]any {
	t.Helper()
	app, _ := l.M["app"].(map[string]any)
	verdict := "drop"
	if mode == "monitor" {
		verdict = "accept"
	}
	if l.Str("rule") != rule || l.Str("mode") != mode || l.Str("verdict") != verdict || l.Str("would") != "drop" ||
		l.Num("dport") != dport || app == nil || app["proto"] != proto {
		t.Errorf("violation line: %s", l.Raw)
	}
	if reset, _ := l.M["reset"].(bool); reset != (onViolation == "reset") {
		t.Errorf("violation line says reset %v: %s", reset, l.Raw)
	}
	return app
}

// violationMode is one way an inspection test meets a violation: its
// mode and the rule's on_violation ("" for the default, drop).
type violationMode struct{ mode, onViolation string }

// violationModes are the ways every inspection test runs: monitor,
// enforce, and enforce with on_violation reset.
var violationModes = []violationMode{{"monitor", ""}, {"enforce", ""}, {"enforce", "reset"}}

// String names the subtest: the mode, then /onViolation if set.
func (v violationMode) String() string {
	if v.onViolation == "" {
		return v.mode
	}
	return v.mode + "/" + v.onViolation
}
