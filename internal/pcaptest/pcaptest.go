// Package pcaptest reads the real captures under ../shared/captures for the
// protocol parsers' tests and fuzz seeds: files are read by the capture
// package, and an IPv4/IPv6/TCP/UDP decoder yields each transport payload.
//
// It is test support, not a packet path: it allocates freely and decodes
// only what the parser tests need (no IP reassembly, no TCP streams).
package pcaptest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/conduit-ot/conduit/capture"
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
		_, err = io.ReadFull(f, magic[:])
		f.Close()
		if err == nil && capture.Detect(magic[:]) != capture.FormatUnknown {
			out = append(out, p)
		}
	}
	return out
}

// ReadFile reads a capture and returns the TCP and UDP payloads of its
// packets, numbered as Wireshark numbers frames. Frames that carry no IP,
// IP fragments, and packets whose IP length exceeds the captured bytes (a
// kernel would never deliver them) are left out; empty payloads are kept
// so flags can be counted.
func ReadFile(path string) ([]Segment, error) {
	r, err := capture.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []Segment
	err = each(r, func(p *capture.Packet) {
		// Data is reused by the next call; segments outlive it.
		if s, ok := decodeIP(bytes.Clone(p.Data)); ok {
			s.Frame = p.Number
			out = append(out, s)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read capture %s: %w", path, err)
	}
	return out, nil
}

// each hands f every packet of r, in turn in one Packet that the next
// read reuses, and returns the error that ended the capture before its
// end, if any.
func each(r *capture.Reader, f func(p *capture.Packet)) error {
	var p capture.Packet
	for {
		if err := r.Next(&p); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		f(&p)
	}
}

// Link types (LINKTYPE_* of the tcpdump registry), the values of
// capture.LinkType that tests name most.
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

// Frames returns the link-layer frames of a whole pcap or pcapng file
// that carry IP, read by the capture package (the format is told by the
// magic number, not the file name). On a truncated or corrupt file it
// returns the frames before the damage and the *capture.Error.
func Frames(data []byte) ([]Frame, error) {
	r, err := capture.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	var out []Frame
	err = each(r, func(p *capture.Packet) {
		out = append(out, Frame{LinkType: uint32(p.Link), Data: bytes.Clone(r.Frame())})
	})
	return out, err
}

// Decode extracts the TCP or UDP payload of one frame, stripping the link
// layer as the capture package does.
func Decode(link uint32, b []byte) (Segment, bool) {
	ip, ok := capture.LinkType(link).IP(b)
	if !ok {
		return Segment{}, false
	}
	return decodeIP(ip)
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
