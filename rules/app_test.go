package rules

import (
	"strings"
	"testing"
)

const appZones = `
zones:
  sup: {level: 2, cidrs: [10.20.0.0/24]}
  ctl: {level: 1, cidrs: [10.10.0.0/24]}
`

// appRule parses a policy whose one rule carries cond (YAML lines of the
// rule after proto/dport) and returns the rule.
func appRule(t *testing.T, proto, dport, cond string) *Rule {
	t.Helper()
	src := appZones + "rules:\n  - name: r\n    from: sup\n    to: ctl\n    proto: " + proto + "\n    dport: " + dport + "\n" + cond
	p := mustParse(t, src)
	return &p.Rules[0]
}

// TestAppVocabulary writes every valid name of every field into a rule:
// the policy must parse, and each name must land on a code.
func TestAppVocabulary(t *testing.T) {
	voc := AppVocabulary()
	list := func(k string) string { return "[" + strings.Join(voc[k], ", ") + "]" }
	for _, tc := range []struct{ proto, port, cond string }{
		{"tcp", "502", "modbus: {functions: " + list("modbus.functions") + "}"},
		{"tcp", "20000", "dnp3: {functions: " + list("dnp3.functions") + "}"},
		{"tcp", "44818", "enip: {commands: " + list("enip.commands") + "}\n    cip: {services: " + list("cip.services") + ", classes: " + list("cip.classes") + "}"},
		{"tcp", "102", "s7: {functions: " + list("s7.functions") + ", userdata_groups: " + list("s7.userdata_groups") + "}"},
	} {
		r := appRule(t, tc.proto, tc.port, "    "+tc.cond+"\n")
		if r.App == nil || r.App.String() == "" {
			t.Errorf("%s: no condition", tc.cond)
		}
	}
	for k, names := range voc {
		if len(names) == 0 {
			t.Errorf("%s: empty vocabulary", k)
		}
	}
}

func TestAppKeysDefaults(t *testing.T) {
	rule := func(extra string) string {
		return "    modbus: {preset: read_only}\n" + extra
	}
	r := appRule(t, "tcp", "502", rule(""))
	if r.OnUnparsed != UnparsedDeny || r.OnViolation != ViolationDrop {
		t.Errorf("defaults: on_unparsed %v on_violation %v, want deny and drop", r.OnUnparsed, r.OnViolation)
	}
	p := mustParse(t, "on_unparsed: allow\non_violation: reset\n"+appZones+`rules:
  - {name: a, from: sup, to: ctl, proto: tcp, dport: 502, modbus: {}}
  - {name: b, from: sup, to: ctl, proto: tcp, dport: 503, modbus: {}, on_unparsed: deny, on_violation: drop}
`)
	if a := p.Rules[0]; a.OnUnparsed != UnparsedAllow || a.OnViolation != ViolationReset {
		t.Errorf("rule a does not inherit the policy's keys: %v %v", a.OnUnparsed, a.OnViolation)
	}
	if b := p.Rules[1]; b.OnUnparsed != UnparsedDeny || b.OnViolation != ViolationDrop {
		t.Errorf("rule b does not override them: %v %v", b.OnUnparsed, b.OnViolation)
	}
	if s := p.Rules[1].App.String(); s != "modbus: {}" {
		t.Errorf("String() = %q", s)
	}
}

func TestAppWarnings(t *testing.T) {
	p := mustParse(t, appZones+`rules:
  - {name: s7-read, from: sup, to: ctl, proto: tcp, dport: 102, s7: {functions: [read_var]}}
  - {name: dnp3-udp, from: sup, to: ctl, proto: udp, dport: 20000, dnp3: {}, on_violation: reset}
  - {name: modbus-read, from: sup, to: ctl, proto: tcp, dport: 502, modbus: {preset: read_only}}
  - {name: modbus-write, from: sup, to: ctl, proto: tcp, dport: 502, modbus: {preset: read_write}}
`)
	want := []string{
		"s7 functions lack setup_communication",
		"on_violation reset needs TCP",
		"rule modbus-write can never match: rule modbus-read (line 8) above it matches everything it does (flows are matched by addresses and ports; modbus-read's modbus condition",
	}
	var got []string
	for _, w := range p.Warnings {
		got = append(got, w.Msg)
	}
	all := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("no warning %q in:\n%s", w, all)
		}
	}
}
