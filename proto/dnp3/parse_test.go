package dnp3

import (
	"encoding/hex"
	"testing"

	"github.com/conduit-ot/conduit/proto/internal/parsetest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// link builds a link frame with correct CRCs from destination 10 and
// source 1.
func link(ctrl byte, ud ...byte) []byte { return frame(ctrl, 10, 1, ud) }

// req frames an application request from the master: unconfirmed user
// data, transport FIR|FIN, application control FIR|FIN and sequence 1.
func req(fc byte, objs ...byte) []byte {
	return link(0xc4, append([]byte{0xc0, 0xc1, fc}, objs...)...)
}

func unhex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestChecksum(t *testing.T) {
	// The CRC-16/DNP check value, and the header of a captured frame
	// (dnp3/direct_operate_crob_malform_but_good_crc.pcap, CRC 0xe6c2).
	if c := Checksum([]byte("123456789")); c != 0xea82 {
		t.Errorf("check value %#04x, want 0xea82", c)
	}
	if c := Checksum([]byte{0x05, 0x64, 0x1a, 0xc4, 0x04, 0x00, 0x03, 0x00}); c != 0xe6c2 {
		t.Errorf("header CRC %#04x, want 0xe6c2", c)
	}
}

// TestChecksumSliced compares the four-bytes-a-step Checksum with the
// bit-by-bit definition on every length up to 40 and some contents.
func TestChecksumSliced(t *testing.T) {
	b := make([]byte, 40)
	for seed := range 50 {
		for i := range b {
			b[i] = byte(seed*131 + i*i*7 + i)
		}
		for n := range len(b) + 1 {
			if got, want := Checksum(b[:n]), checksumBytewise(b[:n]); got != want {
				t.Fatalf("seed %d length %d: %#04x, want %#04x", seed, n, got, want)
			}
		}
	}
}

// checksumBytewise is the bit-at-a-time definition.
func checksumBytewise(b []byte) uint16 {
	var c uint16
	for _, x := range b {
		c ^= uint16(x)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ crcPoly
			} else {
				c >>= 1
			}
		}
	}
	return ^c
}

func TestFrameLen(t *testing.T) {
	for _, c := range []struct{ length, want int }{{0, 0}, {4, 0}, {5, 10}, {6, 13}, {21, 28}, {22, 31}, {255, MaxFrameLen}} {
		if got := FrameLen(uint8(c.length)); got != c.want {
			t.Errorf("FrameLen(%d) = %d, want %d", c.length, got, c.want)
		}
	}
}

