package nflog

import (
	"bytes"
	"testing"
)

func TestParse(t *testing.T) {
	pkt := []byte{0x45, 0, 0, 20, 1, 2, 3}
	msg := packetMessage(9, "deny-enterprise", pkt)
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

// FuzzParse: no input makes Parse panic or return views outside the input.
func FuzzParse(f *testing.F) {
	f.Add(packetMessage(1, "default", []byte{0x45, 0, 0, 20}))
	f.Add(packetMessage(1, "", nil))
	f.Add([]byte{20, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if Parse(b, &m) != nil {
			return
		}
		for _, v := range [][]byte{m.Prefix, m.Payload} {
			if len(v) > len(b) {
				t.Fatal("a view longer than the input")
			}
		}
		if bytes.IndexByte(m.Prefix, 0) >= 0 {
			t.Fatal("prefix holds its NUL")
		}
	})
}

// packetMessage builds an NFULNL_MSG_PACKET as the kernel sends it.
func packetMessage(group uint16, prefix string, payload []byte) []byte {
	b := make([]byte, 64+len(prefix)+len(payload))
	n := nlmsgHdrLen + nfgenHdrLen
	n += putAttr(b[n:], attrPacketHdr, []byte{0x08, 0x00, 2, 0})
	n += putAttr(b[n:], attrPrefix, append([]byte(prefix), 0))
	n += putAttr(b[n:], attrPayload, payload)
	putHeader(b, n, msgPacket, 0, 0, group)
	return b[:n]
}
