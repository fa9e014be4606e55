// Package packet decodes raw IP packets, as NFQUEUE delivers them (the
// buffer starts at the IPv4 or IPv6 header), into a caller-owned Parsed
// without allocating.
package packet

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/conduit-ot/conduit/internal/ipproto"
)

// TCP flag bits as they appear in TCPFlags.
const (
	TCPFin uint8 = 0x01
	TCPSyn uint8 = 0x02
	TCPRst uint8 = 0x04
	TCPPsh uint8 = 0x08
	TCPAck uint8 = 0x10
	TCPUrg uint8 = 0x20
	TCPEce uint8 = 0x40
	TCPCwr uint8 = 0x80
)

// FragKind says whether a packet is an IP fragment and which one.
type FragKind uint8

const (
	// NotFragment is a whole packet (an IPv6 atomic fragment counts as whole).
	NotFragment FragKind = iota
	// FirstFragment has offset 0 and more fragments follow: it carries the L4 header.
	FirstFragment
	// LaterFragment has a non-zero offset: no L4 header, so no ports.
	LaterFragment
)

func (k FragKind) String() string {
	switch k {
	case NotFragment:
		return "none"
	case FirstFragment:
		return "first"
	case LaterFragment:
		return "later"
	}
	return "FragKind(" + strconv.Itoa(int(k)) + ")"
}

// Parsed is a decoded packet. Decode overwrites every field, so one value
// can be reused for every packet of a queue reader.
type Parsed struct {
	Version  uint8      // 4 or 6; 0 when the version nibble was unusable
	Src, Dst netip.Addr // valid once the fixed IP header was readable
	Proto    uint8      // L4 protocol after IPv6 extension headers
	TTL      uint8      // TTL or hop limit
	// Length is the IP total length as the header says, or len(b) when the
	// header says 0 (GSO super-packets, IPv6 jumbograms); see GSO.
	Length int
	// GSO is set when the IP length field was 0 and len(b) was used instead.
	GSO bool

	SrcPort, DstPort uint16 // TCP and UDP only
	TCPFlags         uint8
	Seq, Ack         uint32

	ICMPType, ICMPCode uint8
	ICMPID             uint16 // echo request/reply identifier only

	Fragment FragKind
	// FragID is the IPv4 identification (set for every IPv4 packet) or the
	// IPv6 fragment header identification (set only when one is present).
	FragID uint32

	L4Off      int    // offset of the L4 header (of the fragment data for later fragments)
	PayloadOff int    // offset of the TCP/UDP data (ICMP: after the 8-byte header)
	Payload    []byte // sub-slice of the input bounded by the IP length; nil if empty
}

// IsTCP reports whether the packet carries TCP.
func (p *Parsed) IsTCP() bool { return p.Proto == ProtoTCP }

// IsUDP reports whether the packet carries UDP.
func (p *Parsed) IsUDP() bool { return p.Proto == ProtoUDP }

// IsICMP reports whether the packet carries ICMP (v4) or ICMPv6.
func (p *Parsed) IsICMP() bool { return p.Proto == ProtoICMP || p.Proto == ProtoICMPv6 }

// HasPorts reports whether SrcPort and DstPort were decoded.
func (p *Parsed) HasPorts() bool {
	return (p.Proto == ProtoTCP || p.Proto == ProtoUDP) && p.Fragment != LaterFragment
}

// SrcAddrPort returns the source address and port (port 0 if none).
func (p *Parsed) SrcAddrPort() netip.AddrPort { return netip.AddrPortFrom(p.Src, p.SrcPort) }

// DstAddrPort returns the destination address and port (port 0 if none).
func (p *Parsed) DstAddrPort() netip.AddrPort { return netip.AddrPortFrom(p.Dst, p.DstPort) }

// ProtoName returns a short lowercase name for an IP protocol number
// ("proto-N" for one without a name).
func ProtoName(proto uint8) string { return ipproto.Name(proto) }

// String formats the packet for logs and debugging; it allocates, so keep
// it off the per-packet path.
func (p *Parsed) String() string {
	var sb strings.Builder
	sb.WriteString(ProtoName(p.Proto))
	sb.WriteString(" v")
	sb.WriteString(strconv.Itoa(int(p.Version)))
	sb.WriteByte(' ')
	if p.HasPorts() {
		sb.WriteString(p.SrcAddrPort().String())
		sb.WriteString(" > ")
		sb.WriteString(p.DstAddrPort().String())
	} else {
		sb.WriteString(p.Src.String())
		sb.WriteString(" > ")
		sb.WriteString(p.Dst.String())
	}
	if p.IsTCP() && p.Fragment != LaterFragment {
		sb.WriteString(" [")
		sb.WriteString(FlagString(p.TCPFlags))
		sb.WriteString("] seq=")
		sb.WriteString(strconv.FormatUint(uint64(p.Seq), 10))
		sb.WriteString(" ack=")
		sb.WriteString(strconv.FormatUint(uint64(p.Ack), 10))
	}
	if p.IsICMP() && p.Fragment != LaterFragment {
		sb.WriteString(" type=")
		sb.WriteString(strconv.Itoa(int(p.ICMPType)))
		sb.WriteString(" code=")
		sb.WriteString(strconv.Itoa(int(p.ICMPCode)))
		if p.ICMPID != 0 {
			sb.WriteString(" id=")
			sb.WriteString(strconv.Itoa(int(p.ICMPID)))
		}
	}
	sb.WriteString(" ttl=")
	sb.WriteString(strconv.Itoa(int(p.TTL)))
	sb.WriteString(" len=")
	sb.WriteString(strconv.Itoa(p.Length))
	if p.GSO {
		sb.WriteString(" gso")
	}
	if p.Fragment != NotFragment {
		sb.WriteString(" frag=")
		sb.WriteString(p.Fragment.String())
		sb.WriteString(" id=")
		sb.WriteString(strconv.FormatUint(uint64(p.FragID), 10))
	}
	sb.WriteString(" payload=")
	sb.WriteString(strconv.Itoa(len(p.Payload)))
	return sb.String()
}

// FlagString renders TCP flags tcpdump-style ("S", "S.", "FP.", ...): one
// letter per flag, '.' for ACK, "none" when no flag is set.
func FlagString(f uint8) string {
	if f == 0 {
		return "none"
	}
	var buf [8]byte
	n := 0
	for _, fl := range [...]struct {
		bit uint8
		c   byte
	}{{TCPFin, 'F'}, {TCPSyn, 'S'}, {TCPRst, 'R'}, {TCPPsh, 'P'}, {TCPUrg, 'U'}, {TCPEce, 'E'}, {TCPCwr, 'W'}, {TCPAck, '.'}} {
		if f&fl.bit != 0 {
			buf[n] = fl.c
			n++
		}
	}
	return string(buf[:n])
}
