// Package ipproto is conduit's one vocabulary of IP protocol numbers: the
// numbers the decoder, the connection table, the policy and the protocol
// table share, and the names logs and outputs give them.
package ipproto

import "strconv"

// IP protocol numbers (IANA) conduit names or treats specially.
const (
	ICMP   = 1
	TCP    = 6
	UDP    = 17
	GRE    = 47
	ESP    = 50
	AH     = 51
	ICMPv6 = 58
	SCTP   = 132
)

// Known returns the short lowercase name of p ("tcp"), or "" for a number
// without one.
func Known(p uint8) string {
	switch p {
	case ICMP:
		return "icmp"
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case ICMPv6:
		return "icmpv6"
	case ESP:
		return "esp"
	case AH:
		return "ah"
	case GRE:
		return "gre"
	case SCTP:
		return "sctp"
	}
	return ""
}

// Name returns Known(p), or Number(p) for a number without a name.
func Name(p uint8) string {
	if n := Known(p); n != "" {
		return n
	}
	return Number(p)
}

// Number names p by its number: "proto-47".
func Number(p uint8) string { return "proto-" + strconv.Itoa(int(p)) }
