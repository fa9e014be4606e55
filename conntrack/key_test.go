package conntrack

import (
	"net/netip"
	"testing"
)

func TestKeyReverse(t *testing.T) {
	a, b := netip.MustParseAddr("10.20.0.5"), netip.MustParseAddr("10.10.0.7")
	v6a, v6b := netip.MustParseAddr("fd00:10::1"), netip.MustParseAddr("fd00:10::2")
	tests := []struct {
		name string
		k    Key
		want Key
	}{
		{"tcp swaps ports", Key{a, b, 40000, 502, ProtoTCP}, Key{b, a, 502, 40000, ProtoTCP}},
		{"udp swaps ports", Key{a, b, 20000, 20000, ProtoUDP}, Key{b, a, 20000, 20000, ProtoUDP}},
		{"icmp keeps echo id", Key{a, b, 7, 0, ProtoICMP}, Key{b, a, 7, 0, ProtoICMP}},
		{"icmpv6 keeps echo id", Key{v6a, v6b, 9, 0, ProtoICMPv6}, Key{v6b, v6a, 9, 0, ProtoICMPv6}},
		{"other by address pair", Key{a, b, 0, 0, 47}, Key{b, a, 0, 0, 47}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.k.Reverse(); got != tt.want {
				t.Errorf("Reverse() = %v, want %v", got, tt.want)
			}
			if got := tt.k.Reverse().Reverse(); got != tt.k {
				t.Errorf("Reverse().Reverse() = %v, want %v", got, tt.k)
			}
		})
	}
}

func TestKeyString(t *testing.T) {
	tests := []struct {
		k    Key
		want string
	}{
		{tcpKey("10.20.0.5", "10.10.0.7", 40000, 502), "tcp 10.20.0.5:40000 -> 10.10.0.7:502"},
		{udpKey("fd00:10::1", "fd00:10::2", 1, 2), "udp [fd00:10::1]:1 -> [fd00:10::2]:2"},
		{Key{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 7, 0, ProtoICMP}, "icmp 10.0.0.1 -> 10.0.0.2 id 7"},
		{Key{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 0, 0, 47}, "proto-47 10.0.0.1 -> 10.0.0.2"},
	}
	for _, tt := range tests {
		if got := tt.k.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// keyFrom builds a same-family key from fuzz input.
func keyFrom(v6 bool, src, dst [16]byte, sport, dport uint16, proto uint8) Key {
	k := Key{SrcPort: sport, DstPort: dport, Proto: proto}
	if v6 {
		k.Src, k.Dst = netip.AddrFrom16(src), netip.AddrFrom16(dst)
	} else {
		k.Src, k.Dst = netip.AddrFrom4([4]byte(src[:4])), netip.AddrFrom4([4]byte(dst[:4]))
	}
	return k
}

// checkCanon: both directions share one map key, the swapped flag tells
// them apart whenever they differ, and different flows never share a key.
func checkCanon(t *testing.T, k1, k2 Key) {
	c1, s1 := canon(k1)
	r1, rs1 := canon(k1.Reverse())
	if c1 != r1 {
		t.Fatalf("%v and its reverse have different map keys", k1)
	}
	if k1 != k1.Reverse() && s1 == rs1 {
		t.Fatalf("%v: both directions have swapped=%v, direction is lost", k1, s1)
	}
	c2, _ := canon(k2)
	if same := k2 == k1 || k2 == k1.Reverse(); same != (c1 == c2) {
		t.Fatalf("%v vs %v: same flow %v but same map key %v", k1, k2, same, c1 == c2)
	}
}

func TestCanon(t *testing.T) {
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	mapped := netip.MustParseAddr("::ffff:10.0.0.1")
	mapped2 := netip.MustParseAddr("::ffff:10.0.0.2")
	tests := []struct{ k1, k2 Key }{
		{Key{a, b, 1, 2, ProtoTCP}, Key{b, a, 2, 1, ProtoTCP}},
		{Key{a, b, 1, 2, ProtoTCP}, Key{a, b, 2, 1, ProtoTCP}},
		{Key{a, b, 1, 2, ProtoTCP}, Key{a, b, 1, 2, ProtoUDP}},
		{Key{a, b, 1, 2, ProtoTCP}, Key{mapped, mapped2, 1, 2, ProtoTCP}},
		{Key{a, a, 1, 2, ProtoTCP}, Key{a, a, 2, 1, ProtoTCP}},
		{Key{a, a, 5, 0, ProtoICMP}, Key{a, a, 0, 5, ProtoICMP}},
		{Key{a, b, 5, 0, ProtoICMP}, Key{b, a, 5, 0, ProtoICMP}},
		{Key{a, b, 5, 0, ProtoICMP}, Key{b, a, 0, 5, ProtoICMP}},
		{Key{a, b, 0, 0, 47}, Key{b, a, 0, 0, 47}},
	}
	for _, tt := range tests {
		checkCanon(t, tt.k1, tt.k2)
	}
}

func FuzzCanon(f *testing.F) {
	f.Add(false, []byte("\x0a\x00\x00\x01"), []byte("\x0a\x00\x00\x02"), uint16(40000), uint16(502), uint8(6), true, uint16(502), uint16(40000))
	f.Add(true, []byte("fd00::1"), []byte("fd00::1"), uint16(7), uint16(0), uint8(58), false, uint16(0), uint16(7))
	f.Fuzz(func(t *testing.T, v6 bool, src, dst []byte, sp, dp uint16, proto uint8, flip bool, sp2, dp2 uint16) {
		var s, d [16]byte
		copy(s[:], src)
		copy(d[:], dst)
		k1 := keyFrom(v6, s, d, sp, dp, proto)
		k2 := keyFrom(v6, s, d, sp2, dp2, proto)
		if flip {
			k2 = keyFrom(v6, d, s, sp2, dp2, proto)
		}
		checkCanon(t, k1, k2)
	})
}
