package iec104test

import (
	"testing"

	"github.com/conduit-ot/conduit/proto/iec104"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// TestBuildersParse checks that what the builders make is what the parser
// accepts: every named type of fixed size as a command, S and U frames.
func TestBuildersParse(t *testing.T) {
	var a iec104.APDU
	for code := 1; code < 256; code++ {
		name := iec104.TypeName(uint8(code))
		if _, fixed := iec104.ElementSize(uint8(code)); name == "" || !fixed {
			continue
		}
		b := Command(7, 3, uint8(code), iec104.CauseAct, 0x0102, 0x030405)
		if n, err := iec104.Parse(b, &a); err != pdu.OK || n != len(b) || a.TypeID != uint8(code) ||
			a.SendSeq != 7 || a.RecvSeq != 3 || a.CommonAddr != 0x0102 || a.IOA != 0x030405 {
			t.Errorf("%s: %d, %q, %+v", name, n, err, a)
		}
	}
	if n, err := iec104.Parse(S(0x1234), &a); err != pdu.OK || n != 6 || a.RecvSeq != 0x1234 {
		t.Errorf("S: %d, %q, %+v", n, err, a)
	}
	if n, err := iec104.Parse(U(iec104.StopDTCon), &a); err != pdu.OK || n != 6 || a.UFunc != iec104.StopDTCon {
		t.Errorf("U: %d, %q, %+v", n, err, a)
	}
}
