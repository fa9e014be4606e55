package s7

import (
	"testing"

	"github.com/conduit-ot/conduit/internal/alloctest"
)

// benchPDUs are the shapes measured by TestNoAllocs and BenchmarkParse.
var benchPDUs = []struct {
	name string
	b    []byte
	err  Error
}{
	{"cotp-connect", tpkt(connect(COTPConnectRequest, 0, 1, cparam(0xc1, 1, 0), cparam(0xc2, 1, 2), cparam(0xc0, 9))), OK},
	{"read-var", s7(readDB), OK},
	{"write-var-5", s7(job(9, varParam(FuncWriteVar, anyItem(1), anyItem(2), anyItem(3), anyItem(4), anyItem(5)), make([]byte, 40))), OK},
	{"pi-service", s7(job(15, piParam([]byte{1, 0, '0', 'A', '0', '0', '0', '0', '1', 'P'}, "_INSE"), nil)), OK},
	{"userdata-read-szl", s7(userdata(udParam(UserdataRequest, GroupCPU, 1, 0, false), []byte{0xff, 9, 0, 4, 1, 0x32, 0, 4})), OK},
	{"malformed-items", s7(job(1, []byte{FuncReadVar, 2, 0x12}, nil)), ErrVarItems},
}

func TestNoAllocs(t *testing.T) {
	var p PDU
	for _, bp := range benchPDUs {
		if n, err := Parse(bp.b, Request, &p); err != bp.err || n != len(bp.b) {
			t.Fatalf("%s: Parse = %d, %q; want %q", bp.name, n, err, bp.err)
		}
		alloctest.Zero(t, 1000, bp.name+": Parse", func() { Parse(bp.b, Request, &p) })
		alloctest.Zero(t, 100, bp.name+": naming", func() {
			_, _ = FunctionName(p.Function), SubfunctionName(p.Group, p.Subfunction)
			_, _ = Block(p.Filename)
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bp := range benchPDUs {
		var p PDU
		alloctest.Bench(b, bp.name, len(bp.b), func() { Parse(bp.b, Request, &p) })
	}
}
