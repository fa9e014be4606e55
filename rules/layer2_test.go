package rules

import (
	"slices"
	"strings"
	"testing"
)

const l2Zones = `zones:
  cell: {level: 1, cidrs: [10.10.0.0/24], ports: [vctl, eth3]}
  sup:  {level: 2, cidrs: [10.20.0.0/24], ports: [vsup]}
  ent:  {level: 4, cidrs: [10.40.0.0/24]}
rules:
  - {name: a, from: sup, to: cell}
`

func TestLayer2Decode(t *testing.T) {
	cases := []struct {
		name    string
		section string
		mode    Mode
		modeSet bool
		want    []L2Entry // EtherType, Name, From, To, FromPorts, ToPorts
	}{
		{"absent: arp only, the policy's mode", "", ModeEnforce, false,
			[]L2Entry{{EtherType: 0x0806, Name: "arp"}}},
		{"mode only keeps the default entries", "layer2: {mode: monitor}\n", ModeMonitor, true,
			[]L2Entry{{EtherType: 0x0806, Name: "arp"}}},
		{"empty allow refuses everything", "layer2:\n  allow:\n", ModeEnforce, false, nil},
		{"names, numbers, scopes", `layer2:
  mode: passthrough
  allow:
    - arp
    - LLDP
    - {ethertype: profinet, from: cell, to: cell}
    - {ethertype: 0x88b8, name: goose-bay1, from: [sup, cell]}
    - 0x9000
    - {ethertype: vlan, to: sup, description: tagged to the HMI}
`, ModePassthrough, true, []L2Entry{
			{EtherType: 0x0806, Name: "arp"},
			{EtherType: 0x88cc, Name: "lldp"},
			{EtherType: 0x8892, Name: "profinet", From: []string{"cell"}, To: []string{"cell"},
				FromPorts: []string{"vctl", "eth3"}, ToPorts: []string{"vctl", "eth3"}},
			{EtherType: 0x88b8, Name: "goose-bay1", From: []string{"sup", "cell"}, FromPorts: []string{"vsup", "vctl", "eth3"}},
			{EtherType: 0x9000, Name: "0x9000"},
			{EtherType: 0x8100, Name: "vlan", To: []string{"sup"}, ToPorts: []string{"vsup"}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustParse(t, "mode: enforce\n"+l2Zones+c.section)
			l := &p.Layer2
			if l.Mode != c.mode || l.ModeSet != c.modeSet || l.Written != (c.section != "") {
				t.Errorf("mode %v set %v written %v, want %v %v %v", l.Mode, l.ModeSet, l.Written, c.mode, c.modeSet, c.section != "")
			}
			if len(l.Allow) != len(c.want) {
				t.Fatalf("allow %+v, want %+v", l.Allow, c.want)
			}
			for i, w := range c.want {
				g := l.Allow[i]
				if g.EtherType != w.EtherType || g.Name != w.Name || !slices.Equal(g.From, w.From) || !slices.Equal(g.To, w.To) ||
					!slices.Equal(g.FromPorts, w.FromPorts) || !slices.Equal(g.ToPorts, w.ToPorts) {
					t.Errorf("entry %d: %+v, want %+v", i, g, w)
				}
				if g.Line == 0 && l.Written && c.name != "mode only keeps the default entries" {
					t.Errorf("entry %d has no line", i)
				}
			}
		})
	}
}

func TestLayer2Errors(t *testing.T) {
	cases := []struct{ name, section, want string }{
		{"unknown key", "layer2: {allw: [arp]}", `18:10: layer2: unknown key "allw"; did you mean "allow"?`},
		{"bad mode", "layer2: {mode: strict}", `18:16: layer2: mode must be passthrough, monitor or enforce`},
		{"not a list", "layer2: {allow: arp}", `18:17: layer2: allow must be a list of EtherTypes`},
		{"unknown name", "layer2: {allow: [arp, gose]}", `18:23: layer2: allow #2: unknown EtherType "gose"; did you mean "goose"?`},
		{"far name lists the vocabulary", "layer2: {allow: [modbus]}", `expected a number 0x0600-0xffff or one of: arp, cfm`},
		{"802.3 length", "layer2: {allow: [0x05dc]}", `18:18: layer2: allow #1: EtherType 0x05dc is out of range`},
		{"too big", "layer2: {allow: [0x10000]}", `EtherType 0x10000 is out of range`},
		{"ipv4", "layer2: {allow: [0x0800]}", `18:18: layer2: allow #1: EtherType 0x0800 is IP (ipv4): the rules judge IP traffic`},
		{"ipv6", "layer2: {allow: [0x86dd]}", `is IP (ipv6)`},
		{"ip by name", "layer2: {allow: [arp, ip]}", `18:23: layer2: allow #2: ip is IP: the rules judge IP traffic`},
		{"no ethertype", "layer2: {allow: [{from: cell}]}", `18:18: layer2: allow #1: no ethertype`},
		{"unknown zone", "layer2: {allow: [{ethertype: goose, from: cel}]}", `18:43: layer2: allow #1: unknown zone "cel"; did you mean "cell"?`},
		{"zone without ports", "layer2: {allow: [{ethertype: goose, to: ent}]}", `18:41: layer2: allow #1: to zone ent names no ports`},
		{"scope in a list", "layer2: {allow: [{ethertype: goose, from: [cell, ent]}]}", `18:50: layer2: allow #1: from zone ent names no ports`},
		{"entry key", "layer2: {allow: [{ethertype: goose, port: vsup}]}", `18:37: layer2: allow #1: unknown key "port"`},
		{"bad name", "layer2: {allow: [{ethertype: goose, name: 'a b'}]}", `18:43: layer2: allow #1: name "a b" must start`},
		{"twice", "layer2: {allow: [goose, 0x88b8]}", `18:25: layer2: allow #2: entry goose is already defined at line 18`},
		{"list entry", "layer2: {allow: [[arp]]}", `18:18: layer2: allow #1: a layer2 entry must be a mapping`},
		{"section a list", "layer2: [arp]", `18:9: layer2: layer2 must be a mapping`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "mode: enforce\n" + strings.Repeat("# pad\n", 10) + l2Zones + c.section + "\n"
			wantOneError(t, src, c.want)
		})
	}
}

