package iec104_test

import (
	"bytes"
	"testing"

	"github.com/conduit-ot/conduit/internal/pcaptest"
	. "github.com/conduit-ot/conduit/proto/iec104"
	"github.com/conduit-ot/conduit/proto/iec104/iec104test"
	"github.com/conduit-ot/conduit/proto/internal/parsetest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// FuzzParse checks that Parse never panics and keeps its contract on any
// input: n within bounds, n set exactly when the framing was sound, every
// proper prefix of a framed APDU reported as short, and an accepted APDU
// rebuilt byte for byte from its fields.
func FuzzParse(f *testing.F) {
	for _, ba := range benchAPDUs {
		f.Add(ba.b)
	}
	f.Add(cat(iec104test.S(3), iec104test.Command(1, 2, C_DC_NA_1, CauseAct, 1, 2)))
	f.Add(iec104test.I(0, 0, iec104test.ASDU(F_SG_NA_1, CauseFile, 1, 2, []byte{1, 0, 1, 2, 0xaa, 0xbb})))
	for _, s := range pcaptest.Seeds(f, "iec104", Port) {
		if s.Proto == pcaptest.TCP {
			f.Add(s.Payload)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var a APDU
		n, err := Parse(b, &a)
		if n < 0 || n > len(b) || n > MaxAPDULen {
			t.Fatalf("n = %d for %d bytes", n, len(b))
		}
		switch err {
		case pdu.ErrShort, ErrBadStart, ErrBadLength:
			if n != 0 || a != (APDU{}) {
				t.Fatalf("%q with n = %d, %+v", err, n, a)
			}
			return
		}
		if n != 2+int(a.Length) || a.Length < MinLength || a.Length > MaxLength || a.Format == FormatNone {
			t.Fatalf("n = %d, length octet %d, format %d (%q)", n, a.Length, a.Format, err)
		}
		parsetest.Framed(t, b, n, err, a, Parse)
		if err != pdu.OK {
			return
		}
		var again []byte
		switch a.Format {
		case FormatU:
			again = iec104test.U(a.UFunc)
			if a.UFunc.String() == "" {
				t.Fatalf("accepted U function %#x", uint8(a.UFunc))
			}
		case FormatS:
			again = iec104test.S(a.RecvSeq)
		case FormatI:
			again = iec104test.I(a.SendSeq, a.RecvSeq, b[APCILen:n])
			if a.TypeID == 0 || a.Cause == 0 || a.Objects == 0 {
				t.Fatalf("accepted ASDU %+v", a)
			}
			if elem, fixed := ElementSize(a.TypeID); fixed {
				want := HeaderLen + int(a.Objects)*(IOALen+elem)
				if a.SQ {
					want = HeaderLen + IOALen + int(a.Objects)*elem
				}
				if n-APCILen != want {
					t.Fatalf("accepted %s of %d objects in %d octets", TypeName(a.TypeID), a.Objects, n-APCILen)
				}
			}
		}
		if !bytes.Equal(again, b[:n]) {
			t.Fatalf("rebuilt %x from %+v, parsed %x", again, a, b[:n])
		}
	})
}
