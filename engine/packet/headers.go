package packet

import (
	"encoding/binary"
	"net/netip"

	"github.com/conduit-ot/conduit/internal/ipproto"
)

// Header views in the gVisor style: a named byte slice with accessors.
// Accessors do not check lengths; the caller must have checked that the
// slice holds at least the fixed header (the *MinLen constants), which
// Decode does before it uses them.

// Fixed header sizes.
const (
	IPv4MinLen    = 20
	IPv6Len       = 40
	IPv6ExtMinLen = 8
	IPv6FragLen   = 8
	TCPMinLen     = 20
	UDPLen        = 8
	ICMPMinLen    = 8 // type, code, checksum, 4 bytes that every v4/v6 message has
)

// IP protocol numbers that Decode understands.
const (
	ProtoHopByHop = 0
	ProtoICMP     = ipproto.ICMP
	ProtoTCP      = ipproto.TCP
	ProtoUDP      = ipproto.UDP
	ProtoRouting  = 43
	ProtoFragment = 44
	ProtoESP      = ipproto.ESP
	ProtoAH       = ipproto.AH
	ProtoICMPv6   = ipproto.ICMPv6
	ProtoNoNext   = 59
	ProtoDstOpts  = 60
)

// ICMP echo types.
const (
	ICMPv4EchoReply   = 0
	ICMPv4EchoRequest = 8
	ICMPv6EchoRequest = 128
	ICMPv6EchoReply   = 129
)

// IPv4 is a view of an IPv4 header.
type IPv4 []byte

// Version returns the IP version nibble.
func (h IPv4) Version() uint8 { return h[0] >> 4 }

// HeaderLength returns IHL in bytes.
func (h IPv4) HeaderLength() int { return int(h[0]&0x0f) * 4 }

// TotalLength returns the total length field.
func (h IPv4) TotalLength() int { return int(binary.BigEndian.Uint16(h[2:4])) }

// ID returns the identification field.
func (h IPv4) ID() uint16 { return binary.BigEndian.Uint16(h[4:6]) }

// MoreFragments reports the MF flag.
func (h IPv4) MoreFragments() bool { return h[6]&0x20 != 0 }

// DontFragment reports the DF flag.
func (h IPv4) DontFragment() bool { return h[6]&0x40 != 0 }

// FragmentOffset returns the fragment offset in bytes.
func (h IPv4) FragmentOffset() int { return int(binary.BigEndian.Uint16(h[6:8])&0x1fff) * 8 }

// TTL returns the time to live.
func (h IPv4) TTL() uint8 { return h[8] }

// Protocol returns the L4 protocol number.
func (h IPv4) Protocol() uint8 { return h[9] }

// Src returns the source address.
func (h IPv4) Src() netip.Addr { return netip.AddrFrom4([4]byte(h[12:16])) }

// Dst returns the destination address.
func (h IPv4) Dst() netip.Addr { return netip.AddrFrom4([4]byte(h[16:20])) }

// IPv6 is a view of the fixed IPv6 header.
type IPv6 []byte

// Version returns the IP version nibble.
func (h IPv6) Version() uint8 { return h[0] >> 4 }

// PayloadLength returns the payload length field (0 for jumbograms and GSO).
func (h IPv6) PayloadLength() int { return int(binary.BigEndian.Uint16(h[4:6])) }

// NextHeader returns the first next-header value.
func (h IPv6) NextHeader() uint8 { return h[6] }

// HopLimit returns the hop limit.
func (h IPv6) HopLimit() uint8 { return h[7] }

// Src returns the source address.
func (h IPv6) Src() netip.Addr { return netip.AddrFrom16([16]byte(h[8:24])) }

// Dst returns the destination address.
func (h IPv6) Dst() netip.Addr { return netip.AddrFrom16([16]byte(h[24:40])) }

// IPv6Frag is a view of an IPv6 fragment extension header.
type IPv6Frag []byte

// NextHeader returns the header that follows in the reassembled packet.
func (h IPv6Frag) NextHeader() uint8 { return h[0] }

// FragmentOffset returns the fragment offset in bytes.
func (h IPv6Frag) FragmentOffset() int { return int(binary.BigEndian.Uint16(h[2:4]) &^ 7) }

// MoreFragments reports the M flag.
func (h IPv6Frag) MoreFragments() bool { return h[3]&1 != 0 }

// ID returns the fragment identification.
func (h IPv6Frag) ID() uint32 { return binary.BigEndian.Uint32(h[4:8]) }

// TCP is a view of a TCP header.
type TCP []byte

// SrcPort returns the source port.
func (h TCP) SrcPort() uint16 { return binary.BigEndian.Uint16(h[0:2]) }

// DstPort returns the destination port.
func (h TCP) DstPort() uint16 { return binary.BigEndian.Uint16(h[2:4]) }

// Seq returns the sequence number.
func (h TCP) Seq() uint32 { return binary.BigEndian.Uint32(h[4:8]) }

// Ack returns the acknowledgement number.
func (h TCP) Ack() uint32 { return binary.BigEndian.Uint32(h[8:12]) }

// DataOffset returns the header length in bytes.
func (h TCP) DataOffset() int { return int(h[12]>>4) * 4 }

// Flags returns the flag byte (FIN..CWR).
func (h TCP) Flags() uint8 { return h[13] }

// Window returns the receive window.
func (h TCP) Window() uint16 { return binary.BigEndian.Uint16(h[14:16]) }

// UDP is a view of a UDP header.
type UDP []byte

// SrcPort returns the source port.
func (h UDP) SrcPort() uint16 { return binary.BigEndian.Uint16(h[0:2]) }

// DstPort returns the destination port.
func (h UDP) DstPort() uint16 { return binary.BigEndian.Uint16(h[2:4]) }

// Length returns the UDP length field (header plus data).
func (h UDP) Length() int { return int(binary.BigEndian.Uint16(h[4:6])) }

// ICMP is a view of an ICMP or ICMPv6 header; both share this layout.
type ICMP []byte

// Type returns the message type.
func (h ICMP) Type() uint8 { return h[0] }

// Code returns the message code.
func (h ICMP) Code() uint8 { return h[1] }

// EchoID returns the echo identifier; only meaningful for echo messages.
func (h ICMP) EchoID() uint16 { return binary.BigEndian.Uint16(h[4:6]) }

// EchoSeq returns the echo sequence number (see EchoID).
func (h ICMP) EchoSeq() uint16 { return binary.BigEndian.Uint16(h[6:8]) }
