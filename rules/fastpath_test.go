package rules

import (
	"strings"
	"testing"
)

func TestFastpathKey(t *testing.T) {
	const zones = "zones:\n  a: {level: 2, cidrs: [10.1.0.0/24]}\n  b: {level: 1, cidrs: [10.2.0.0/24]}\n"
	for _, tc := range []struct {
		name   string
		global string
		rules  string
		want   []bool // Fastpath by rule
		err    string
	}{
		{"default on for a plain allow, off for deny, condition and cleanup", "",
			"  - {name: plain, from: a, to: b, proto: tcp, dport: 80}\n" +
				"  - {name: deny, from: b, to: a, action: deny}\n" +
				"  - {name: mb, from: a, to: b, proto: tcp, dport: 502, modbus: {functions: [read_coils]}}\n" +
				"  - {name: cleanup, from: any, to: any, cleanup: true}\n",
			[]bool{true, false, false, false}, ""},
		{"off globally, on per rule", "fastpath: false\n",
			"  - {name: plain, from: a, to: b, proto: tcp, dport: 80}\n" +
				"  - {name: fast, from: a, to: b, proto: udp, fastpath: true}\n" +
				"  - {name: cleanup, from: any, to: any, cleanup: true, fastpath: true}\n",
			[]bool{false, true, true}, ""},
		{"off per rule", "",
			"  - {name: slow, from: a, to: b, proto: tcp, dport: 80, fastpath: false}\n",
			[]bool{false}, ""},
		{"refused with a protocol condition", "",
			"  - {name: mb, from: a, to: b, proto: tcp, dport: 502, modbus: {functions: [read_coils]}, fastpath: true}\n",
			nil, "fastpath: true is not possible with a protocol condition"},
		{"refused on a deny rule", "",
			"  - {name: d, from: a, to: b, action: deny, fastpath: true}\n",
			nil, "fastpath applies only to allow rules"},
		{"not a boolean", "fastpath: sometimes\n",
			"  - {name: plain, from: a, to: b}\n",
			nil, "fastpath"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse("t.yaml", []byte(tc.global+zones+"rules:\n"+tc.rules))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range tc.want {
				if p.Rules[i].Fastpath != w {
					t.Errorf("rule %s: Fastpath %v, want %v", p.Rules[i].Name, p.Rules[i].Fastpath, w)
				}
			}
		})
	}
}
