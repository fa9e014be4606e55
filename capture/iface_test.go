package capture

import (
	"bytes"
	"testing"
)

// TestPcapNGInterfaceAndDirection: a packet says which interface
// (if_name) it was captured on and, with epb_flags, in which direction.
func TestPcapNGInterfaceAndDirection(t *testing.T) {
	for _, be := range []bool{false, true} {
		n := newNG(be)
		v4 := ipv4UDP(1, 2, 20)
		frame := ether(0x0800, nil, v4)
		epb := func(ifc uint32, flags ...uint32) {
			var b []byte
			b = n.bo.AppendUint32(b, ifc)
			b = n.bo.AppendUint32(b, 0)
			b = n.bo.AppendUint32(b, 1)
			b = n.bo.AppendUint32(b, uint32(len(frame)))
			b = n.bo.AppendUint32(b, uint32(len(frame)))
			b = append(b, frame...)
			for len(b)%4 != 0 {
				b = append(b, 0)
			}
			for _, f := range flags {
				b = append(b, n.opt(2, n.bo.AppendUint32(nil, f))...)
			}
			if len(flags) > 0 {
				b = n.bo.AppendUint32(b, 0)
			}
			n.block(6, b)
		}
		n.section().iface(LinkEthernet, n.opt(2, []byte("vsup"))).iface(LinkEthernet, n.opt(2, []byte("vent\x00")), n.opt(9, []byte{9})).
			iface(LinkEthernet)
		epb(0, 1)      // inbound
		epb(1, 2)      // outbound
		epb(1)         // no flags
		epb(2, 3)      // no name; direction 3 is invalid
		epb(0, 0x1f01) // other flag bits set
		r, err := NewReader(bytes.NewReader(n.bytes()))
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			name string
			dir  Direction
		}{{"vsup", DirInbound}, {"vent", DirOutbound}, {"vent", DirUnknown}, {"", DirUnknown}, {"vsup", DirInbound}}
		for i, w := range want {
			var p Packet
			if err := r.Next(&p); err != nil {
				t.Fatalf("packet %d: %v", i+1, err)
			}
			if p.Interface != w.name || p.Direction != w.dir || !bytes.Equal(p.Data, v4) {
				t.Errorf("be %v packet %d: interface %q direction %d, want %q %d", be, i+1, p.Interface, p.Direction, w.name, w.dir)
			}
		}
	}
}
