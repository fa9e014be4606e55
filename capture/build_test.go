package capture

import (
	"bytes"
	"encoding/binary"
)

// Builders of frames and files for the tests: small, explicit, and
// independent of the reader's code.

// ipv4UDP returns an IPv4/UDP packet with n payload bytes.
func ipv4UDP(src, dst byte, n int) []byte {
	b := make([]byte, 28+n)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	b[8], b[9] = 64, 17
	copy(b[12:], []byte{10, 0, 0, src})
	copy(b[16:], []byte{10, 0, 0, dst})
	binary.BigEndian.PutUint16(b[20:], 40000)
	binary.BigEndian.PutUint16(b[22:], 123)
	binary.BigEndian.PutUint16(b[24:], uint16(8+n))
	for i := range n {
		b[28+i] = byte(i)
	}
	return b
}

// ipv6UDP returns an IPv6/UDP packet with n payload bytes.
func ipv6UDP(n int) []byte {
	b := make([]byte, 48+n)
	b[0] = 0x60
	binary.BigEndian.PutUint16(b[4:], uint16(8+n))
	b[6], b[7] = 17, 64
	b[8], b[9], b[23] = 0xfd, 0x00, 1
	b[24], b[25], b[39] = 0xfd, 0x00, 2
	binary.BigEndian.PutUint16(b[40:], 40000)
	binary.BigEndian.PutUint16(b[42:], 123)
	binary.BigEndian.PutUint16(b[44:], uint16(8+n))
	return b
}

func ether(etype uint16, tags []uint16, payload []byte) []byte {
	b := []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2}
	for _, tpid := range tags {
		b = binary.BigEndian.AppendUint16(b, tpid)
		b = binary.BigEndian.AppendUint16(b, 100) // VLAN id
	}
	b = binary.BigEndian.AppendUint16(b, etype)
	b = append(b, payload...)
	for len(b) < 60 { // minimum frame: padding the IP length must cut off
		b = append(b, 0)
	}
	return b
}

func sll(etype uint16, payload []byte) []byte {
	b := make([]byte, 16, 16+len(payload))
	binary.BigEndian.PutUint16(b[2:], 1) // ARPHRD_ETHER
	binary.BigEndian.PutUint16(b[4:], 6)
	binary.BigEndian.PutUint16(b[14:], etype)
	return append(b, payload...)
}

func sll2(etype uint16, payload []byte) []byte {
	b := make([]byte, 20, 20+len(payload))
	binary.BigEndian.PutUint16(b[0:], etype)
	binary.BigEndian.PutUint32(b[4:], 3) // ifindex
	binary.BigEndian.PutUint16(b[8:], 1)
	b[11] = 6
	return append(b, payload...)
}

func null(family uint32, be bool, payload []byte) []byte {
	b := make([]byte, 4, 4+len(payload))
	if be {
		binary.BigEndian.PutUint32(b, family)
	} else {
		binary.LittleEndian.PutUint32(b, family)
	}
	return append(b, payload...)
}

type rec struct {
	ts    int64 // ns
	frame []byte
	orig  int // 0: len(frame)
}

// pcapFile builds a classic pcap file.
func pcapFile(be, nano bool, link LinkType, recs []rec) []byte {
	var bo order = binary.LittleEndian
	if be {
		bo = binary.BigEndian
	}
	magic := uint32(0xa1b2c3d4)
	if nano {
		magic = 0xa1b23c4d
	}
	var b []byte
	b = bo.AppendUint32(b, magic)
	b = bo.AppendUint16(b, 2)
	b = bo.AppendUint16(b, 4)
	b = bo.AppendUint32(b, 0)
	b = bo.AppendUint32(b, 0)
	b = bo.AppendUint32(b, 65535)
	b = bo.AppendUint32(b, uint32(link))
	for _, r := range recs {
		frac := r.ts % 1e9
		if !nano {
			frac /= 1e3
		}
		orig := r.orig
		if orig == 0 {
			orig = len(r.frame)
		}
		b = bo.AppendUint32(b, uint32(r.ts/1e9))
		b = bo.AppendUint32(b, uint32(frac))
		b = bo.AppendUint32(b, uint32(len(r.frame)))
		b = bo.AppendUint32(b, uint32(orig))
		b = append(b, r.frame...)
	}
	return b
}

// ng builds pcapng blocks in one byte order.
type ng struct {
	bo  order
	buf bytes.Buffer
}

func newNG(be bool) *ng {
	n := &ng{bo: binary.LittleEndian}
	if be {
		n.bo = binary.BigEndian
	}
	return n
}

func (n *ng) block(typ uint32, body []byte) *ng {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	l := uint32(12 + len(body))
	var b []byte
	b = n.bo.AppendUint32(b, typ)
	b = n.bo.AppendUint32(b, l)
	b = append(b, body...)
	b = n.bo.AppendUint32(b, l)
	n.buf.Write(b)
	return n
}

func (n *ng) section() *ng {
	var b []byte
	b = n.bo.AppendUint32(b, 0x1a2b3c4d)
	b = n.bo.AppendUint16(b, 1)
	b = n.bo.AppendUint16(b, 0)
	b = n.bo.AppendUint64(b, ^uint64(0)) // section length unknown
	return n.block(0x0a0d0d0a, b)
}

// iface adds an interface; opts are raw option bytes (code, len, value).
func (n *ng) iface(link LinkType, opts ...[]byte) *ng {
	var b []byte
	b = n.bo.AppendUint16(b, uint16(link))
	b = n.bo.AppendUint16(b, 0)
	b = n.bo.AppendUint32(b, 0)
	for _, o := range opts {
		b = append(b, o...)
	}
	if len(opts) > 0 {
		b = n.bo.AppendUint32(b, 0) // opt_endofopt
	}
	return n.block(1, b)
}

func (n *ng) opt(code uint16, v []byte) []byte {
	var b []byte
	b = n.bo.AppendUint16(b, code)
	b = n.bo.AppendUint16(b, uint16(len(v)))
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// epb adds an enhanced packet block; ts is in the interface's units.
func (n *ng) epb(ifc uint32, ts uint64, frame []byte) *ng {
	var b []byte
	b = n.bo.AppendUint32(b, ifc)
	b = n.bo.AppendUint32(b, uint32(ts>>32))
	b = n.bo.AppendUint32(b, uint32(ts))
	b = n.bo.AppendUint32(b, uint32(len(frame)))
	b = n.bo.AppendUint32(b, uint32(len(frame)))
	return n.block(6, append(b, frame...))
}

// obsolete adds a type-2 packet block.
func (n *ng) obsolete(ifc uint16, ts uint64, frame []byte) *ng {
	var b []byte
	b = n.bo.AppendUint16(b, ifc)
	b = n.bo.AppendUint16(b, 0)
	b = n.bo.AppendUint32(b, uint32(ts>>32))
	b = n.bo.AppendUint32(b, uint32(ts))
	b = n.bo.AppendUint32(b, uint32(len(frame)))
	b = n.bo.AppendUint32(b, uint32(len(frame)))
	return n.block(2, append(b, frame...))
}

func (n *ng) spb(frame []byte) *ng {
	b := n.bo.AppendUint32(nil, uint32(len(frame)))
	return n.block(3, append(b, frame...))
}

func (n *ng) bytes() []byte { return n.buf.Bytes() }

// order is a byte order that can append.
type order interface {
	binary.ByteOrder
	binary.AppendByteOrder
}
