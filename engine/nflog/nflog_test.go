package nflog

import (
	"bytes"
	"testing"

	"github.com/conduit-ot/conduit/engine/nflog/nflogtest"
)

func TestParse(t *testing.T) {
	pkt := []byte{0x45, 0, 0, 20, 1, 2, 3}
	msg := nflogtest.PacketMessage(9, "deny-enterprise", pkt)
	var m Message
	if err := Parse(msg, &m); err != nil {
		t.Fatal(err)
	}
	if string(m.Prefix) != "deny-enterprise" || !bytes.Equal(m.Payload, pkt) || m.HWProto != 0x0800 || m.Hook != 2 {
		t.Errorf("parsed %+v", m)
	}
	for _, bad := range [][]byte{nil, msg[:10], msg[:len(msg)-3]} {
		if err := Parse(bad, &m); err == nil {
			t.Errorf("% x parsed", bad)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() { _ = Parse(msg, &m) })
	if allocs != 0 {
		t.Errorf("Parse allocates %.1f times", allocs)
	}
}

func TestParseBridge(t *testing.T) {
	hdr := []byte{0x01, 0x0c, 0xcd, 0x01, 0, 1, 2, 0, 0, 0, 0x20, 0x10, 0x88, 0xb8}
	payload := []byte{0, 1, 0, 8, 0, 0, 0, 0}
	for _, tci := range []uint16{0, 0x6005} {
		msg := nflogtest.BridgeMessage(1700, "l2:enforce", hdr, payload, 3, 7, 9, tci)
		var m Message
		if err := Parse(msg, &m); err != nil {
			t.Fatal(err)
		}
		in, out := m.Port()
		if m.Family != 7 || string(m.Prefix) != "l2:enforce" || !bytes.Equal(m.L2Header, hdr) || !bytes.Equal(m.Payload, payload) ||
			m.HWProto != 0x88b8 || m.In != 3 || m.Out != 3 || in != 7 || out != 9 || m.HasVLAN != (tci != 0) || m.VLANTCI != tci ||
			(tci != 0 && m.VLANProto != 0x8100) {
			t.Errorf("tci %#x: parsed %+v (ports %d %d)", tci, m, in, out)
		}
		if allocs := testing.AllocsPerRun(1000, func() { _ = Parse(msg, &m) }); allocs != 0 {
			t.Errorf("Parse allocates %.1f times", allocs)
		}
	}
	// An IP packet's message names no physical ports: Port is its interfaces.
	var m Message
	_ = Parse(nflogtest.PacketMessage(1, "x", []byte{0x45}), &m)
	if in, out := m.Port(); in != 0 || out != 0 || m.Family != 0 {
		t.Errorf("ip message: ports %d %d family %d", in, out, m.Family)
	}
}

// FuzzParse: no input makes Parse panic or return views outside the input.
func FuzzParse(f *testing.F) {
	f.Add(nflogtest.PacketMessage(1, "default", []byte{0x45, 0, 0, 20}))
	f.Add(nflogtest.PacketMessage(1, "", nil))
	f.Add(nflogtest.BridgeMessage(1700, "l2:monitor", []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x88, 0x92}, []byte{0xfe, 0xfd}, 1, 2, 3, 0x0005))
	f.Add([]byte{20, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if Parse(b, &m) != nil {
			return
		}
		for _, v := range [][]byte{m.Prefix, m.Payload, m.L2Header} {
			if len(v) > len(b) {
				t.Fatal("a view longer than the input")
			}
		}
		if bytes.IndexByte(m.Prefix, 0) >= 0 {
			t.Fatal("prefix holds its NUL")
		}
	})
}

// BenchmarkParse is the decode of one bridge-family message, the largest
// the pre-filter and the layer2 table send.
func BenchmarkParse(b *testing.B) {
	hdr := []byte{0x01, 0x0c, 0xcd, 0x01, 0, 1, 2, 0, 0, 0, 0x20, 0x10, 0x88, 0xb8}
	msg := nflogtest.BridgeMessage(1700, "l2:enforce", hdr, make([]byte, 64), 3, 7, 9, 0x6005)
	var m Message
	b.ReportAllocs()
	for b.Loop() {
		if err := Parse(msg, &m); err != nil {
			b.Fatal(err)
		}
	}
}
