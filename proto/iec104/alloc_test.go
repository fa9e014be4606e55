package iec104_test

import (
	"testing"

	"github.com/conduit-ot/conduit/internal/alloctest"
	. "github.com/conduit-ot/conduit/proto/iec104"
	"github.com/conduit-ot/conduit/proto/iec104/iec104test"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// benchAPDUs is what a master and an outstation exchange: link control,
// an interrogation and its mirror, a measured value burst, a command.
var benchAPDUs = []struct {
	name string
	b    []byte
}{
	{"u_testfr", iec104test.U(TestFRAct)},
	{"s_ack", iec104test.S(12)},
	{"interrogation", iec104test.Command(4, 9, C_IC_NA_1, CauseAct, 3, 0)},
	{"measurands_8", iec104test.I(9, 5, append([]byte{M_ME_NC_1, 8, CauseSpont, 0, 3, 0}, make([]byte, 8*8)...))},
	{"single_command", iec104test.Command(5, 10, C_SC_NA_1, CauseAct, 3, 4500)},
}

func TestNoAllocs(t *testing.T) {
	var a APDU
	bad := iec104test.Command(1, 1, C_SC_NA_1, CauseAct, 1, 2)
	bad[7] = 3 // three objects in the room of one
	alloctest.Zero(t, 1000, "Parse", func() {
		for _, ba := range benchAPDUs {
			if _, err := Parse(ba.b, &a); err != pdu.OK {
				t.Fatal(err)
			}
			_, _, _ = TypeName(a.TypeID), CauseName(a.Cause), a.UFunc.String()
		}
		Parse(bad, &a)
		Parse(bad[:5], &a)
		Parse([]byte{0}, &a)
	})
}

func BenchmarkParse(b *testing.B) {
	for _, ba := range benchAPDUs {
		var a APDU
		alloctest.Bench(b, ba.name, len(ba.b), func() { Parse(ba.b, &a) })
	}
}
