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
