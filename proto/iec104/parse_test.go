package iec104_test

import (
	"bytes"
	"testing"

	. "github.com/conduit-ot/conduit/proto/iec104"
	"github.com/conduit-ot/conduit/proto/iec104/iec104test"
	"github.com/conduit-ot/conduit/proto/internal/parsetest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// with returns a copy of b with octet i set to v.
func with(b []byte, i int, v byte) []byte {
	b = bytes.Clone(b)
	b[i] = v
	return b
}

func TestParse(t *testing.T) {
	// Frames of the captures, byte for byte.
	interrogation := []byte{0x68, 0x0e, 0x00, 0x00, 0x02, 0x00, 0x64, 0x01, 0x06, 0x00, 0x0d, 0x91, 0x00, 0x00, 0x00, 0x14}
	clock := []byte{0x68, 0x14, 0x08, 0x00, 0x14, 0x00, 0x67, 0x01, 0x06, 0x00, 0x0d, 0x91, 0x00, 0x00, 0x00,
		0x71, 0x37, 0x2b, 0x0d, 0x05, 0x08, 0x0b}
	// M_SP_NA_1, SQ, 9 elements from IOA 10010 (frame 110 of TestDissectIec104).
	sequence := []byte{0x68, 0x16, 0x04, 0x00, 0x02, 0x00, 0x01, 0x89, 0x14, 0x00, 0x0d, 0x91, 0x1a, 0x27, 0x00,
		0xd0, 0x80, 0x80, 0x80, 0xc0, 0x80, 0x80, 0x80, 0x80}
	single := iec104test.Command(3, 7, C_SC_NA_1, CauseAct, 0x910d, 0x123456)
	negTest := iec104test.I(1, 2, []byte{C_SC_NA_1, 1, 0xc7, 9, 1, 0, 1, 0, 0, 0x81})
	segment := iec104test.I(0, 0, iec104test.ASDU(F_SG_NA_1, CauseFile, 1, 2, []byte{1, 0, 1, 3, 0xaa, 0xbb, 0xcc}))
	private := iec104test.I(0, 0, iec104test.ASDU(200, CauseSpont, 1, 2, []byte{1, 2, 3, 4, 5}))
	tests := []struct {
		name string
		b    []byte
		err  pdu.Error
		n    int // expected n; -1 means len(b)
		want APDU
	}{
		// Framing.
		{"empty", nil, pdu.ErrShort, 0, APDU{}},
		{"start only", []byte{0x68}, pdu.ErrShort, 0, APDU{}},
		{"bad start", []byte{0x00, 0x68, 0x04}, ErrBadStart, 0, APDU{}},
		{"bad start alone", []byte{0x69}, ErrBadStart, 0, APDU{}},
		{"length 3", []byte{0x68, 3, 1, 0, 0}, ErrBadLength, 0, APDU{}},
		{"length 254", []byte{0x68, 254}, ErrBadLength, 0, APDU{}},
		{"control cut", iec104test.U(StartDTAct)[:5], pdu.ErrShort, 0, APDU{}},
		{"asdu cut", single[:len(single)-1], pdu.ErrShort, 0, APDU{}},
		{"trailing bytes left", cat(iec104test.S(5), iec104test.U(TestFRAct)), pdu.OK, 6,
			APDU{Length: 4, Format: FormatS, RecvSeq: 5}},

		// U frames.
		{"startdt act", iec104test.U(StartDTAct), pdu.OK, 6, APDU{Length: 4, Format: FormatU, UFunc: StartDTAct}},
		{"startdt con", iec104test.U(StartDTCon), pdu.OK, 6, APDU{Length: 4, Format: FormatU, UFunc: StartDTCon}},
		{"stopdt act", iec104test.U(StopDTAct), pdu.OK, 6, APDU{Length: 4, Format: FormatU, UFunc: StopDTAct}},
		{"stopdt con", iec104test.U(StopDTCon), pdu.OK, 6, APDU{Length: 4, Format: FormatU, UFunc: StopDTCon}},
		{"testfr act", iec104test.U(TestFRAct), pdu.OK, 6, APDU{Length: 4, Format: FormatU, UFunc: TestFRAct}},
		{"testfr con", iec104test.U(TestFRCon), pdu.OK, 6, APDU{Length: 4, Format: FormatU, UFunc: TestFRCon}},
		{"u no function", []byte{0x68, 4, 0x03, 0, 0, 0}, ErrBadControl, 6, APDU{Length: 4, Format: FormatU}},
		{"u two functions", []byte{0x68, 4, 0x0b | 0x40, 0, 0, 0}, ErrBadControl, 6,
			APDU{Length: 4, Format: FormatU, UFunc: 0x48}},
		{"u reserved octet", with(iec104test.U(TestFRAct), 4, 1), ErrBadControl, 6,
			APDU{Length: 4, Format: FormatU, UFunc: TestFRAct}},
		{"u with data", []byte{0x68, 5, 0x43, 0, 0, 0, 0x17}, ErrBadControl, 7,
			APDU{Length: 5, Format: FormatU, UFunc: TestFRAct}},

		// S frames.
		{"s", iec104test.S(0x7fff), pdu.OK, 6, APDU{Length: 4, Format: FormatS, RecvSeq: 0x7fff}},
		{"s reserved bits", with(iec104test.S(1), 2, 0x05), ErrBadControl, 6, APDU{Length: 4, Format: FormatS, RecvSeq: 1}},
		{"s second octet", with(iec104test.S(1), 3, 1), ErrBadControl, 6, APDU{Length: 4, Format: FormatS, RecvSeq: 1}},
		{"s odd receive octet", with(iec104test.S(1), 4, 3), ErrBadControl, 6, APDU{Length: 4, Format: FormatS, RecvSeq: 1}},
		{"s with data", []byte{0x68, 5, 1, 0, 2, 0, 0}, ErrBadControl, 7, APDU{Length: 5, Format: FormatS, RecvSeq: 1}},

		// I frames.
		{"interrogation", interrogation, pdu.OK, -1, APDU{Length: 14, Format: FormatI, RecvSeq: 1,
			TypeID: C_IC_NA_1, Objects: 1, Cause: CauseAct, CommonAddr: 0x910d}},
		{"clock sync", clock, pdu.OK, -1, APDU{Length: 20, Format: FormatI, SendSeq: 4, RecvSeq: 10,
			TypeID: C_CS_NA_1, Objects: 1, Cause: CauseAct, CommonAddr: 0x910d}},
		{"sequence", sequence, pdu.OK, -1, APDU{Length: 22, Format: FormatI, SendSeq: 2, RecvSeq: 1,
			TypeID: M_SP_NA_1, SQ: true, Objects: 9, Cause: CauseInroGen, CommonAddr: 0x910d, IOA: 10010}},
		{"single command", single, pdu.OK, -1, APDU{Length: 14, Format: FormatI, SendSeq: 3, RecvSeq: 7,
			TypeID: C_SC_NA_1, Objects: 1, Cause: CauseAct, CommonAddr: 0x910d, IOA: 0x123456}},
		{"sequence numbers 15 bits", iec104test.I(0x7fff, 0x4001, interrogation[6:]), pdu.OK, -1, APDU{Length: 14,
			Format: FormatI, SendSeq: 0x7fff, RecvSeq: 0x4001, TypeID: C_IC_NA_1, Objects: 1, Cause: CauseAct,
			CommonAddr: 0x910d}},
		{"negative test", negTest, pdu.OK, -1, APDU{Length: 14, Format: FormatI, SendSeq: 1, RecvSeq: 2,
			TypeID: C_SC_NA_1, Objects: 1, Cause: CauseActCon, Negative: true, Test: true, Originator: 9,
			CommonAddr: 1, IOA: 1}},
		{"file segment", segment, pdu.OK, -1, APDU{Length: 20, Format: FormatI, TypeID: F_SG_NA_1, Objects: 1,
			Cause: CauseFile, CommonAddr: 1, IOA: 2}},
		{"private type unchecked", private, pdu.OK, -1, APDU{Length: 18, Format: FormatI, TypeID: 200, Objects: 1,
			Cause: CauseSpont, CommonAddr: 1, IOA: 2}},
		{"i odd receive octet", with(single, 4, 0x0f), ErrBadControl, -1, APDU{Length: 14, Format: FormatI,
			SendSeq: 3, RecvSeq: 7}},
		{"i without asdu", iec104test.I(1, 1, nil), ErrBadASDU, 6, APDU{Length: 4, Format: FormatI, SendSeq: 1, RecvSeq: 1}},
		{"asdu header cut", iec104test.I(0, 0, []byte{C_IC_NA_1, 1, 6, 0, 1}), ErrBadASDU, -1,
			APDU{Length: 9, Format: FormatI}},
		{"asdu without ioa", iec104test.I(0, 0, []byte{C_IC_NA_1, 1, 6, 0, 1, 0, 0}), ErrBadASDU, -1,
			APDU{Length: 11, Format: FormatI, TypeID: C_IC_NA_1, Objects: 1, Cause: CauseAct, CommonAddr: 1}},
		{"type 0", with(single, 6, 0), ErrBadASDU, -1, APDU{Length: 14, Format: FormatI, SendSeq: 3, RecvSeq: 7,
			Objects: 1, Cause: CauseAct, CommonAddr: 0x910d, IOA: 0x123456}},
		{"cause 0", with(single, 8, 0x40), ErrBadASDU, -1, APDU{Length: 14, Format: FormatI, SendSeq: 3, RecvSeq: 7,
			TypeID: C_SC_NA_1, Objects: 1, Negative: true, CommonAddr: 0x910d, IOA: 0x123456}},
		{"no objects", with(single, 7, 0), ErrBadASDU, -1, APDU{Length: 14, Format: FormatI, SendSeq: 3, RecvSeq: 7,
			TypeID: C_SC_NA_1, Cause: CauseAct, CommonAddr: 0x910d, IOA: 0x123456}},
		{"more objects than bytes", with(single, 7, 2), ErrBadASDU, -1, APDU{Length: 14, Format: FormatI, SendSeq: 3,
			RecvSeq: 7, TypeID: C_SC_NA_1, Objects: 2, Cause: CauseAct, CommonAddr: 0x910d, IOA: 0x123456}},
		{"a byte too many", iec104test.I(0, 0, append(bytes.Clone(interrogation[6:]), 0)), ErrBadASDU, -1,
			APDU{Length: 15, Format: FormatI, TypeID: C_IC_NA_1, Objects: 1, Cause: CauseAct, CommonAddr: 0x910d}},
		{"sequence one short", with(sequence[:len(sequence)-1], 1, 21), ErrBadASDU, -1, APDU{Length: 21,
			Format: FormatI, SendSeq: 2, RecvSeq: 1, TypeID: M_SP_NA_1, SQ: true, Objects: 9, Cause: CauseInroGen,
			CommonAddr: 0x910d, IOA: 10010}},
		{"sequence read as objects", with(sequence, 7, 0x09), ErrBadASDU, -1, APDU{Length: 22, Format: FormatI,
			SendSeq: 2, RecvSeq: 1, TypeID: M_SP_NA_1, Objects: 9, Cause: CauseInroGen, CommonAddr: 0x910d, IOA: 10010}},
		{"segment length off", with(segment, 18, 4), ErrBadASDU, -1, APDU{Length: 20, Format: FormatI,
			TypeID: F_SG_NA_1, Objects: 1, Cause: CauseFile, CommonAddr: 1, IOA: 2}},
		{"asdu header only", iec104test.I(0, 0, iec104test.ASDU(M_SP_NA_1, CauseSpont, 1, 0, nil)[:6]), ErrBadASDU, 12,
			APDU{Length: 10, Format: FormatI, TypeID: M_SP_NA_1, Objects: 1, Cause: CauseSpont, CommonAddr: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a APDU
			n, err := Parse(tc.b, &a)
			parsetest.Result(t, tc.b, n, err, tc.n, tc.err)
			if a != tc.want {
				t.Errorf("APDU\n got %+v\nwant %+v", a, tc.want)
			}
		})
	}
}

// TestLargest parses an APDU of the largest length octet, 253: an ASDU
// of 60 C_BO_NA_1 elements in sequence (6 + 3 + 60*4 = 249 octets), and
// refuses the frame one element longer, whose length octet would exceed
// a byte's worth of the 253 allowed.
func TestLargest(t *testing.T) {
	asdu := append([]byte{C_BO_NA_1, 0x80 | 60, CauseAct, 0, 1, 0, 0, 0, 0}, make([]byte, 60*4)...)
	b := iec104test.I(0, 0, asdu)
	var a APDU
	if n, err := Parse(b, &a); err != pdu.OK || n != MaxAPDULen || a.Length != MaxLength || a.Objects != 60 {
		t.Errorf("largest APDU: %d, %q, %+v", n, err, a)
	}
	b = iec104test.I(0, 0, append(asdu, 0, 0, 0, 0))
	if n, err := Parse(b, &a); err != ErrBadLength || n != 0 {
		t.Errorf("APDU of length octet %d: %d, %q; want bad-length", b[1], n, err)
	}
}