func TestParseLink(t *testing.T) {
	good := req(FuncRead, 60, 1, 0x06)
	badBlock := append([]byte(nil), good...)
	badBlock[len(badBlock)-1] ^= 1
	badHeader := append([]byte(nil), good...)
	badHeader[8] ^= 1
	segment := link(0xc4, 0x05, 1, 2, 3) // transport seq 5, neither FIR nor FIN
	last := link(0x44, 0x86, 9, 9)       // FIN only, from the outstation
	tests := []struct {
		name   string
		b      []byte
		err    pdu.Error
		n      int // -1: len(b)
		ctrl   uint8
		link   bool
		tr     uint8
		hasApp bool
	}{
		{"empty", nil, pdu.ErrShort, 0, 0, false, 0, false},
		{"start byte only", []byte{0x05}, pdu.ErrShort, 0, 0, false, 0, false},
		{"bad first start byte", []byte{0x06}, ErrBadStart, 0, 0, false, 0, false},
		{"bad second start byte", []byte{0x05, 0x65, 5}, ErrBadStart, 0, 0, false, 0, false},
		{"length 4", []byte{0x05, 0x64, 4}, ErrBadLength, 0, 0, false, 0, false},
		{"header cut", good[:9], pdu.ErrShort, 0, 0, false, 0, false},
		{"header CRC", badHeader, ErrBadCRC, 0, 0, false, 0, false},
		{"undefined primary function", link(0x45, 0xc0, 0xc1, 1), ErrBadLinkFunction, 0, 0, false, 0, false},
		{"undefined secondary function", link(0x02), ErrBadLinkFunction, 0, 0, false, 0, false},
		{"data on request link status", link(0xc9, 0xc0), ErrBadLength, 0, 0, false, 0, false},
		{"user data function without data", link(0xc4), ErrBadLength, 0, 0, false, 0, false},
		{"data cut", good[:len(good)-1], pdu.ErrShort, 0, 0, false, 0, false},
		{"data block CRC", badBlock, ErrBadCRC, -1, 0xc4, false, 0, false},
		{"request link status", link(0xc9), pdu.OK, 10, 0xc9, true, 0, false},
		{"reset link states", link(0xc0), pdu.OK, 10, 0xc0, true, 0, false},
		{"test link states", link(0xf2), pdu.OK, 10, 0xf2, true, 0, false},
		{"link status", link(0x0b), pdu.OK, 10, 0x0b, true, 0, false},
		{"ack", link(0x00), pdu.OK, 10, 0x00, true, 0, false},
		{"nack with DFC", link(0x11), pdu.OK, 10, 0x11, true, 0, false},
		{"not supported", link(0x0f), pdu.OK, 10, 0x0f, true, 0, false},
		{"confirmed user data", link(0xf3, 0xc0, 0xc1, FuncColdRestart), pdu.OK, -1, 0xf3, false, 0xc0, true},
		{"read", good, pdu.OK, -1, 0xc4, false, 0xc0, true},
		{"middle segment", segment, pdu.OK, -1, 0xc4, false, 0x05, false},
		{"last segment", last, pdu.OK, -1, 0x44, false, 0x86, false},
		{"trailing bytes left", append(link(0xc9), 0x05, 0x64), pdu.OK, 10, 0xc9, true, 0, false},
		{"transport only", link(0xc4, 0xc0), ErrBadApp, -1, 0xc4, false, 0xc0, true},
		{"request without function", link(0xc4, 0xc0, 0xc1), ErrBadApp, -1, 0xc4, false, 0xc0, true},
		{"response without IIN", link(0x44, 0xc0, 0xc1, FuncResponse, 0), ErrBadApp, -1, 0x44, false, 0xc0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f Frame
			f.Control, f.LinkOnly, f.HasApp = 0x99, true, true // Parse must overwrite
			n, err := Parse(tt.b, &f)
			parsetest.Result(t, tt.b, n, err, tt.n, tt.err)
			if f.Control != tt.ctrl || f.LinkOnly != tt.link || f.Transport != tt.tr || f.HasApp != tt.hasApp {
				t.Errorf("control %#x link-only %v transport %#x app %v; want %#x %v %#x %v",
					f.Control, f.LinkOnly, f.Transport, f.HasApp, tt.ctrl, tt.link, tt.tr, tt.hasApp)
			}
			if n > 0 && (f.Destination != 10 || f.Source != 1 || f.LinkFunction != tt.ctrl&0x0f) {
				t.Errorf("addresses %d <- %d, function %d", f.Destination, f.Source, f.LinkFunction)
			}
		})
	}
}

func TestFrameAccessors(t *testing.T) {
	var f Frame
	if _, err := Parse(link(0xc4, 0xc5, 0xc1, FuncRead, 60, 1, 0x06), &f); err != pdu.OK {
		t.Fatal(err)
	}
	if !f.FromMaster() || !f.Primary() || !f.FIR() || !f.FIN() || f.Seq() != 5 || f.App.Seq() != 1 {
		t.Errorf("accessors: %v %v %v %v %d %d", f.FromMaster(), f.Primary(), f.FIR(), f.FIN(), f.Seq(), f.App.Seq())
	}
	if got := hex.EncodeToString(f.UserData()); got != "c5c1013c0106" {
		t.Errorf("user data %s", got)
	}
	if got := hex.EncodeToString(f.Segment()); got != "c1013c0106" {
		t.Errorf("segment %s", got)
	}
	if _, err := Parse(link(0x0b), &f); err != pdu.OK || f.FromMaster() || f.Primary() || f.UserData() == nil && len(f.UserData()) != 0 || f.Segment() != nil {
		t.Errorf("link status: %q %v %v %v", err, f.FromMaster(), f.Primary(), f.Segment())
	}
	h := LinkHeader(link(0x44, 1))
	if h.Length() != 6 || h.Control() != 0x44 || h.Destination() != 10 || h.Source() != 1 || h.CRC() != Checksum(h[:8]) {
		t.Errorf("header view: %d %#x %d %d %#x", h.Length(), h.Control(), h.Destination(), h.Source(), h.CRC())
	}
}

