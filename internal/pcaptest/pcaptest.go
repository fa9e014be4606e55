// Package pcaptest reads the real captures under ../shared/captures for the
// protocol parsers' tests and fuzz seeds: a small pcap/pcapng reader and an
// Ethernet/IPv4/IPv6/TCP/UDP decoder that yields each transport payload.
//
// It is test support, not a packet path: it allocates freely and decodes
// only what the parser tests need (no IP reassembly, no TCP streams).
package pcaptest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// Transport protocol numbers.
const (
	TCP = 6
	UDP = 17
)

// TCP flags.
const (
	FIN = 0x01
	SYN = 0x02
	RST = 0x04
	PSH = 0x08
	ACK = 0x10
)

// Segment is the transport payload of one captured frame.
type Segment struct {
	Frame    int // 1-based frame number, as tshark and Wireshark count
	Proto    uint8
	Src, Dst netip.AddrPort
	Seq      uint32 // TCP only
	Flags    uint8  // TCP only
	Payload  []byte
}

// Dir returns the capture directory: $CONDUIT_CAPTURES, else
// ../shared/captures relative to the repository root found from the
// current directory. The test is skipped with a clear message when the
// directory is absent (a user's checkout has no ../shared).
func Dir(tb testing.TB) string {
	tb.Helper()
	dir, ok := Lookup()
	if !ok {
		tb.Skipf("real captures not found at %s; set CONDUIT_CAPTURES to their directory", dir)
	}
	return dir
}

// Lookup returns the capture directory Dir would use and whether it
// exists, for callers that go on without it (fuzz seeds).
func Lookup() (string, bool) {
	dir := os.Getenv("CONDUIT_CAPTURES")
	if dir == "" {
		dir = defaultDir()
	}
	st, err := os.Stat(dir)
	return dir, err == nil && st.IsDir()
}

// defaultDir walks up from the working directory to the module root (the
// directory holding go.mod) and returns ../shared/captures beside it.
func defaultDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return filepath.Join("..", "shared", "captures")
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "..", "shared", "captures")
		}
		if filepath.Dir(d) == d {
			return filepath.Join(wd, "..", "shared", "captures")
		}
	}
}

// Files returns the capture files (pcap or pcapng by magic number) of one
// protocol folder under dir, sorted by name.
func Files(tb testing.TB, dir, proto string) []string {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, proto, "*"))
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			tb.Fatal(err)
		}
		var magic [4]byte
		_, err = f.Read(magic[:])
		f.Close()
		if err == nil && format(magic[:]) != unknown {
			out = append(out, p)
		}
	}
	return out
}

// ReadFile reads a capture and returns the TCP and UDP payloads of its
// frames. Frames that are not Ethernet/IP, IP fragments, and packets whose
// IP length exceeds the captured bytes (a kernel would never deliver them)
// are left out; empty payloads are kept so flags can be counted.
func ReadFile(path string) ([]Segment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	frames, err := Frames(data)
	if err != nil {
		return nil, fmt.Errorf("read capture %s: %w", path, err)
	}
	var out []Segment
	for i, f := range frames {
		if s, ok := Decode(f.LinkType, f.Data); ok {
			s.Frame = i + 1
			out = append(out, s)
		}
	}
	return out, nil
}

// Link types (LINKTYPE_* of the tcpdump registry) that Decode understands.
const (
	LinkEthernet = 1
	LinkRaw      = 101
	LinkSLL      = 113
	LinkIPv4     = 228
	LinkIPv6     = 229
)

// Frame is one captured link-layer frame.
type Frame struct {
	LinkType uint32
	Data     []byte
}

type fileFormat int

const (
	unknown fileFormat = iota
	pcap
	pcapng
)

func format(magic []byte) fileFormat {
	if len(magic) < 4 {
		return unknown
	}
	switch binary.BigEndian.Uint32(magic) {
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		return pcap
	case 0x0a0d0d0a:
		return pcapng
	}
	return unknown
}

var errTruncated = errors.New("truncated capture")

// Frames splits a whole pcap or pcapng file into frames; the format is
// told by the magic number, not the file name.
func Frames(data []byte) ([]Frame, error) {
	switch format(data) {
	case pcap:
		return pcapFrames(data)
	case pcapng:
		return pcapngFrames(data)
	}
	return nil, errors.New("not a pcap or pcapng file")
}

