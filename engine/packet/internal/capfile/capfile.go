// Package capfile is a minimal pcap/pcapng reader for tests and fuzz
// seeds of engine/packet: it reads a whole capture into memory and strips
// the link layer down to the IP packet, as NFQUEUE would deliver it.
package capfile

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Link types (LINKTYPE_* from the tcpdump registry).
const (
	LinkNull     = 0
	LinkEthernet = 1
	LinkRaw      = 101
	LinkSLL      = 113
	LinkIPv4     = 228
	LinkIPv6     = 229
	LinkSLL2     = 276
)

// Frame is one captured frame.
type Frame struct {
	LinkType uint32
	Data     []byte // captured bytes (possibly shorter than on the wire)
	OrigLen  int    // length on the wire
}

// Format names the container format, told apart by magic number.
type Format int

const (
	Unknown Format = iota
	Pcap
	PcapNG
)

// Detect tells pcap from pcapng by the first four bytes.
func Detect(data []byte) Format {
	if len(data) < 4 {
		return Unknown
	}
	switch binary.LittleEndian.Uint32(data) {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		return Pcap
	case 0x0a0d0d0a:
		return PcapNG
	}
	return Unknown
}

// Read parses a whole capture file of either format.
func Read(data []byte) ([]Frame, error) {
	switch Detect(data) {
	case Pcap:
		return readPcap(data)
	case PcapNG:
		return readPcapNG(data)
	}
	return nil, errors.New("not a pcap or pcapng file")
}

func readPcap(data []byte) ([]Frame, error) {
	if len(data) < 24 {
		return nil, errors.New("pcap: short file header")
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if m := binary.LittleEndian.Uint32(data); m == 0xd4c3b2a1 || m == 0x4d3cb2a1 {
		bo = binary.BigEndian
	}
	link := bo.Uint32(data[20:24]) & 0x0fffffff // upper bits carry FCS info
	var frames []Frame
	for off := 24; off < len(data); {
		if len(data)-off < 16 {
			return frames, fmt.Errorf("pcap: short record header at %d", off)
		}
		incl := int(bo.Uint32(data[off+8:]))
		orig := int(bo.Uint32(data[off+12:]))
		off += 16
		if incl < 0 || incl > len(data)-off {
			return frames, fmt.Errorf("pcap: record at %d overruns the file", off-16)
		}
		frames = append(frames, Frame{LinkType: link, Data: data[off : off+incl], OrigLen: orig})
		off += incl
	}
	return frames, nil
}

func readPcapNG(data []byte) ([]Frame, error) {
	var (
		bo     binary.ByteOrder = binary.LittleEndian
		links  []uint32
		frames []Frame
	)
	for off := 0; off < len(data); {
		if len(data)-off < 12 {
			return frames, fmt.Errorf("pcapng: short block at %d", off)
		}
		typ := bo.Uint32(data[off:])
		if typ == 0x0a0d0d0a { // section header: byte order and interfaces reset
			switch binary.LittleEndian.Uint32(data[off+8:]) {
			case 0x1a2b3c4d:
				bo = binary.LittleEndian
			case 0x4d3c2b1a:
				bo = binary.BigEndian
			default:
				return frames, fmt.Errorf("pcapng: bad byte-order magic at %d", off)
			}
			links = links[:0]
		}
		blen := int(bo.Uint32(data[off+4:]))
		if blen < 12 || blen%4 != 0 || blen > len(data)-off {
			return frames, fmt.Errorf("pcapng: bad block length %d at %d", blen, off)
		}
		body := data[off+8 : off+blen-4]
		switch typ {
		case 1: // interface description
			if len(body) < 8 {
				return frames, fmt.Errorf("pcapng: short interface block at %d", off)
			}
			links = append(links, uint32(bo.Uint16(body)))
		case 6: // enhanced packet
			if len(body) < 20 {
				return frames, fmt.Errorf("pcapng: short packet block at %d", off)
			}
			ifc := bo.Uint32(body)
			incl := int(bo.Uint32(body[12:]))
			orig := int(bo.Uint32(body[16:]))
			if int(ifc) >= len(links) {
				return frames, fmt.Errorf("pcapng: packet for unknown interface %d at %d", ifc, off)
			}
			if incl < 0 || incl > len(body)-20 {
				return frames, fmt.Errorf("pcapng: packet overruns its block at %d", off)
			}
			frames = append(frames, Frame{LinkType: links[ifc], Data: body[20 : 20+incl], OrigLen: orig})
		case 3: // simple packet: interface 0, captured length bounded by the block
			if len(body) < 4 || len(links) == 0 {
				return frames, fmt.Errorf("pcapng: bad simple packet block at %d", off)
			}
			orig := int(bo.Uint32(body))
			incl := min(orig, len(body)-4)
			frames = append(frames, Frame{LinkType: links[0], Data: body[4 : 4+incl], OrigLen: orig})
		}
		off += blen
	}
	return frames, nil
}

// IP returns the IP packet inside a frame, or ok=false when the frame does
// not carry IPv4 or IPv6 (ARP, LLDP, unknown link types).
func IP(f Frame) (pkt []byte, ok bool) {
	d := f.Data
	var etype uint16
	switch f.LinkType {
	case LinkEthernet:
		if len(d) < 14 {
			return nil, false
		}
		etype, d = binary.BigEndian.Uint16(d[12:]), d[14:]
		for etype == 0x8100 || etype == 0x88a8 { // 802.1Q / 802.1ad tags
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
		etype, d = binary.BigEndian.Uint16(d[0:]), d[20:]
	case LinkNull:
		if len(d) < 4 {
			return nil, false
		}
		d = d[4:]
		etype = versionEtype(d)
	case LinkRaw, LinkIPv4, LinkIPv6:
		etype = versionEtype(d)
	default:
		return nil, false
	}
	if etype != 0x0800 && etype != 0x86dd {
		return nil, false
	}
	return d, len(d) > 0
}

func versionEtype(d []byte) uint16 {
	if len(d) == 0 {
		return 0
	}
	switch d[0] >> 4 {
	case 4:
		return 0x0800
	case 6:
		return 0x86dd
	}
	return 0
}
