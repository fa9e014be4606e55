package capture

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/bits"
)

var errEOF = io.EOF

// pcapng block types.
const (
	ngSectionHeader  = 0x0a0d0d0a
	ngInterface      = 0x00000001
	ngPacketObsolete = 0x00000002
	ngSimplePacket   = 0x00000003
	ngEnhancedPacket = 0x00000006

	ngByteOrder = 0x1a2b3c4d
)

// ngIface is what a packet needs from its interface description block.
type ngIface struct {
	link    LinkType
	snaplen uint32
	// The timestamp unit: 10^-exp seconds, or 2^-exp when binary.
	exp    uint8
	binary bool
	offset int64  // if_tsoffset, seconds
	name   string // if_name
}

// ns converts a timestamp in the interface's units to Unix nanoseconds.
func (f *ngIface) ns(ts uint64) int64 {
	var n int64
	switch {
	case f.binary:
		hi, lo := bits.Mul64(ts, 1e9)
		if f.exp == 0 {
			n = int64(lo)
		} else {
			n = int64(hi<<(64-f.exp) | lo>>f.exp)
		}
	case f.exp <= 9:
		n = int64(ts) * pow10[9-f.exp]
	case f.exp <= 18+9:
		n = int64(ts / uint64(pow10[f.exp-9]))
	}
	return n + f.offset*1e9
}

var pow10 = [...]int64{1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

func (r *Reader) nextNG(p *Packet) error {
	for {
		num, off, err := r.begin(12, "a block header")
		if err != nil {
			return err
		}
		h := r.buf[r.r:]
		if binary.LittleEndian.Uint32(h) == ngSectionHeader {
			// A new section: its byte-order magic decides how to read
			// everything, its own length included.
			switch binary.LittleEndian.Uint32(h[8:]) {
			case ngByteOrder:
				r.ngBE = false
			case 0x4d3c2b1a:
				r.ngBE = true
			default:
				return r.corrupt(off+8, num, "section header byte-order magic %08x is neither 1a2b3c4d nor 4d3c2b1a", binary.LittleEndian.Uint32(h[8:]))
			}
			r.ifaces = r.ifaces[:0]
		}
		typ, blen := u32(h, r.ngBE), u32(h[4:], r.ngBE)
		if blen < 12 || blen%4 != 0 || blen > MaxRecord {
			return r.corrupt(off+4, num, "block type %#x has length %d (a multiple of 4 between 12 and %d is required)", typ, blen, MaxRecord)
		}
		if !r.fill(int(blen)) {
			return r.fail(num, "block type %#x needs %d bytes, %d are left", typ, blen, r.w-r.r)
		}
		b := r.buf[r.r : r.r+int(blen)]
		if tail := u32(b[blen-4:], r.ngBE); tail != blen {
			return r.corrupt(off+int64(blen)-4, num, "block type %#x ends with length %d, begins with %d", typ, tail, blen)
		}
		body := b[8 : blen-4]
		r.consume(int(blen))

		switch typ {
		case ngSectionHeader:
			if len(body) < 16 {
				return r.corrupt(off, num, "section header block is too short (%d bytes)", blen)
			}
			if major := u16(body[4:], r.ngBE); major != 1 {
				return r.corrupt(off+12, num, "pcapng version %d (only 1.x exists)", major)
			}
		case ngInterface:
			if len(body) < 8 {
				return r.corrupt(off, num, "interface description block is too short (%d bytes)", blen)
			}
			f := ngIface{link: LinkType(u16(body, r.ngBE)), snaplen: u32(body[4:], r.ngBE), exp: 6}
			r.ifaceOptions(&f, body[8:])
			r.ifaces = append(r.ifaces, f)
		case ngEnhancedPacket, ngPacketObsolete:
			if len(body) < 20 {
				return r.corrupt(off, num, "packet block is too short (%d bytes)", blen)
			}
			var ifc uint32
			if typ == ngEnhancedPacket {
				ifc = u32(body, r.ngBE)
			} else {
				ifc = uint32(u16(body, r.ngBE))
			}
			if int(ifc) >= len(r.ifaces) {
				return r.corrupt(off+8, num, "packet of interface %d, but the section describes %d", ifc, len(r.ifaces))
			}
			f := &r.ifaces[ifc]
			ts := uint64(u32(body[4:], r.ngBE))<<32 | uint64(u32(body[8:], r.ngBE))
			incl, orig := u32(body[12:], r.ngBE), u32(body[16:], r.ngBE)
			if uint64(incl) > uint64(len(body)-20) {
				return r.corrupt(off+20, num, "packet claims %d captured bytes, its block holds %d", incl, len(body)-20)
			}
			if r.OnNonIP != nil {
				// Where a frame without IP was captured, for the hook (nonip.go).
				r.nonIPIface, r.nonIPOpts = f.name, nil
				if typ == ngEnhancedPacket {
					r.nonIPOpts = body[20+(incl+3)&^3:]
				}
			}
			if r.deliver(p, f.link, body[20:20+incl], f.ns(ts), int(orig), off) {
				p.Interface = f.name
				if typ == ngEnhancedPacket {
					p.Direction = r.epbDirection(body[20+(incl+3)&^3:])
				}
				return nil
			}
		case ngSimplePacket:
			if len(body) < 4 || len(r.ifaces) == 0 {
				return r.corrupt(off, num, "simple packet block without an interface or too short")
			}
			f := &r.ifaces[0]
			orig := u32(body, r.ngBE)
			incl := min(uint64(orig), uint64(len(body)-4))
			if f.snaplen > 0 {
				incl = min(incl, uint64(f.snaplen))
			}
			// A simple packet has no timestamp.
			if r.deliver(p, f.link, body[4:4+incl], 0, int(orig), off) {
				return nil
			}
		}
		// Name resolution, statistics, decryption secrets and custom
		// blocks carry no packets.
	}
}

// epbDirection reads the direction bits of epb_flags (2) among an
// enhanced packet block's options.
func (r *Reader) epbDirection(opts []byte) Direction {
	for len(opts) >= 4 {
		code, n := u16(opts, r.ngBE), int(u16(opts[2:], r.ngBE))
		if code == 0 || 4+n > len(opts) {
			return DirUnknown
		}
		if code == 2 && n == 4 {
			return Direction(u32(opts[4:], r.ngBE) & 3 % 3)
		}
		adv := 4 + (n+3)&^3
		if adv > len(opts) {
			return DirUnknown
		}
		opts = opts[adv:]
	}
	return DirUnknown
}

// ifaceOptions reads if_name (2), if_tsresol (9) and if_tsoffset (14).
func (r *Reader) ifaceOptions(f *ngIface, opts []byte) {
	for len(opts) >= 4 {
		code, n := u16(opts, r.ngBE), int(u16(opts[2:], r.ngBE))
		if code == 0 || 4+n > len(opts) {
			return
		}
		v := opts[4 : 4+n]
		switch {
		case code == 2 && n > 0:
			f.name = string(bytes.TrimRight(v, "\x00"))
		case code == 9 && n >= 1:
			f.binary, f.exp = v[0]&0x80 != 0, v[0]&0x7f
			if f.binary && f.exp > 63 || !f.binary && f.exp > 27 {
				f.binary, f.exp = false, 6 // nonsense; keep microseconds
			}
		case code == 14 && n >= 8:
			if r.ngBE {
				f.offset = int64(binary.BigEndian.Uint64(v))
			} else {
				f.offset = int64(binary.LittleEndian.Uint64(v))
			}
		}
		adv := 4 + (n+3)&^3
		if adv > len(opts) {
			return
		}
		opts = opts[adv:]
	}
}
