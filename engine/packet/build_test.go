package packet

import (
	"encoding/binary"
	"net/netip"
)

// Test helpers that build packets from their fields, so that test cases
// say what they mean instead of carrying opaque hex.

var (
	src4 = netip.MustParseAddr("192.0.2.1")
	dst4 = netip.MustParseAddr("198.51.100.2")
	src6 = netip.MustParseAddr("2001:db8::1")
	dst6 = netip.MustParseAddr("2001:db8:ff::2")
)

const (
	ttl4 = 64 // every built IPv4 packet
	hop6 = 63 // every built IPv6 packet
	id4  = 0xbeef
)

// v4pkt builds an IPv4 packet from src4 to dst4.
type v4pkt struct {
	proto   uint8
	mf      bool
	fragOff int    // bytes, a multiple of 8
	opts    []byte // IP options, a multiple of 4 bytes
	totLen  int    // 0: computed; -1: write 0 (GSO); else written as is
	ihl     int    // 0: computed; else written as is (in 4-byte words)
	l4      []byte
	trailer []byte // link-layer padding after the IP packet
}

func (h v4pkt) build() []byte {
	hl := IPv4MinLen + len(h.opts)
	b := make([]byte, hl, hl+len(h.l4)+len(h.trailer))
	ihl := hl / 4
	if h.ihl != 0 {
		ihl = h.ihl
	}
	b[0] = 0x40 | byte(ihl)
	binary.BigEndian.PutUint16(b[2:], lengthField(h.totLen, hl+len(h.l4)))
	binary.BigEndian.PutUint16(b[4:], id4)
	fo := uint16(h.fragOff / 8)
	if h.mf {
		fo |= 0x2000
	}
	binary.BigEndian.PutUint16(b[6:], fo)
	b[8] = ttl4
	b[9] = h.proto
	a, c := src4.As4(), dst4.As4()
	copy(b[12:], a[:])
	copy(b[16:], c[:])
	copy(b[20:], h.opts)
	b = append(b, h.l4...)
	return append(b, h.trailer...)
}

// ext is one IPv6 extension header; byte 0 (next header) is filled in by
// v6pkt.build.
type ext struct {
	typ uint8
	raw []byte
}

// optsExt is a hop-by-hop, routing or destination-options header of 8*n bytes.
func optsExt(typ uint8, n int) ext {
	raw := make([]byte, 8*n)
	raw[1] = byte(n - 1)
	if typ != ProtoRouting {
		raw[2], raw[3] = 1, byte(len(raw)-4) // one PadN option fills the rest
	}
	return ext{typ, raw}
}

func fragExt(off int, more bool, id uint32) ext {
	raw := make([]byte, IPv6FragLen)
	v := uint16(off) &^ 7
	if more {
		v |= 1
	}
	binary.BigEndian.PutUint16(raw[2:], v)
	binary.BigEndian.PutUint32(raw[4:], id)
	return ext{ProtoFragment, raw}
}

// ahExt is an authentication header of n bytes (a multiple of 4, at least 12).
func ahExt(n int) ext {
	raw := make([]byte, n)
	raw[1] = byte(n/4 - 2)
	return ext{ProtoAH, raw}
}

// v6pkt builds an IPv6 packet from src6 to dst6.
type v6pkt struct {
	exts    []ext
	proto   uint8 // header after the last extension
	l4      []byte
	payLen  int // 0: computed; -1: write 0 (jumbo/GSO); else written as is
	trailer []byte
}

func (h v6pkt) build() []byte {
	b := make([]byte, IPv6Len, 128)
	b[0] = 0x60
	nh := h.proto
	if len(h.exts) > 0 {
		nh = h.exts[0].typ
	}
	b[6], b[7] = nh, hop6
	a, c := src6.As16(), dst6.As16()
	copy(b[8:], a[:])
	copy(b[24:], c[:])
	for i, e := range h.exts {
		next := h.proto
		if i+1 < len(h.exts) {
			next = h.exts[i+1].typ
		}
		start := len(b)
		b = append(b, e.raw...)
		b[start] = next
	}
	b = append(b, h.l4...)
	binary.BigEndian.PutUint16(b[4:], lengthField(h.payLen, len(b)-IPv6Len))
	return append(b, h.trailer...)
}

// lengthField is what a builder writes in an IP length field whose true
// value is n: n when set is 0, 0 when set is -1 (as for GSO), else set as
// is.
func lengthField(set, n int) uint16 {
	switch set {
	case 0:
		return uint16(n)
	case -1:
		return 0
	}
	return uint16(set)
}

// tcpSeg builds a TCP segment (checksum left zero: Decode does not verify it).
type tcpSeg struct {
	sport, dport uint16
	seq, ack     uint32
	flags        uint8
	opts         []byte // a multiple of 4 bytes
	data         []byte
	doff         int // 0: computed; else written as is (in 4-byte words)
}

func (s tcpSeg) build() []byte {
	hl := TCPMinLen + len(s.opts)
	b := make([]byte, hl, hl+len(s.data))
	binary.BigEndian.PutUint16(b[0:], s.sport)
	binary.BigEndian.PutUint16(b[2:], s.dport)
	binary.BigEndian.PutUint32(b[4:], s.seq)
	binary.BigEndian.PutUint32(b[8:], s.ack)
	doff := hl / 4
	if s.doff != 0 {
		doff = s.doff
	}
	b[12] = byte(doff) << 4
	b[13] = s.flags
	binary.BigEndian.PutUint16(b[14:], 65535)
	copy(b[20:], s.opts)
	return append(b, s.data...)
}

// udp builds a UDP datagram; length < 0 writes the computed length.
func udp(sport, dport uint16, length int, data []byte) []byte {
	if length < 0 {
		length = UDPLen + len(data)
	}
	b := make([]byte, UDPLen, UDPLen+len(data))
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	binary.BigEndian.PutUint16(b[4:], uint16(length))
	return append(b, data...)
}

// icmp builds an ICMP or ICMPv6 message; rest is the 4-byte
// type-specific field (id<<16 | seq for echo).
func icmp(typ, code uint8, rest uint32, body []byte) []byte {
	b := make([]byte, ICMPMinLen, ICMPMinLen+len(body))
	b[0], b[1] = typ, code
	binary.BigEndian.PutUint32(b[4:], rest)
	return append(b, body...)
}

// mss and tsopt are common TCP options.
var (
	mss   = []byte{2, 4, 0x05, 0xb4}
	tsopt = []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}
)

// with returns a copy of b changed by fn, for malformed variants.
func with(b []byte, fn func(b []byte) []byte) []byte {
	return fn(append([]byte(nil), b...))
}
