package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/engine/nflog"
	"github.com/conduit-ot/conduit/engine/nflog/nflogtest"
	"github.com/conduit-ot/conduit/rules"
)

// TestLayer2Frame decodes the bridge table's NFLOG messages: the mode
// from the prefix, EtherType and MACs from the Ethernet header, the tag
// the kernel took off or one left in the frame, 802.3 as llc, the ports.
func TestLayer2Frame(t *testing.T) {
	eng := newOpsRig(t).o.eng // any engine: the decoding needs only its port names
	hdr := func(et uint16) []byte {
		return []byte{0x01, 0x0c, 0xcd, 0x01, 0, 1, 2, 0, 0, 0, 0x20, 0x10, byte(et >> 8), byte(et)}
	}
	cases := []struct {
		name    string
		prefix  string
		l2      []byte
		payload []byte
		tci     uint16
		want    engine.Layer2Frame
		ok      bool
	}{
		{"goose", "l2:enforce", hdr(0x88b8), nil, 0, engine.Layer2Frame{Mode: rules.ModeEnforce, EtherType: 0x88b8}, true},
		{"tag taken off", "l2:monitor", hdr(0x8892), nil, 0x2005, engine.Layer2Frame{Mode: rules.ModeMonitor, EtherType: 0x8892, Tagged: true, VLAN: 5}, true},
		{"tag in the frame", "l2:enforce", hdr(0x8100), []byte{0x00, 0x07, 0x88, 0xb8}, 0, engine.Layer2Frame{Mode: rules.ModeEnforce, EtherType: 0x88b8, Tagged: true, VLAN: 7}, true},
		{"802.3", "l2:enforce", hdr(0x0026), []byte{0x42, 0x42, 0x03}, 0, engine.Layer2Frame{Mode: rules.ModeEnforce, EtherType: rules.EtherTypeLLC}, true},
		{"not a layer2 prefix", "default", hdr(0x88b8), nil, 0, engine.Layer2Frame{}, false},
	}
	for _, c := range cases {
		var m nflog.Message
		if err := nflog.Parse(nflogtest.BridgeMessage(1700, c.prefix, c.l2, c.payload, 1, 99998, 99999, c.tci), &m); err != nil {
			t.Fatal(err)
		}
		f, ok := layer2Frame(eng, &m)
		c.want.Src, c.want.Dst = rules.MAC{2, 0, 0, 0, 0x20, 0x10}, rules.MAC{1, 0x0c, 0xcd, 1, 0, 1}
		// No interface has these indexes here.
		c.want.InPort, c.want.OutPort = "ifindex 99998", "ifindex 99999"
		if ok != c.ok || ok && f != c.want {
			t.Errorf("%s: %+v %v, want %+v %v", c.name, f, ok, c.want, c.ok)
		}
	}
}

// TestCheckLayer2 prints and encodes the layer2 section.
func TestCheckLayer2(t *testing.T) {
	path := tempFile(t, "p.yaml", `mode: monitor
zones:
  cell: {level: 1, cidrs: [10.10.0.0/24], ports: [vctl]}
  sup:  {level: 2, cidrs: [10.20.0.0/24], ports: [vsup]}
rules:
  - {name: a, from: sup, to: cell}
layer2:
  mode: enforce
  allow:
    - arp
    - {ethertype: 0x88b8, name: goose-bay1, from: cell, to: [cell, sup]}
`)
	code, out, _ := check(t, "-c", path)
	for _, want := range []string{
		"\nlayer2: non-IP frames across the bridge; IP is judged by the rules\n",
		"  allow    arp 0x0806\n",
		"  allow    goose-bay1 (goose) 0x88b8 from cell [vctl] to cell,sup [vctl,vsup]\n",
		"  refused  every other EtherType, in enforce (its own mode)\n",
	} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("check: exit %d, lacks %q:\n%s", code, want, out)
		}
	}
	_, out, _ = check(t, "-c", path, "--json")
	var r struct {
		Layer2 layer2JSON `json:"layer2"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	l := r.Layer2
	if l.Mode != "enforce" || !l.Written || len(l.Allow) != 2 || l.Allow[1].Name != "goose-bay1" || l.Allow[1].EtherTypeName != "goose" ||
		strings.Join(l.Allow[1].To, ",") != "cell,sup" || strings.Join(l.Allow[1].ToPorts, ",") != "vctl,vsup" || l.Allow[1].Line != 11 {
		t.Errorf("check --json layer2: %+v", l)
	}
}