// TestParseLargest parses a 292-byte frame: 250 data bytes in 16 blocks.
func TestParseLargest(t *testing.T) {
	ud := make([]byte, MaxUserData)
	ud[0] = 0x40 // FIR, not FIN
	ud[1], ud[2] = 0xc0, FuncRead
	for i := 3; i+3 <= len(ud); i += 3 { // 82 headers, then one byte of the next
		copy(ud[i:], []byte{60, 1, 0x06})
	}
	b := link(0xc4, ud...)
	if len(b) != MaxFrameLen {
		t.Fatalf("built %d bytes", len(b))
	}
	var f Frame
	n, err := Parse(b, &f)
	if err != pdu.OK || n != MaxFrameLen || len(f.UserData()) != MaxUserData {
		t.Fatalf("Parse = %d, %q, %d data bytes", n, err, len(f.UserData()))
	}
	if f.App.NumObjects != MaxObjects || f.App.ObjectsComplete {
		t.Errorf("%d objects, complete %v", f.App.NumObjects, f.App.ObjectsComplete)
	}
	for cut := 0; cut < n; cut++ {
		if m, err := Parse(b[:cut], &f); err != pdu.ErrShort || m != 0 {
			t.Fatalf("cut at %d: %d, %q", cut, m, err)
		}
	}
}

// hdr is a compact ObjectHeader for the tables.
func hdr(g, v, q uint8, start, stop, count uint32) ObjectHeader {
	return ObjectHeader{Group: g, Variation: v, Qualifier: q, Start: start, Stop: stop, Count: count}
}

