package ipproto

import "testing"

func TestName(t *testing.T) {
	for _, tc := range []struct {
		p     uint8
		known string
		name  string
	}{
		{ICMP, "icmp", "icmp"},
		{TCP, "tcp", "tcp"},
		{UDP, "udp", "udp"},
		{ICMPv6, "icmpv6", "icmpv6"},
		{ESP, "esp", "esp"},
		{AH, "ah", "ah"},
		{GRE, "gre", "gre"},
		{SCTP, "sctp", "sctp"},
		{0, "", "proto-0"},
		{99, "", "proto-99"},
	} {
		if got := Known(tc.p); got != tc.known {
			t.Errorf("Known(%d) = %q, want %q", tc.p, got, tc.known)
		}
		if got := Name(tc.p); got != tc.name {
			t.Errorf("Name(%d) = %q, want %q", tc.p, got, tc.name)
		}
	}
	// Number names every number alike, with a name or not.
	for p, want := range map[uint8]string{ICMP: "proto-1", TCP: "proto-6", UDP: "proto-17", ICMPv6: "proto-58",
		ESP: "proto-50", AH: "proto-51", GRE: "proto-47", SCTP: "proto-132", 0: "proto-0", 99: "proto-99", 255: "proto-255"} {
		if got := Number(p); got != want {
			t.Errorf("Number(%d) = %q, want %q", p, got, want)
		}
	}
}
