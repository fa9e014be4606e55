package synth

import (
	"encoding/binary"
	"net/netip"
)

// Ethernet, IPv4, TCP, UDP and ICMP framing with correct checksums, so
// that Wireshark reads the captures without complaint.

const (
	ethHeader = 14
	vlanTag   = 4
	ipHeader  = 20
	tcpHeader = 20
	udpHeader = 8
)

// mac derives a stable locally administered MAC from an IPv4 address.
func mac(a netip.Addr) [6]byte {
	b := a.As4()
	return [6]byte{0x02, 0x00, b[0], b[1], b[2], b[3]}
}

// frame writes Ethernet (with an 802.1Q tag when vlan > 0) and IPv4
// headers around an L4 segment that the caller has written at
// b[l4off:], and returns the frame.
type frameSpec struct {
	src, dst netip.Addr
	proto    uint8
	vlan     uint16
	ttl      uint8
	id       uint16
}

// l4Offset is where the L4 header starts for a frame with or without a tag.
func l4Offset(vlan uint16) int {
	if vlan > 0 {
		return ethHeader + vlanTag + ipHeader
	}
	return ethHeader + ipHeader
}

// finish fills the link and IP headers of b, whose L4 segment (header and
// payload) is b[l4Offset(vlan):].
func finish(b []byte, s frameSpec) []byte {
	dm, sm := mac(s.dst), mac(s.src)
	copy(b[0:], dm[:])
	copy(b[6:], sm[:])
	off := 12
	if s.vlan > 0 {
		binary.BigEndian.PutUint16(b[12:], 0x8100)
		binary.BigEndian.PutUint16(b[14:], s.vlan)
		off = 16
	}
	binary.BigEndian.PutUint16(b[off:], 0x0800)
	ip := b[off+2:]
	total := len(ip)
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(total))
	binary.BigEndian.PutUint16(ip[4:], s.id)
	binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF
	ip[8], ip[9] = s.ttl, s.proto
	ip[10], ip[11] = 0, 0
	sa, da := s.src.As4(), s.dst.As4()
	copy(ip[12:], sa[:])
	copy(ip[16:], da[:])
	binary.BigEndian.PutUint16(ip[10:], ^fold(sum(ip[:ipHeader], 0)))

	l4 := ip[ipHeader:]
	switch s.proto {
	case 6, 17:
		// Pseudo-header: addresses, protocol, L4 length.
		ps := sum(ip[12:20], 0) + uint32(s.proto) + uint32(len(l4))
		ck := 16
		if s.proto == 17 {
			ck = 6
		}
		l4[ck], l4[ck+1] = 0, 0
		c := ^fold(sum(l4, ps))
		if s.proto == 17 && c == 0 {
			c = 0xffff
		}
		binary.BigEndian.PutUint16(l4[ck:], c)
	case 1:
		l4[2], l4[3] = 0, 0
		binary.BigEndian.PutUint16(l4[2:], ^fold(sum(l4, 0)))
	}
	// Ethernet frames are at least 60 bytes: pad short ones, as NICs do.
	for len(b) < 60 {
		b = append(b, 0)
	}
	return b
}

func sum(b []byte, acc uint32) uint32 {
	for len(b) >= 2 {
		acc += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		acc += uint32(b[0]) << 8
	}
	return acc
}

func fold(acc uint32) uint16 {
	for acc > 0xffff {
		acc = acc>>16 + acc&0xffff
	}
	return uint16(acc)
}

// TCP flags.
const (
	fin = 0x01
	syn = 0x02
	rst = 0x04
	psh = 0x08
	ack = 0x10
)

// tcpFrame builds a TCP segment frame carrying payload.
func tcpFrame(s frameSpec, sport, dport uint16, seq, ackn uint32, flags uint8, payload []byte) []byte {
	s.proto = 6
	off := l4Offset(s.vlan)
	hl := tcpHeader
	if flags&syn != 0 {
		hl += 4 // MSS option
	}
	b := make([]byte, off+hl+len(payload), off+hl+len(payload)+60)
	t := b[off:]
	binary.BigEndian.PutUint16(t[0:], sport)
	binary.BigEndian.PutUint16(t[2:], dport)
	binary.BigEndian.PutUint32(t[4:], seq)
	if flags&ack != 0 {
		binary.BigEndian.PutUint32(t[8:], ackn)
	}
	t[12] = byte(hl/4) << 4
	t[13] = flags
	binary.BigEndian.PutUint16(t[14:], 8192) // window
	if flags&syn != 0 {
		t[20], t[21] = 2, 4
		binary.BigEndian.PutUint16(t[22:], 1460)
	}
	copy(t[hl:], payload)
	return finish(b, s)
}

// udpFrame builds a UDP datagram frame.
func udpFrame(s frameSpec, sport, dport uint16, payload []byte) []byte {
	s.proto = 17
	off := l4Offset(s.vlan)
	b := make([]byte, off+udpHeader+len(payload), off+udpHeader+len(payload)+60)
	u := b[off:]
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(udpHeader+len(payload)))
	copy(u[udpHeader:], payload)
	return finish(b, s)
}

// icmpEcho builds an ICMP echo request (typ 8) or reply (typ 0).
func icmpEcho(s frameSpec, typ uint8, id, seq uint16, payload []byte) []byte {
	s.proto = 1
	off := l4Offset(s.vlan)
	b := make([]byte, off+8+len(payload), off+8+len(payload)+60)
	c := b[off:]
	c[0] = typ
	binary.BigEndian.PutUint16(c[4:], id)
	binary.BigEndian.PutUint16(c[6:], seq)
	copy(c[8:], payload)
	return finish(b, s)
}

// arpRequest builds an ARP who-has frame: not IP, so readers skip it.
func arpRequest(from, target netip.Addr) []byte {
	b := make([]byte, 60)
	for i := range 6 {
		b[i] = 0xff
	}
	sm := mac(from)
	copy(b[6:], sm[:])
	binary.BigEndian.PutUint16(b[12:], 0x0806)
	a := b[14:]
	binary.BigEndian.PutUint16(a[0:], 1)
	binary.BigEndian.PutUint16(a[2:], 0x0800)
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:], 1)
	copy(a[8:], sm[:])
	fa, ta := from.As4(), target.As4()
	copy(a[14:], fa[:])
	copy(a[24:], ta[:])
	return b
}
