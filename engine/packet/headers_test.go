package packet

import "testing"

// The views are also public API; check the accessors Decode does not use.
func TestHeaderViews(t *testing.T) {
	v4 := IPv4(v4pkt{proto: ProtoTCP, mf: true, fragOff: 16, l4: tcpSeg{}.build()}.build())
	v4[6] |= 0x40 // DF alongside MF is contradictory but the view just reports bits
	if v4.Version() != 4 || !v4.DontFragment() || !v4.MoreFragments() || v4.FragmentOffset() != 16 || v4.HeaderLength() != 20 || v4.TotalLength() != 40 || v4.ID() != id4 {
		t.Errorf("IPv4 view: version %d df %v mf %v off %d ihl %d len %d id %#x",
			v4.Version(), v4.DontFragment(), v4.MoreFragments(), v4.FragmentOffset(), v4.HeaderLength(), v4.TotalLength(), v4.ID())
	}
	v6 := IPv6(v6pkt{proto: ProtoUDP, l4: udp(1, 2, -1, nil)}.build())
	if v6.Version() != 6 || v6.NextHeader() != ProtoUDP || v6.PayloadLength() != 8 || v6.HopLimit() != hop6 || v6.Src() != src6 || v6.Dst() != dst6 {
		t.Errorf("IPv6 view: version %d nh %d plen %d", v6.Version(), v6.NextHeader(), v6.PayloadLength())
	}
	f := IPv6Frag(fragExt(2048, true, 0xfeedf00d).raw)
	if f.FragmentOffset() != 2048 || !f.MoreFragments() || f.ID() != 0xfeedf00d {
		t.Errorf("IPv6Frag view: off %d m %v id %#x", f.FragmentOffset(), f.MoreFragments(), f.ID())
	}
	tcp := TCP(tcpSeg{sport: 1, dport: 2, seq: 3, ack: 4, flags: TCPSyn, opts: mss}.build())
	if tcp.Window() != 65535 || tcp.DataOffset() != 24 || tcp.Flags() != TCPSyn || tcp.Seq() != 3 || tcp.Ack() != 4 {
		t.Errorf("TCP view: window %d doff %d", tcp.Window(), tcp.DataOffset())
	}
	u := UDP(udp(5, 6, -1, data))
	if u.SrcPort() != 5 || u.DstPort() != 6 || u.Length() != 13 {
		t.Errorf("UDP view: %d %d %d", u.SrcPort(), u.DstPort(), u.Length())
	}
	c := ICMP(icmp(3, 13, 0x00070009, nil))
	if c.Type() != 3 || c.Code() != 13 || c.EchoID() != 7 || c.EchoSeq() != 9 {
		t.Errorf("ICMP view: type %d code %d id %d seq %d", c.Type(), c.Code(), c.EchoID(), c.EchoSeq())
	}
}
