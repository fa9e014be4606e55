package rules

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

const boundZones = `
zones:
  ops:  {level: 3, cidrs: [10.30.0.0/24], ports: [vops, eth9]}
  sup:  {level: 2, cidrs: [10.20.0.0/24], ports: vsup, macs: ["02:00:00:00:20:10", "02-00-00-00-20-11"]}
  ctl:  {level: 1, cidrs: [10.10.0.0/24], macs: [02:00:00:00:10:10]}
  ent:  {level: 4, cidrs: [10.40.0.0/24]}
rules:
  - {name: a, from: sup, to: ctl}
  - {name: b, from: ops, to: ent}
`

func TestZoneBindingsDecode(t *testing.T) {
	p := mustParse(t, boundZones)
	mac := func(s string) MAC {
		var m MAC
		for i := range m {
			m[i] = hexByte(s[3*i:])
		}
		return m
	}
	cases := []struct {
		zone  string
		ports []string
		macs  []MAC
	}{
		{"ops", []string{"vops", "eth9"}, nil},
		{"sup", []string{"vsup"}, []MAC{mac("02:00:00:00:20:10"), mac("02:00:00:00:20:11")}},
		{"ctl", nil, []MAC{mac("02:00:00:00:10:10")}},
		{"ent", nil, nil},
	}
	for _, c := range cases {
		id, _ := p.ZoneByName(c.zone)
		z := &p.Zones[id-1]
		if !slices.Equal(z.Ports, c.ports) || !slices.Equal(z.MACs, c.macs) {
			t.Errorf("zone %s: ports %v macs %v, want %v %v", c.zone, z.Ports, z.MACs, c.ports, c.macs)
		}
		if got := p.Binding(id) != nil; got != (c.ports != nil || c.macs != nil) {
			t.Errorf("zone %s: Binding set %v", c.zone, got)
		}
	}
	if !p.Binds() || !p.BindsPorts() || p.Binding(ZoneUnknown) != nil {
		t.Error("Binds/BindsPorts/Binding(unknown)")
	}
	if len(p.Advice("t.yaml")) != 0 || len(p.Warnings) != 0 {
		t.Errorf("advice %v warnings %v", p.Advice("t.yaml"), p.Warnings)
	}
	// A policy that binds no port gets the advice, at its zones key.
	q := mustParse(t, "mode: monitor\n"+strings.Replace(strings.Replace(strings.Replace(boundZones,
		", ports: [vops, eth9]", "", 1), "ports: vsup, ", "", 1), "", "", 1))
	if q.BindsPorts() || !q.Binds() {
		t.Error("macs only: BindsPorts should be false, Binds true")
	}
	adv := q.Advice("t.yaml")
	if len(adv) != 1 || adv[0].Line != 3 || !adv[0].Warning || !strings.Contains(adv[0].Msg, "advice for a bridge box") {
		t.Errorf("advice %v", adv)
	}
}

func hexByte(s string) byte {
	v := func(c byte) byte {
		if c >= 'a' {
			return c - 'a' + 10
		}
		return c - '0'
	}
	return v(s[0])<<4 | v(s[1])
}

func TestZoneAdmits(t *testing.T) {
	p := mustParse(t, boundZones)
	zone := func(n string) *Zone { id, _ := p.ZoneByName(n); return &p.Zones[id-1] }
	good, other := MAC{2, 0, 0, 0, 0x20, 0x10}, MAC{2, 0, 0, 0, 0x40, 0x10}
	cases := []struct {
		name, zone, port string
		mac              MAC
		hasMAC           bool
		want             bool
	}{
		{"its port", "ops", "vops", other, true, true},
		{"its second port", "ops", "eth9", MAC{}, false, true},
		{"another port", "ops", "vent", other, true, false},
		{"unknown port", "ops", "", other, true, false},
		{"port and mac", "sup", "vsup", good, true, true},
		{"port, other mac", "sup", "vsup", other, true, false},
		{"mac, other port", "sup", "vent", good, true, false},
		{"port, no mac known", "sup", "vsup", MAC{}, false, false},
		{"mac only: any port", "ctl", "vent", MAC{2, 0, 0, 0, 0x10, 0x10}, true, true},
		{"mac only: other mac", "ctl", "vctl", good, true, false},
		{"unbound", "ent", "whatever", other, false, true},
	}
	for _, c := range cases {
		if got := zone(c.zone).Admits(c.port, c.mac, c.hasMAC); got != c.want {
			t.Errorf("%s: Admits = %v, want %v", c.name, got, c.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { zone("sup").Admits("vsup", good, true) }); n != 0 {
		t.Errorf("Admits allocates %v", n)
	}
	_ = netip.Addr{}
}

func TestZoneBindingErrors(t *testing.T) {
	cases := []struct{ name, zone, want string }{
		{"unknown key", `{level: 3, cidrs: [10.0.0.0/8], prots: [eth1]}`, `4:38: zone z: unknown key "prots"; did you mean "ports"?`},
		{"empty ports", `{level: 3, cidrs: [10.0.0.0/8], ports: []}`, `4:45: zone z: ports is an empty list`},
		{"null ports", `{level: 3, cidrs: [10.0.0.0/8], ports: }`, `4:45: zone z: ports is empty`},
		{"slash", `{level: 3, cidrs: [10.0.0.0/8], ports: [br0/eth1]}`, `4:46: zone z: port "br0/eth1" is not an interface name`},
		{"too long", `{level: 3, cidrs: [10.0.0.0/8], ports: [enp0s31f6.10000x]}`, `at most 15 characters`},
		{"twice", `{level: 3, cidrs: [10.0.0.0/8], ports: [eth1, eth1]}`, `4:52: zone z: port eth1 is listed twice`},
		{"bad mac", `{level: 3, cidrs: [10.0.0.0/8], macs: [00:11:22]}`, `4:45: zone z: "00:11:22" is not a MAC address`},
		{"eui64", `{level: 3, cidrs: [10.0.0.0/8], macs: ["00:11:22:33:44:55:66:77"]}`, `is not a MAC address`},
		{"broadcast", `{level: 3, cidrs: [10.0.0.0/8], macs: ["ff:ff:ff:ff:ff:ff"]}`, `is a multicast address`},
		{"mac twice", `{level: 3, cidrs: [10.0.0.0/8], macs: ["02:00:00:00:00:01", "02-00-00-00-00-01"]}`, `02:00:00:00:00:01 is listed twice`},
		{"mac mapping", `{level: 3, cidrs: [10.0.0.0/8], macs: {a: b}}`, `macs must be a value or a list of values, not a mapping`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "mode: monitor\nrules: []\nzones:\n  z: " + c.zone + "\n"
			wantOneError(t, src, c.want)
		})
	}
}
