package engine

import (
	"encoding/binary"
	"net/netip"
)

// Minimal packet builders for the engine's tests: checksums are left zero,
// which the decoder (like the kernel hook we sit behind) does not verify.

type tpkt struct {
	src, dst     string
	proto        uint8
	sport, dport uint16
	flags        uint8 // TCP
	icmpType     uint8
	icmpID       uint16
	ttl          uint8
	payload      []byte
}

func (t tpkt) bytes() []byte {
	src, dst := netip.MustParseAddr(t.src), netip.MustParseAddr(t.dst)
	var l4 []byte
	switch t.proto {
	case 6:
		l4 = make([]byte, 20+len(t.payload))
		binary.BigEndian.PutUint16(l4[0:], t.sport)
		binary.BigEndian.PutUint16(l4[2:], t.dport)
		l4[12] = 5 << 4
		l4[13] = t.flags
		copy(l4[20:], t.payload)
	case 17:
		l4 = make([]byte, 8+len(t.payload))
		binary.BigEndian.PutUint16(l4[0:], t.sport)
		binary.BigEndian.PutUint16(l4[2:], t.dport)
		binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
		copy(l4[8:], t.payload)
	case 1, 58:
		l4 = make([]byte, 8+len(t.payload))
		l4[0] = t.icmpType
		binary.BigEndian.PutUint16(l4[4:], t.icmpID)
		copy(l4[8:], t.payload)
	}
	ttl := t.ttl
	if ttl == 0 {
		ttl = 64
	}
	if src.Is4() {
		b := make([]byte, 20+len(l4))
		b[0] = 0x45
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		b[8] = ttl
		b[9] = t.proto
		s4, d4 := src.As4(), dst.As4()
		copy(b[12:], s4[:])
		copy(b[16:], d4[:])
		copy(b[20:], l4)
		return b
	}
	b := make([]byte, 40+len(l4))
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(len(l4)))
	b[6] = t.proto
	b[7] = ttl
	s16, d16 := src.As16(), dst.As16()
	copy(b[8:], s16[:])
	copy(b[24:], d16[:])
	copy(b[40:], l4)
	return b
}

const (
	fSYN = 0x02
	fACK = 0x10
	fPSH = 0x08
	fFIN = 0x01
)

func tcp(src, dst string, sport, dport uint16, flags uint8) []byte {
	return tpkt{src: src, dst: dst, proto: 6, sport: sport, dport: dport, flags: flags}.bytes()
}