func TestParseApp(t *testing.T) {
	crob := []byte{0x41, 1, 0xe8, 3, 0, 0, 0, 0, 0, 0, 0} // latch on, count 1, 1000 ms
	tests := []struct {
		name     string
		frag     []byte
		err      pdu.Error
		iin      uint16
		objs     []ObjectHeader
		complete bool
	}{
		{"confirm", []byte{0xc1, FuncConfirm}, pdu.OK, 0, nil, true},
		{"cold restart", []byte{0xc1, FuncColdRestart}, pdu.OK, 0, nil, true},
		{"read class 1-3", []byte{0xc1, FuncRead, 60, 2, 0x06, 60, 3, 0x06, 60, 4, 0x06}, pdu.OK, 0,
			[]ObjectHeader{hdr(60, 2, 6, 0, 0, 0), hdr(60, 3, 6, 0, 0, 0), hdr(60, 4, 6, 0, 0, 0)}, true},
		{"read 1-byte start stop", []byte{0xc1, FuncRead, 1, 2, 0x00, 3, 9}, pdu.OK, 0, []ObjectHeader{hdr(1, 2, 0, 3, 9, 0)}, true},
		{"read 2-byte start stop", []byte{0xc1, FuncRead, 30, 1, 0x01, 0, 1, 0xff, 1}, pdu.OK, 0, []ObjectHeader{hdr(30, 1, 1, 256, 511, 0)}, true},
		{"read 4-byte start stop", []byte{0xc1, FuncRead, 30, 1, 0x02, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, pdu.OK, 0, []ObjectHeader{hdr(30, 1, 2, 0, 0xffffffff, 0)}, true},
		{"read virtual start stop", []byte{0xc1, FuncRead, 30, 1, 0x03, 1, 2}, pdu.OK, 0, []ObjectHeader{hdr(30, 1, 3, 1, 2, 0)}, true},
		{"read 1-byte count", []byte{0xc1, FuncRead, 2, 1, 0x07, 5}, pdu.OK, 0, []ObjectHeader{hdr(2, 1, 7, 0, 0, 5)}, true},
		{"read 2-byte count", []byte{0xc1, FuncRead, 2, 1, 0x08, 0, 1}, pdu.OK, 0, []ObjectHeader{hdr(2, 1, 8, 0, 0, 256)}, true},
		{"read 4-byte count", []byte{0xc1, FuncRead, 2, 1, 0x09, 1, 0, 0, 0}, pdu.OK, 0, []ObjectHeader{hdr(2, 1, 9, 0, 0, 1)}, true},
		{"read index list", []byte{0xc1, FuncRead, 1, 2, 0x17, 2, 4, 7}, pdu.OK, 0, []ObjectHeader{hdr(1, 2, 0x17, 0, 0, 2)}, true},
		{"read 2-byte index list", []byte{0xc1, FuncRead, 1, 2, 0x28, 1, 0, 4, 1}, pdu.OK, 0, []ObjectHeader{hdr(1, 2, 0x28, 0, 0, 1)}, true},
		{"read index list cut", []byte{0xc1, FuncRead, 1, 2, 0x17, 2, 4}, ErrBadObject, 0, []ObjectHeader{hdr(1, 2, 0x17, 0, 0, 2)}, false},
		{"start after stop", []byte{0xc1, FuncRead, 1, 2, 0x00, 9, 3}, ErrBadObject, 0, nil, false},
		{"reserved range", []byte{0xc1, FuncRead, 1, 2, 0x0a}, ErrBadObject, 0, nil, false},
		{"reserved qualifier bit", []byte{0xc1, FuncRead, 1, 2, 0x86}, ErrBadObject, 0, nil, false},
		{"reserved prefix", []byte{0xc1, FuncRead, 1, 2, 0x77, 1, 0}, ErrBadObject, 0, nil, false},
		{"index prefix on start stop", []byte{0xc1, FuncRead, 1, 2, 0x10, 1, 2}, ErrBadObject, 0, nil, false},
		{"prefix on all", []byte{0xc1, FuncRead, 1, 2, 0x16}, ErrBadObject, 0, nil, false},
		{"free format without size", []byte{0xc1, FuncRead, 70, 5, 0x0b, 1}, ErrBadObject, 0, nil, false},
		{"header cut", []byte{0xc1, FuncRead, 60, 2}, ErrBadObject, 0, nil, false},
		{"range cut", []byte{0xc1, FuncRead, 1, 2, 0x01, 0, 0, 9}, ErrBadObject, 0, nil, false},
		{"direct operate", append([]byte{0xc1, FuncDirectOperate, 12, 1, 0x28, 1, 0, 3, 0}, crob...), pdu.OK, 0, []ObjectHeader{hdr(12, 1, 0x28, 0, 0, 1)}, true},
		{"direct operate one of two", append([]byte{0xc1, FuncDirectOperate, 12, 1, 0x28, 2, 0, 3, 0}, crob...), ErrBadObject, 0, []ObjectHeader{hdr(12, 1, 0x28, 0, 0, 2)}, false},
		{"operate trailing byte", append(append([]byte{0xc1, FuncOperate, 12, 1, 0x17, 1, 3}, crob...), 0), ErrBadObject, 0, []ObjectHeader{hdr(12, 1, 0x17, 0, 0, 1)}, false},
		{"select analog output", []byte{0xc1, FuncSelect, 41, 2, 0x17, 1, 0, 0xe8, 0x03, 0}, pdu.OK, 0, []ObjectHeader{hdr(41, 2, 0x17, 0, 0, 1)}, true},
		{"direct operate nr pattern mask", []byte{0xc1, FuncDirectOperateNR, 12, 3, 0x00, 0, 9, 0xff, 0x03}, pdu.OK, 0, []ObjectHeader{hdr(12, 3, 0, 0, 9, 0)}, true},
		{"write time", []byte{0xc1, FuncWrite, 50, 1, 0x07, 1, 1, 2, 3, 4, 5, 6}, pdu.OK, 0, []ObjectHeader{hdr(50, 1, 7, 0, 0, 1)}, true},
		{"write IIN restart bit", []byte{0xc1, FuncWrite, 80, 1, 0x00, 7, 7, 0}, pdu.OK, 0, []ObjectHeader{hdr(80, 1, 0, 7, 7, 0)}, true},
		{"write 16 IIN bits", []byte{0xc1, FuncWrite, 80, 1, 0x00, 0, 15, 0, 0}, pdu.OK, 0, []ObjectHeader{hdr(80, 1, 0, 0, 15, 0)}, true},
		{"write IIN bits cut", []byte{0xc1, FuncWrite, 80, 1, 0x00, 0, 15, 0}, ErrBadObject, 0, []ObjectHeader{hdr(80, 1, 0, 0, 15, 0)}, false},
		{"write attribute", []byte{0xc1, FuncWrite, 0, 240, 0x00, 240, 240, 1, 3, 'a', 'b', 'c'}, pdu.OK, 0, []ObjectHeader{hdr(0, 240, 0, 240, 240, 0)}, true},
		{"write attribute cut", []byte{0xc1, FuncWrite, 0, 240, 0x00, 240, 240, 1, 3, 'a', 'b'}, ErrBadObject, 0, []ObjectHeader{hdr(0, 240, 0, 240, 240, 0)}, false},
		{"write octet string", []byte{0xc1, FuncWrite, 110, 3, 0x00, 0, 1, 'a', 'b', 'c', 'd', 'e', 'f', 60, 1, 0x06}, pdu.OK, 0,
			[]ObjectHeader{hdr(110, 3, 0, 0, 1, 0), hdr(60, 1, 6, 0, 0, 0)}, true},
		{"write deadbands by index", []byte{0xc1, FuncWrite, 34, 1, 0x17, 2, 0, 1, 0, 1, 2, 0}, pdu.OK, 0, []ObjectHeader{hdr(34, 1, 0x17, 0, 0, 2)}, true},
		{"write unknown object", []byte{0xc1, FuncWrite, 30, 1, 0x00, 0, 0, 1, 2, 3, 4, 5}, pdu.OK, 0, []ObjectHeader{hdr(30, 1, 0, 0, 0, 0)}, false},
		{"write packed bits by index", []byte{0xc1, FuncWrite, 80, 1, 0x17, 1, 7, 1}, pdu.OK, 0, []ObjectHeader{hdr(80, 1, 0x17, 0, 0, 1)}, false},
		{"write all-attributes", []byte{0xc1, FuncWrite, 0, 254, 0x07, 1}, pdu.OK, 0, []ObjectHeader{hdr(0, 254, 7, 0, 0, 1)}, false},
		{"write string variation 0", []byte{0xc1, FuncWrite, 110, 0, 0x07, 1}, pdu.OK, 0, []ObjectHeader{hdr(110, 0, 7, 0, 0, 1)}, false},
		{"write no objects of unknown size", []byte{0xc1, FuncWrite, 30, 1, 0x06, 30, 2, 0x07, 0}, pdu.OK, 0,
			[]ObjectHeader{hdr(30, 1, 6, 0, 0, 0), hdr(30, 2, 7, 0, 0, 0)}, true},
		{"freeze at time", []byte{0xc1, FuncFreezeAtTime, 50, 2, 0x07, 1, 1, 2, 3, 4, 5, 6, 0xe8, 3, 0, 0, 20, 0, 0x06}, pdu.OK, 0,
			[]ObjectHeader{hdr(50, 2, 7, 0, 0, 1), hdr(20, 0, 6, 0, 0, 0)}, true},
		{"assign class", []byte{0xc1, FuncAssignClass, 60, 2, 0x06, 1, 0, 0x06}, pdu.OK, 0, []ObjectHeader{hdr(60, 2, 6, 0, 0, 0), hdr(1, 0, 6, 0, 0, 0)}, true},
		{"open file", []byte{0xc1, FuncOpenFile, 70, 3, 0x5b, 1, 4, 0, 'a', 'b', 'c', 'd'}, pdu.OK, 0, []ObjectHeader{hdr(70, 3, 0x5b, 0, 0, 1)}, true},
		{"file objects of 1- and 4-byte size", []byte{0xc1, FuncCloseFile, 70, 4, 0x47, 2, 1, 9, 0, 70, 4, 0x6b, 1, 2, 0, 0, 0, 1, 2}, pdu.OK, 0,
			[]ObjectHeader{hdr(70, 4, 0x47, 0, 0, 2), hdr(70, 4, 0x6b, 0, 0, 1)}, true},
		{"open file size cut", []byte{0xc1, FuncOpenFile, 70, 3, 0x5b, 1, 4}, ErrBadObject, 0, []ObjectHeader{hdr(70, 3, 0x5b, 0, 0, 1)}, false},
		{"open file data cut", []byte{0xc1, FuncOpenFile, 70, 3, 0x5b, 1, 4, 0, 'a'}, ErrBadObject, 0, []ObjectHeader{hdr(70, 3, 0x5b, 0, 0, 1)}, false},
		{"undefined function", []byte{0xc1, 0x50, 1, 2, 3}, pdu.OK, 0, nil, false},
		{"response", []byte{0xc1, FuncResponse, 0x80, 0x02, 1, 2, 0x00, 0, 0}, pdu.OK, 0x8002, nil, false},
		{"unsolicited response", []byte{0xf0, FuncUnsolicitedResponse, 0x90, 0}, pdu.OK, 0x9000, nil, false},
		{"response cut", []byte{0xc1, FuncAuthenticateResp, 0}, ErrBadApp, 0, nil, false},
		{"empty", nil, ErrBadApp, 0, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := App{NumObjects: 3, ObjectsComplete: true, IIN: 7} // ParseApp must overwrite
			err := ParseApp(tt.frag, &a)
			if err != tt.err {
				t.Fatalf("ParseApp = %q, want %q", err, tt.err)
			}
			if len(tt.frag) >= 2 && (a.Control != tt.frag[0] || a.Function != tt.frag[1]) {
				t.Errorf("control %#x function %d", a.Control, a.Function)
			}
			if a.IIN != tt.iin || a.ObjectsComplete != tt.complete || a.NumObjects != len(tt.objs) {
				t.Fatalf("IIN %#x complete %v objects %v; want %#x %v %v", a.IIN, a.ObjectsComplete, a.Objects[:a.NumObjects], tt.iin, tt.complete, tt.objs)
			}
			for i, o := range tt.objs {
				if a.Objects[i] != o {
					t.Errorf("object %d = %+v, want %+v", i, a.Objects[i], o)
				}
			}
		})
	}
}

