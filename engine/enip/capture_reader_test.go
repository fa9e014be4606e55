package enip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/conduit-ot/conduit/engine/packet"
)

// A minimal pcap/pcapng reader for the capture tests: the format is told by
// the magic number, not the file name.

// segment is one TCP or UDP payload of a capture.
type capSegment struct {
	proto            uint8
	srcPort, dstPort uint16
	data             []byte
}

// captureDir returns the real-capture directory, or "" when it is absent.
func captureDir() string {
	dir := os.Getenv("CONDUIT_CAPTURES")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "captures")
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return ""
	}
	return dir
}

// captureSegments returns the non-empty TCP/UDP payloads of a capture file
// that have port at either end.
func captureSegments(tb testing.TB, path string, port uint16) []capSegment {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	frames, err := readFrames(data)
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	var out []capSegment
	var p packet.Parsed
	for _, f := range frames {
		ip := linkPayload(f)
		if ip == nil || p.Decode(ip) != packet.ReasonOK || len(p.Payload) == 0 {
			continue
		}
		if p.Proto != packet.ProtoTCP && p.Proto != packet.ProtoUDP {
			continue
		}
		if p.SrcPort != port && p.DstPort != port {
			continue
		}
		out = append(out, capSegment{p.Proto, p.SrcPort, p.DstPort, append([]byte(nil), p.Payload...)})
	}
	return out
}

type frame struct {
	link uint32
	data []byte
}

func readFrames(d []byte) ([]frame, error) {
	if len(d) < 24 {
		return nil, errors.New("too short for a capture file")
	}
	switch binary.LittleEndian.Uint32(d) {
	case 0xa1b2c3d4, 0xa1b23c4d:
		return readPcap(d, binary.LittleEndian)
	case 0xd4c3b2a1, 0x4d3cb2a1:
		return readPcap(d, binary.BigEndian)
	case 0x0a0d0d0a:
		return readPcapNG(d)
	}
	return nil, fmt.Errorf("unknown magic % x", d[:4])
}

func readPcap(d []byte, bo binary.ByteOrder) ([]frame, error) {
	link := bo.Uint32(d[20:]) & 0xffff
	var out []frame
	for off := 24; off < len(d); {
		if len(d)-off < 16 {
			return nil, errors.New("truncated record header")
		}
		caplen := int(bo.Uint32(d[off+8:]))
		off += 16
		if len(d)-off < caplen {
			return nil, errors.New("truncated record")
		}
		out = append(out, frame{link, d[off : off+caplen]})
		off += caplen
	}
	return out, nil
}

func readPcapNG(d []byte) ([]frame, error) {
	var bo binary.ByteOrder = binary.LittleEndian
	var links []uint32
	var out []frame
	for off := 0; off < len(d); {
		if len(d)-off < 12 {
			return nil, errors.New("truncated block")
		}
		if binary.LittleEndian.Uint32(d[off:]) == 0x0a0d0d0a {
			bo = binary.LittleEndian
			if binary.LittleEndian.Uint32(d[off+8:]) != 0x1a2b3c4d {
				bo = binary.BigEndian
			}
			links = links[:0]
		}
		typ, size := bo.Uint32(d[off:]), int(bo.Uint32(d[off+4:]))
		if size < 12 || size%4 != 0 || len(d)-off < size {
			return nil, fmt.Errorf("bad block length %d", size)
		}
		body := d[off+8 : off+size-4]
		switch typ {
		case 1: // interface description
			links = append(links, uint32(bo.Uint16(body)))
		case 6: // enhanced packet
			ifc, caplen := int(bo.Uint32(body)), int(bo.Uint32(body[12:]))
			if ifc >= len(links) || 20+caplen > len(body) {
				return nil, errors.New("bad enhanced packet block")
			}
			out = append(out, frame{links[ifc], body[20 : 20+caplen]})
		case 3: // simple packet
			if len(links) == 0 {
				return nil, errors.New("simple packet before interface")
			}
			out = append(out, frame{links[0], body[4:]})
		}
		off += size
	}
	return out, nil
}

// linkPayload strips the link-layer header, or returns nil when the frame
// is not IP.
func linkPayload(f frame) []byte {
	d := f.data
	switch f.link {
	case 1: // Ethernet, with any VLAN tags
		off := 12
		for len(d) >= off+2 {
			et := binary.BigEndian.Uint16(d[off:])
			if et == 0x8100 || et == 0x88a8 {
				off += 4
				continue
			}
			if et == 0x0800 || et == 0x86dd {
				return d[off+2:]
			}
			return nil
		}
	case 101, 228, 229: // raw IP
		return d
	case 113: // Linux cooked
		if len(d) >= 16 {
			return d[16:]
		}
	}
	return nil
}
