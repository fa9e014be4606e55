package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/rules"
)

// TestLayer2Lines: a refused frame's line has the verdict line's fields
// for its mode, the EtherType by number and name, MACs, ports and tag;
// one line per kind of frame per 10 s, a new one in another mode or
// after the window; ports are named from the interface table.
func TestLayer2Lines(t *testing.T) {
	p, err := rules.Parse("p.yaml", []byte("zones: {a: {level: 1, cidrs: [10.0.0.0/8]}}\nrules: []\n"))
	if err != nil {
		t.Fatal(err)
	}
	links := &fakeLinks{links: map[int]string{ixSup: "vsup", ixCtl: "vctl"}}
	var buf bytes.Buffer
	clock := int64(1_000_000_000)
	e := New(Config{Store: inforce.NewStore(p), Log: slog.New(slog.NewJSONHandler(&buf, nil)),
		Now: func() int64 { return clock }, EventBuffer: 64, Interfaces: links.list})
	goose := Layer2Frame{Mode: rules.ModeEnforce, EtherType: 0x88b8, Src: rules.MAC{2, 0, 0, 0, 0x20, 0x10},
		Dst: rules.MAC{1, 0x0c, 0xcd, 1, 0, 1}, InPort: e.Layer2Port(ixSup), OutPort: e.Layer2Port(ixCtl)}
	dcp := goose
	dcp.EtherType, dcp.Mode, dcp.Tagged, dcp.VLAN = 0x8892, rules.ModeMonitor, true, 5
	e.Layer2Refused(goose)
	e.Layer2Refused(goose) // the same kind within 10 s: no line
	e.Layer2Refused(dcp)
	clock += int64(11 * time.Second)
	e.Layer2Refused(goose) // after the window: a line again
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e.RunLimited(ctx, DeniedLimit{})
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		lines = append(lines, m)
	}
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(lines), buf.String())
	}
	want := map[string]any{"event": "verdict", "level": "WARN", "mode": "enforce", "verdict": "drop", "would": "drop",
		"would_drop": true, "rule": "default", "action": "deny", "layer2": true, "ethertype": "0x88b8",
		"ethertype_name": "goose", "src_mac": "02:00:00:00:20:10", "dst_mac": "01:0c:cd:01:00:01",
		"in_port": "vsup", "out_port": "vctl", "reason": ReasonLayer2Deny}
	for k, v := range want {
		if lines[0][k] != v {
			t.Errorf("goose line: %s = %v, want %v", k, lines[0][k], v)
		}
	}
	if _, ok := lines[0]["vlan"]; ok {
		t.Error("an untagged frame's line has a vlan")
	}
	if l := lines[1]; l["mode"] != "monitor" || l["verdict"] != "accept" || l["ethertype_name"] != "profinet" || l["vlan"] != 5.0 {
		t.Errorf("monitor dcp line: %v", l)
	}
	if lines[2]["ethertype_name"] != "goose" {
		t.Errorf("third line: %v", lines[2])
	}
	if got := e.Layer2Port(99999); got != "ifindex 99999" || e.Layer2Port(0) != "" {
		t.Errorf("unknown port named %q", got)
	}
}