func pcapFrames(data []byte) ([]Frame, error) {
	if len(data) < 24 {
		return nil, errTruncated
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if m := binary.BigEndian.Uint32(data); m == 0xa1b2c3d4 || m == 0xa1b23c4d {
		bo = binary.BigEndian
	}
	link := bo.Uint32(data[20:]) & 0x0fffffff // upper bits carry FCS info
	var out []Frame
	for off := 24; off < len(data); {
		if len(data)-off < 16 {
			return out, errTruncated
		}
		incl := int(bo.Uint32(data[off+8:]))
		off += 16
		if incl < 0 || incl > len(data)-off {
			return out, errTruncated
		}
		out = append(out, Frame{LinkType: link, Data: data[off : off+incl]})
		off += incl
	}
	return out, nil
}

func pcapngFrames(data []byte) ([]Frame, error) {
	var bo binary.ByteOrder = binary.LittleEndian
	var links []uint32 // per interface of the current section
	var out []Frame
	for off := 0; off < len(data); {
		if len(data)-off < 12 {
			return out, errTruncated
		}
		typ := bo.Uint32(data[off:])
		if typ == 0x0a0d0d0a { // section header: its byte-order magic decides
			if len(data)-off < 28 {
				return out, errTruncated
			}
			bo = binary.LittleEndian
			if binary.BigEndian.Uint32(data[off+8:]) == 0x1a2b3c4d {
				bo = binary.BigEndian
			}
			links = links[:0]
		}
		blen := int(bo.Uint32(data[off+4:]))
		if blen < 12 || blen%4 != 0 || blen > len(data)-off {
			return out, errTruncated
		}
		body := data[off+8 : off+blen-4]
		switch typ {
		case 1: // interface description
			if len(body) < 2 {
				return out, errTruncated
			}
			links = append(links, uint32(bo.Uint16(body)))
		case 6: // enhanced packet
			if len(body) < 20 {
				return out, errTruncated
			}
			ifc, capLen := int(bo.Uint32(body)), int(bo.Uint32(body[12:]))
			if ifc >= len(links) || capLen > len(body)-20 {
				return out, errTruncated
			}
			out = append(out, Frame{LinkType: links[ifc], Data: body[20 : 20+capLen]})
		case 3: // simple packet: interface 0, captured length implied
			if len(body) < 4 || len(links) == 0 {
				return out, errTruncated
			}
			n := min(int(bo.Uint32(body)), len(body)-4)
			out = append(out, Frame{LinkType: links[0], Data: body[4 : 4+n]})
		}
		off += blen
	}
	return out, nil
}

// Decode extracts the TCP or UDP payload of one frame.
func Decode(link uint32, b []byte) (Segment, bool) {
	switch link {
	case LinkEthernet:
		if len(b) < 14 {
			return Segment{}, false
		}
		et := binary.BigEndian.Uint16(b[12:])
		b = b[14:]
		for et == 0x8100 || et == 0x88a8 { // VLAN tags
			if len(b) < 4 {
				return Segment{}, false
			}
			et = binary.BigEndian.Uint16(b[2:])
			b = b[4:]
		}
		if et != 0x0800 && et != 0x86dd {
			return Segment{}, false
		}
	case LinkSLL:
		if len(b) < 16 {
			return Segment{}, false
		}
		b = b[16:]
	case LinkRaw, LinkIPv4, LinkIPv6:
	default:
		return Segment{}, false
	}
	return decodeIP(b)
}

func decodeIP(b []byte) (Segment, bool) {
	if len(b) < 1 {
		return Segment{}, false
	}
	var s Segment
	var src, dst netip.Addr
	switch b[0] >> 4 {
	case 4:
		if len(b) < 20 {
			return s, false
		}
		ihl, total := int(b[0]&0x0f)*4, int(binary.BigEndian.Uint16(b[2:]))
		if ihl < 20 || total < ihl || total > len(b) {
			return s, false
		}
		if binary.BigEndian.Uint16(b[6:])&0x3fff != 0 { // MF or offset
			return s, false
		}
		s.Proto = b[9]
		src, dst = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
		b = b[ihl:total]
	case 6:
		if len(b) < 40 {
			return s, false
		}
		plen := int(binary.BigEndian.Uint16(b[4:]))
		if plen > len(b)-40 {
			return s, false
		}
		s.Proto = b[6] // extension headers are not followed
		src, dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
		b = b[40 : 40+plen]
	default:
		return s, false
	}
	switch s.Proto {
	case TCP:
		if len(b) < 20 {
			return s, false
		}
		off := int(b[12]>>4) * 4
		if off < 20 || off > len(b) {
			return s, false
		}
		s.Seq = binary.BigEndian.Uint32(b[4:])
		s.Flags = b[13]
		s.Payload = b[off:]
	case UDP:
		if len(b) < 8 {
			return s, false
		}
		ul := int(binary.BigEndian.Uint16(b[4:]))
		if ul < 8 || ul > len(b) {
			return s, false
		}
		s.Payload = b[8:ul]
	default:
		return s, false
	}
	s.Src = netip.AddrPortFrom(src, binary.BigEndian.Uint16(b[0:]))
	s.Dst = netip.AddrPortFrom(dst, binary.BigEndian.Uint16(b[2:]))
	return s, true
}
