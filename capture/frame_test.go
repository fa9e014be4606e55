package capture

import (
	"bytes"
	"testing"
)

// TestFrameAndIP checks that Reader.Frame gives the whole frame of the
// packet Next returned, and that LinkType.IP cuts it to the same packet.
func TestFrameAndIP(t *testing.T) {
	ip := ipv4UDP(1, 2, 3)
	frames := [][]byte{ether(etherIPv4, []uint16{0x8100}, ip), ether(0x0806, nil, nil), ether(etherIPv4, nil, ip)}
	var recs []rec
	for _, f := range frames {
		recs = append(recs, rec{frame: f})
	}
	r, err := NewReader(bytes.NewReader(pcapFile(false, false, LinkEthernet, recs)))
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	for _, want := range []int{1, 3} {
		if err := r.Next(&p); err != nil {
			t.Fatal(err)
		}
		if p.Number != want || !bytes.Equal(r.Frame(), frames[want-1]) {
			t.Fatalf("packet %d: frame % x, want % x", p.Number, r.Frame(), frames[want-1])
		}
		got, ok := p.Link.IP(r.Frame())
		if !ok || !bytes.Equal(got, p.Data) || !bytes.Equal(got, ip) {
			t.Fatalf("packet %d: IP = % x, %v; Data % x", p.Number, got, ok, p.Data)
		}
	}
	if _, ok := LinkEthernet.IP(frames[1]); ok {
		t.Error("ARP frame decoded as IP")
	}
}
