// Package condtest parses a policy of one rule with a protocol
// condition, for the protocols' condition tests (their external test
// packages: the policy decoder reaches a protocol through proto's table,
// so a protocol's own package cannot import it).
package condtest

import (
	"testing"

	"github.com/conduit-ot/conduit/rules"
)

const zones = `
zones:
  sup: {level: 2, cidrs: [10.20.0.0/24]}
  ctl: {level: 1, cidrs: [10.10.0.0/24]}
`

// Parse parses, as file t.yaml, a policy whose one rule r, from sup
// (10.20.0.0/24) to ctl (10.10.0.0/24) on l4 and dport, carries cond
// (YAML lines of the rule after its dport, from line 11 on).
func Parse(l4, dport, cond string) (*rules.Policy, error) {
	src := zones + "rules:\n  - name: r\n    from: sup\n    to: ctl\n    proto: " + l4 + "\n    dport: " + dport + "\n" + cond
	return rules.Parse("t.yaml", []byte(src))
}

// Rule parses the policy of Parse and returns its rule.
func Rule(t testing.TB, l4, dport, cond string) *rules.Rule {
	t.Helper()
	p, err := Parse(l4, dport, cond)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return &p.Rules[0]
}

// Cond is the rule's condition as the protocol's type C.
func Cond[C any](t testing.TB, l4, dport, cond string) C {
	t.Helper()
	r := Rule(t, l4, dport, cond)
	var c C
	ok := false
	if r.App != nil {
		c, ok = r.App.Cond.(C)
	}
	if !ok {
		t.Fatalf("rule %s: condition %v is not a %T", r.Name, r.App, c)
	}
	return c
}
