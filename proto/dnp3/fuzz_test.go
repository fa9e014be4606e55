package dnp3

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/conduit-ot/conduit/internal/pcaptest"
	"github.com/conduit-ot/conduit/proto/internal/parsetest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// fixCRCs rewrites, in place, the header CRC and the block CRCs of the
// frame at the start of b as far as b holds them, so the fuzzer can reach
// the transport, application and object layers past the checksums.
func fixCRCs(b []byte) {
	if len(b) < HeaderLen {
		return
	}
	binary.LittleEndian.PutUint16(b[8:], Checksum(b[:8]))
	ud := int(b[2]) - minLength
	for off := HeaderLen; ud > 0 && off < len(b); {
		k := min(ud, blockLen)
		if off+k+2 > len(b) {
			return
		}
		binary.LittleEndian.PutUint16(b[off+k:], Checksum(b[off:off+k]))
		off += k + 2
		ud -= k
	}
}

// FuzzParse checks that Parse never panics and keeps its contract on any
// input: n within bounds and set exactly when the frame was framed, every
// proper prefix of a framed frame reported as short, the stripped user
// data framing back to the same bytes, and a whole fragment decoding the
// same through ParseApp.
func FuzzParse(f *testing.F) {
	f.Add(req(FuncRead, 60, 2, 0x06, 60, 3, 0x06), false)
	f.Add(req(FuncDirectOperate, 12, 1, 0x28, 1, 0, 3, 0, 0x41, 1, 0xe8, 3, 0, 0, 0, 0, 0, 0, 0), false)
	f.Add(req(FuncOpenFile, 70, 3, 0x5b, 1, 4, 0, 'a', 'b', 'c', 'd'), false)
	f.Add(req(FuncWrite, 0, 240, 0x00, 240, 240, 1, 3, 'a', 'b', 'c', 50, 1, 0x07, 1, 1, 2, 3, 4, 5, 6), true)
	f.Add(link(0x44, 0xc0, 0xc1, FuncResponse, 0, 0), false)
	f.Add(link(0xc9), false)
	for _, s := range pcaptest.Seeds(f, "dnp3", Port) {
		f.Add(s.Payload, false)
	}
	f.Fuzz(func(t *testing.T, b []byte, fix bool) {
		if fix {
			fixCRCs(b)
		}
		var fr Frame
		n, err := Parse(b, &fr)
		if n < 0 || n > len(b) || n > MaxFrameLen {
			t.Fatalf("n = %d for %d bytes", n, len(b))
		}
		if n == 0 {
			switch err {
			case pdu.ErrShort, ErrBadStart, ErrBadLength, ErrBadCRC, ErrBadLinkFunction:
				return
			}
			t.Fatalf("%q with n = 0", err)
		}
		if n != FrameLen(b[2]) || fr.Length != b[2] || fr.App.NumObjects < 0 || fr.App.NumObjects > MaxObjects {
			t.Fatalf("n = %d for length %d; %d objects", n, b[2], fr.App.NumObjects)
		}
		parsetest.Framed(t, b, n, err, fr, Parse)
		if err == ErrBadCRC {
			return
		}
		if fr.LinkOnly != (len(fr.UserData()) == 0) || fr.HasApp != (!fr.LinkOnly && fr.FIR()) {
			t.Fatalf("link-only %v app %v with %d data bytes", fr.LinkOnly, fr.HasApp, len(fr.UserData()))
		}
		if again := frame(fr.Control, fr.Destination, fr.Source, fr.UserData()); !bytes.Equal(again, b[:n]) {
			t.Fatalf("user data frames back as\n%x\nnot\n%x", again, b[:n])
		}
		if fr.HasApp && fr.FIN() {
			var a App
			if e := ParseApp(fr.Segment(), &a); e != err || a != fr.App {
				t.Fatalf("ParseApp = %q, %+v; Parse gave %q, %+v", e, a, err, fr.App)
			}
		}
	})
}

// frame builds a link frame with correct CRCs from its parts.
func frame(ctrl uint8, dst, src uint16, ud []byte) []byte {
	b := []byte{0x05, 0x64, byte(5 + len(ud)), ctrl}
	b = binary.LittleEndian.AppendUint16(b, dst)
	b = binary.LittleEndian.AppendUint16(b, src)
	b = binary.LittleEndian.AppendUint16(b, Checksum(b))
	for len(ud) > 0 {
		k := min(len(ud), 16)
		b = append(b, ud[:k]...)
		b = binary.LittleEndian.AppendUint16(b, Checksum(ud[:k]))
		ud = ud[k:]
	}
	return b
}

// FuzzParseApp checks ParseApp on whole fragments, as a stream layer
// gathers them from transport segments, and the property the engine's
// judgement of a first segment rests on: the object headers decoded from
// any first part of a fragment that decodes are the first headers of the
// whole, with the same function (for requests).
func FuzzParseApp(f *testing.F) {
	crobs := []byte{0xc0, FuncDirectOperate, 12, 1, 0x28, 20, 0}
	for i := range 20 {
		crobs = append(crobs, byte(i), 0, 0x41, 1, 0xe8, 3, 0, 0, 0, 0, 0, 0, 0)
	}
	f.Add(append(crobs, 41, 2, 0x28, 1, 0, 7, 0, 0x10, 0, 0), uint16(249))
	f.Add([]byte{0xc0, FuncRead, 60, 2, 0x06, 60, 3, 0x06, 60, 4, 0x06, 60, 1, 0x06}, uint16(5))
	f.Add([]byte{0xc0, FuncWrite, 50, 1, 0x07, 1, 1, 2, 3, 4, 5, 6}, uint16(4))
	f.Add([]byte{0xc0, FuncOpenFile, 70, 3, 0x5b, 1, 4, 0, 'a', 'b', 'c', 'd'}, uint16(9))
	f.Fuzz(func(t *testing.T, b []byte, cut uint16) {
		var whole, first App
		err := ParseApp(b, &whole)
		if whole.NumObjects < 0 || whole.NumObjects > MaxObjects {
			t.Fatalf("%d objects", whole.NumObjects)
		}
		if err != pdu.OK || len(b) < 2 || IsResponse(whole.Function) {
			return // responses are not judged, nor walked
		}
		k := 2 + int(cut)%(len(b)-1) // at least the application header
		first.reset()
		if e := first.parse(b[:k], true); e != pdu.OK {
			t.Fatalf("first %d of %d bytes: %q, whole fragment OK", k, len(b), e)
		}
		if first.Function != whole.Function || first.ObjectsComplete || first.NumObjects > whole.NumObjects {
			t.Fatalf("first %d bytes: fn %d complete %v %d objects; whole: fn %d, %d objects",
				k, first.Function, first.ObjectsComplete, first.NumObjects, whole.Function, whole.NumObjects)
		}
		for i := range first.NumObjects {
			if first.Objects[i] != whole.Objects[i] {
				t.Fatalf("object %d: %+v in the first %d bytes, %+v whole", i, first.Objects[i], k, whole.Objects[i])
			}
		}
	})
}
