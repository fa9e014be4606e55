package s7

import (
	"testing"

	"github.com/conduit-ot/conduit/internal/alloctest"
	"github.com/conduit-ot/conduit/proto/internal/parsetest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// benchPDUs are the shapes measured by TestNoAllocs and BenchmarkParse.
var benchPDUs = []parsetest.Case{
	{Name: "cotp-connect", B: tpkt(connect(COTPConnectRequest, 0, 1, cparam(0xc1, 1, 0), cparam(0xc2, 1, 2), cparam(0xc0, 9)))},
	{Name: "read-var", B: s7(readDB)},
	{Name: "write-var-5", B: s7(job(9, varParam(FuncWriteVar, anyItem(1), anyItem(2), anyItem(3), anyItem(4), anyItem(5)), make([]byte, 40)))},
	{Name: "pi-service", B: s7(job(15, piParam([]byte{1, 0, '0', 'A', '0', '0', '0', '0', '1', 'P'}, "_INSE"), nil))},
	{Name: "userdata-read-szl", B: s7(userdata(udParam(UserdataRequest, GroupCPU, 1, 0, false), []byte{0xff, 9, 0, 4, 1, 0x32, 0, 4}))},
	{Name: "malformed-items", B: s7(job(1, []byte{FuncReadVar, 2, 0x12}, nil)), Err: ErrVarItems},
}

func TestNoAllocs(t *testing.T) {
	var p PDU
	parsetest.NoAllocs(t, benchPDUs, func(b []byte) (int, pdu.Error) { return Parse(b, pdu.Request, &p) }, func() {
		_, _ = FunctionName(p.Function), SubfunctionName(p.Group, p.Subfunction)
		_, _ = Block(p.Filename)
	})
}

func BenchmarkParse(b *testing.B) {
	for _, bp := range benchPDUs {
		var p PDU
		alloctest.Bench(b, bp.Name, len(bp.B), func() { Parse(bp.B, pdu.Request, &p) })
	}
}
