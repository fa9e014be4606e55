package replay

import (
	"fmt"
	"testing"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/rules"
)

// TestLayer2Counts: replay counts the frames without IP by the name and
// verdict the daemon's bridge table would give them, in the section's
// mode, scoped entries taken as matching (no ports are known).
func TestLayer2Counts(t *testing.T) {
	mac := []byte{2, 0, 0, 0, 0x20, 0x10}
	eth := func(et uint16, rest ...byte) []byte {
		f := append(append([]byte{1, 0x0c, 0xcd, 1, 0, 1}, mac...), byte(et>>8), byte(et))
		return append(f, append(rest, make([]byte, 46)...)...)
	}
	var frames []frame
	for i, f := range [][]byte{eth(0x88b8), eth(0x88b8), eth(0x8892), eth(0x8100, 0, 5, 0x88, 0x92), eth(0x0806), eth(0x9999), eth(0x8100, 0, 5, 0x99, 0x99)} {
		frames = append(frames, frame{int64(i+1) * 1e9, f})
	}
	path := writePcap(t, "l2.pcap", capture.LinkEthernet, frames)
	for _, c := range []struct {
		mode, section, want string
	}{
		{"enforce", "layer2: {allow: [arp, {ethertype: goose, from: cell}]}",
			"[{arp accept 1 60} {goose accept 2 120} {other drop 1 60} {profinet drop 2 124} {vlan drop 1 64}]"},
		{"monitor", "",
			"[{arp accept 1 60} {goose would_drop 2 120} {other would_drop 1 60} {profinet would_drop 2 124} {vlan would_drop 1 64}]"},
		{"enforce", "layer2: {mode: passthrough}",
			"[{arp accept 1 60} {goose accept 2 120} {other accept 1 60} {profinet accept 2 124} {vlan accept 1 64}]"},
	} {
		pol, err := rules.Parse("l2.yaml", []byte(fmt.Sprintf(`mode: %s
zones:
  cell: {level: 1, cidrs: [10.10.0.0/24], ports: [vctl]}
rules:
  - {name: a, from: cell, to: cell}
%s
`, c.mode, c.section)))
		if err != nil {
			t.Fatal(err)
		}
		r := New(Config{Policy: pol})
		if err := r.Open(path); err != nil {
			t.Fatal(err)
		}
		res, err := r.Result()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, l := range res.Layer2 {
			got = append(got, fmt.Sprintf("{%s %s %d %d}", l.EtherType, l.Verdict, l.Packets, l.Bytes))
		}
		if s := fmt.Sprint(got); s != c.want {
			t.Errorf("%s %q: layer2 %s, want %s", c.mode, c.section, s, c.want)
		}
	}
}
