package packet

// Reason names why a packet could not be decoded; "" means the packet is fine.
// Every value is a package-level constant, so returning one never allocates
// and callers may use it directly as a log field or counter label.
type Reason string

// Reasons returned by Decode.
const (
	ReasonOK Reason = ""

	ReasonEmpty      Reason = "empty-packet"
	ReasonBadVersion Reason = "bad-ip-version"

	ReasonTruncatedIPv4    Reason = "truncated-ipv4"
	ReasonBadIPv4HeaderLen Reason = "bad-ipv4-header-length"
	ReasonIPv4TotalLength  Reason = "ipv4-total-length"
	ReasonBadIPOption      Reason = "bad-ip-option" // an IPv4 option of length 0 or 1, or past the header

	ReasonTruncatedIPv6     Reason = "truncated-ipv6"
	ReasonIPv6PayloadLength Reason = "ipv6-payload-length"
	ReasonTruncatedIPv6Ext  Reason = "truncated-ipv6-ext-header"
	ReasonIPv6ExtChain      Reason = "ipv6-ext-header-chain"

	ReasonTruncatedTCP Reason = "truncated-tcp"
	ReasonBadTCPOffset Reason = "bad-tcp-offset"
	ReasonBadTCPOption Reason = "bad-tcp-option" // a TCP option of a wrong length, or past the header
	ReasonBadTCPFlags  Reason = "bad-tcp-flags"  // a flag combination no TCP stack sends (SYN+FIN, null, Xmas, ...)
	ReasonTruncatedUDP Reason = "truncated-udp"
	ReasonBadUDPLength Reason = "bad-udp-length"

	ReasonTruncatedICMP Reason = "truncated-icmp"
)