// TestPartialSegment: a FIR segment without FIN ends inside its objects;
// that is no error, but the object list is not complete.
func TestPartialSegment(t *testing.T) {
	var f Frame
	b := link(0xc4, 0x40, 0xc1, FuncWrite, 110, 20, 0x00, 0, 0, 'a', 'b') // a 20-byte string, 2 bytes here
	if n, err := Parse(b, &f); err != pdu.OK || n != len(b) {
		t.Fatalf("Parse = %d, %q", n, err)
	}
	if !f.HasApp || f.FIN() || f.App.ObjectsComplete || f.App.NumObjects != 1 || f.App.Objects[0] != hdr(110, 20, 0, 0, 0, 0) {
		t.Errorf("app %v, FIN %v, complete %v, objects %v", f.HasApp, f.FIN(), f.App.ObjectsComplete, f.App.Objects[:f.App.NumObjects])
	}
	b = link(0xc4, 0x40, 0xc1, FuncRead, 60) // cut inside a header
	if _, err := Parse(b, &f); err != pdu.OK || f.App.NumObjects != 0 || f.App.ObjectsComplete {
		t.Errorf("cut header: %q, %d objects, complete %v", err, f.App.NumObjects, f.App.ObjectsComplete)
	}
	b = link(0xc4, 0x40, 0xc1, FuncRead, 60, 1, 0x06) // every header present
	if _, err := Parse(b, &f); err != pdu.OK || f.App.NumObjects != 1 || f.App.ObjectsComplete {
		t.Errorf("whole headers: %q, %d objects, complete %v", err, f.App.NumObjects, f.App.ObjectsComplete)
	}
	b = link(0xc4, 0x40, 0xc1, FuncRead, 60, 1, 0x0a) // still malformed
	if _, err := Parse(b, &f); err != ErrBadObject {
		t.Errorf("reserved range in a partial segment: %q", err)
	}
}

