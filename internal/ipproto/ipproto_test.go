package ipproto

import (
	"strconv"
	"testing"
)

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
		if got, want := Number(tc.p), "proto-"+strconv.Itoa(int(tc.p)); got != want {
			t.Errorf("Number(%d) = %q, want %q", tc.p, got, want)
		}
	}
}
