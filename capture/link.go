package capture

import (
	"encoding/binary"
	"strconv"
)

// LinkType is a LINKTYPE_* value of the tcpdump registry.
type LinkType uint32

// Supported link types.
const (
	LinkNull     LinkType = 0   // BSD loopback: 4-byte address family in the capturing host's byte order
	LinkEthernet LinkType = 1   // Ethernet II, 802.1Q and 802.1ad tags
	LinkRaw      LinkType = 101 // raw IPv4 or IPv6
	LinkLoop     LinkType = 108 // OpenBSD loopback: the family in network byte order
	LinkSLL      LinkType = 113 // Linux cooked capture v1
	LinkIPv4     LinkType = 228
	LinkIPv6     LinkType = 229
	LinkSLL2     LinkType = 276 // Linux cooked capture v2
)

// Supported reports whether frames of link type l can be decoded.
func (l LinkType) Supported() bool {
	switch l {
	case LinkNull, LinkEthernet, LinkRaw, LinkLoop, LinkSLL, LinkIPv4, LinkIPv6, LinkSLL2:
		return true
	}
	return false
}

func (l LinkType) String() string {
	switch l {
	case LinkNull:
		return "null"
	case LinkEthernet:
		return "ethernet"
	case LinkRaw:
		return "raw"
	case LinkLoop:
		return "loop"
	case LinkSLL:
		return "linux-sll"
	case LinkIPv4:
		return "ipv4"
	case LinkIPv6:
		return "ipv6"
	case LinkSLL2:
		return "linux-sll2"
	}
	return "linktype(" + strconv.Itoa(int(l)) + ")"
}

const (
	etherIPv4 = 0x0800
	etherIPv6 = 0x86dd
)

// IP returns the IP packet carried by frame, a frame of link type l, cut
// to the IP header's length as Next cuts it, or false when the frame
// carries something else. It lets tests decode frames they built or
// obtained from Reader.Frame the same way the reader does.
func (l LinkType) IP(frame []byte) ([]byte, bool) { return ipOf(l, frame) }

// ipOf returns the IP packet carried by a frame of link type l, or false
// when the frame carries something else.
func ipOf(l LinkType, d []byte) ([]byte, bool) {
	var etype uint16
	switch l {
	case LinkEthernet:
		if len(d) < 14 {
			return nil, false
		}
		etype, d = binary.BigEndian.Uint16(d[12:]), d[14:]
		// 802.1Q, 802.1ad and the pre-standard 0x9100 QinQ tag.
		for etype == 0x8100 || etype == 0x88a8 || etype == 0x9100 {
			if len(d) < 4 {
				return nil, false
			}
			etype, d = binary.BigEndian.Uint16(d[2:]), d[4:]
		}
	case LinkSLL:
		if len(d) < 16 {
			return nil, false
		}
		etype, d = binary.BigEndian.Uint16(d[14:]), d[16:]
	case LinkSLL2:
		if len(d) < 20 {
			return nil, false
		}
		etype, d = binary.BigEndian.Uint16(d), d[20:]
	case LinkNull, LinkLoop:
		if len(d) < 4 {
			return nil, false
		}
		etype, d = nullFamily(d), d[4:]
	case LinkRaw, LinkIPv4, LinkIPv6:
		etype = versionType(d)
	default:
		return nil, false
	}
	switch etype {
	case etherIPv4, etherIPv6:
		return trimIP(d), true
	}
	return nil, false
}

// nullFamily maps a loopback header's address family, written in whichever
// byte order the capturing host used, to an EtherType. AF_INET is 2
// everywhere; AF_INET6 is 10 (Linux), 24 (NetBSD, OpenBSD), 28 (FreeBSD)
// or 30 (macOS).
func nullFamily(d []byte) uint16 {
	fam := binary.LittleEndian.Uint32(d)
	if fam > 0xffff {
		fam = binary.BigEndian.Uint32(d)
	}
	switch fam {
	case 2:
		return etherIPv4
	case 10, 24, 28, 30:
		return etherIPv6
	}
	return 0
}

func versionType(d []byte) uint16 {
	if len(d) == 0 {
		return 0
	}
	switch d[0] >> 4 {
	case 4:
		return etherIPv4
	case 6:
		return etherIPv6
	}
	return 0
}

// trimIP cuts what follows the IP packet (Ethernet padding, an FCS) the way
// the kernel's view of the packet ends, when the IP header says so. A
// header that claims more than the frame holds is left for the decoder to
// report.
func trimIP(d []byte) []byte {
	if len(d) == 0 {
		return d
	}
	switch d[0] >> 4 {
	case 4:
		if len(d) >= 20 {
			if tl := int(binary.BigEndian.Uint16(d[2:])); tl >= 20 && tl < len(d) {
				return d[:tl]
			}
		}
	case 6:
		if len(d) >= 40 {
			// A payload length of 0 is a jumbogram: leave it whole.
			if pl := int(binary.BigEndian.Uint16(d[4:])); pl > 0 && 40+pl < len(d) {
				return d[:40+pl]
			}
		}
	}
	return d
}