// TestReassembled: the segments of a two-segment write, concatenated, go
// through ParseApp as one fragment.
func TestReassembled(t *testing.T) {
	obj := append([]byte{0xc1, FuncWrite, 110, 250, 0x00, 0, 0}, make([]byte, 250)...)
	obj = append(obj, 50, 1, 0x07, 1, 1, 2, 3, 4, 5, 6)
	first := link(0xc4, append([]byte{0x40}, obj[:249]...)...)
	second := link(0xc4, append([]byte{0x81}, obj[249:]...)...)
	var f Frame
	var frag []byte
	for i, b := range [][]byte{first, second} {
		if _, err := Parse(b, &f); err != pdu.OK {
			t.Fatalf("segment %d: %q", i, err)
		}
		frag = append(frag, f.Segment()...)
	}
	var a App
	if err := ParseApp(frag, &a); err != pdu.OK || a.NumObjects != 2 || !a.ObjectsComplete || a.Objects[1].Group != 50 {
		t.Errorf("ParseApp = %q, %d objects, complete %v", err, a.NumObjects, a.ObjectsComplete)
	}
}

func TestObjectHeaderN(t *testing.T) {
	for _, c := range []struct {
		h    ObjectHeader
		want uint64
	}{
		{hdr(60, 1, 0x06, 0, 0, 0), 0},
		{hdr(1, 2, 0x00, 3, 9, 0), 7},
		{hdr(1, 2, 0x02, 0, 0xffffffff, 0), 1 << 32},
		{hdr(1, 2, 0x28, 0, 0, 4), 4},
		{hdr(70, 3, 0x5b, 0, 0, 1), 1},
	} {
		if got := c.h.N(); got != c.want {
			t.Errorf("%+v: N = %d, want %d", c.h, got, c.want)
		}
	}
	h := hdr(1, 2, 0x28, 0, 0, 1)
	if h.PrefixCode() != 2 || h.RangeCode() != 8 {
		t.Errorf("codes %d %d", h.PrefixCode(), h.RangeCode())
	}
}
