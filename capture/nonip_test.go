package capture

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// TestNonIPHook: the frames without IP reach OnNonIP with their judged
// EtherType (inside an 802.1Q tag), MACs and VLAN; IP frames do not, and
// Next still returns the IP packets only.
func TestNonIPHook(t *testing.T) {
	src := []byte{2, 0, 0, 0, 0x20, 0x10}
	eth := func(dst []byte, et uint16, rest ...byte) []byte {
		f := append(append(append([]byte{}, dst...), src...), byte(et>>8), byte(et))
		return append(f, rest...)
	}
	goose := []byte{0x01, 0x0c, 0xcd, 0x01, 0, 1}
	ipv4 := []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}
	frames := [][]byte{
		eth(goose, 0x88b8, 0, 1, 0, 8),
		eth(goose, 0x8100, 0x60, 0x05, 0x88, 0x92, 0xfe, 0xfe),
		eth(goose, 0x0800, ipv4...),
		eth(goose, 0x8100, append([]byte{0, 7, 0x08, 0x00}, ipv4...)...),
		eth(goose, 0x0026, 0x42, 0x42, 0x03), // 802.3 with LLC (STP)
		eth(goose, 0x88a8, 0, 1, 0x81, 0, 0, 2, 0x08, 0x06),
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, LinkEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		if err := w.WriteFrame(int64(i+1)*1e9, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var got []NonIP
	r.OnNonIP = func(f NonIP) { got = append(got, f) }
	var p Packet
	ips := 0
	for {
		err := r.Next(&p)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ips++
	}
	want := []NonIP{
		{Time: 1e9, EtherType: 0x88b8},
		{Time: 2e9, EtherType: 0x8892, Tagged: true, VLAN: 5},
		{Time: 5e9, EtherType: 0},
		{Time: 6e9, EtherType: 0x88a8},
	}
	if ips != 2 || len(got) != len(want) {
		t.Fatalf("%d IP packets, non-IP frames %+v; want 2 and %d", ips, got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Time != w.Time || g.EtherType != w.EtherType || g.Tagged != w.Tagged || g.VLAN != w.VLAN ||
			!g.HasMAC || !bytes.Equal(g.Src[:], src) || !bytes.Equal(g.Dst[:], goose) || g.Len != len(frames[[]int{0, 1, 4, 5}[i]]) {
			t.Errorf("frame %d: %+v, want %+v", i, g, w)
		}
	}
	if st := r.Stats(); st.NonIP != 4 || st.Packets != 2 {
		t.Errorf("stats %+v", st)
	}
}