func TestLayer2Judge(t *testing.T) {
	p := mustParse(t, "mode: enforce\n"+l2Zones+`layer2:
  allow:
    - arp
    - {ethertype: profinet, from: cell, to: cell}
    - {ethertype: goose, name: goose-sup, from: sup}
    - {ethertype: vlan, to: sup}
    - {ethertype: llc, from: cell}
`)
	l := &p.Layer2
	cases := []struct {
		name    string
		t       uint16
		tagged  bool
		in, out string
		want    int
	}{
		{"ip is not judged", 0x0800, false, "vsup", "vctl", -2},
		{"tagged ipv6 is not judged", 0x86dd, true, "vsup", "vctl", -2},
		{"arp anywhere", 0x0806, false, "vent", "vsup", 0},
		{"tagged arp is arp", 0x0806, true, "vent", "vsup", 0},
		{"profinet inside the cell", 0x8892, false, "eth3", "vctl", 1},
		{"profinet from the supervisory side", 0x8892, false, "vsup", "vctl", -1},
		{"profinet, ports unknown", 0x8892, false, "", "", 1},
		{"profinet, out port leaves the cell", 0x8892, false, "vctl", "vsup", -1},
		{"goose from sup", 0x88b8, false, "vsup", "vent", 2},
		{"goose from the cell", 0x88b8, false, "vctl", "vsup", -1},
		{"tagged goose to sup: vlan", 0x88b8, true, "vctl", "vsup", 3},
		{"tagged goose elsewhere", 0x88b8, true, "vctl", "vent", -1},
		{"untagged other", 0x88f7, false, "vctl", "vsup", -1},
		{"802.3 is llc", 0x0026, false, "vctl", "vsup", 4},
		{"llc from elsewhere", 0x0026, false, "vsup", "vctl", -1},
	}
	for _, c := range cases {
		if got := l.Judge(c.t, c.tagged, c.in, c.out); got != c.want {
			t.Errorf("%s: Judge = %d, want %d", c.name, got, c.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { l.Judge(0x8892, false, "eth3", "vctl") }); n != 0 {
		t.Errorf("Judge allocates %v", n)
	}
}

func TestEtherTypeNames(t *testing.T) {
	seen := map[string]bool{}
	nums := map[uint16]bool{}
	for _, e := range EtherTypes {
		if seen[e.Name] || nums[e.Number] || e.Number < 0x0600 && e.Name != "llc" || e.Number == EtherTypeIPv4 || e.Number == EtherTypeIPv6 {
			t.Errorf("vocabulary entry %+v: duplicate, out of range or IP", e)
		}
		seen[e.Name], nums[e.Number] = true, true
		if EtherTypeName(e.Number) != e.Name {
			t.Errorf("EtherTypeName(%#x) = %q, want %q", e.Number, EtherTypeName(e.Number), e.Name)
		}
	}
	for _, c := range []struct {
		t    uint16
		want string
	}{{0x88b8, "goose"}, {0x8892, "profinet"}, {0x0800, "ipv4"}, {0x9000, "0x9000"}, {0x0000, "llc"}} {
		if got := EtherTypeName(c.t); got != c.want {
			t.Errorf("EtherTypeName(%#x) = %q, want %q", c.t, got, c.want)
		}
	}
}
