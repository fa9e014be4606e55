package enip

import (
	"testing"

	"github.com/conduit-ot/conduit/internal/alloctest"
	"github.com/conduit-ot/conduit/proto/internal/parsetest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// benchPDUs are the shapes measured by TestNoAllocs and BenchmarkParse.
var benchPDUs = []parsetest.Case{
	{Name: "list-identity", B: encap(CmdListIdentity, nil)},
	{Name: "rr-get-attribute-single", B: rr(getAttr)},
	{Name: "unit-data-stop", B: encap(CmdSendUnitData, cpf(connAddr, connected(262, req(0x07, cat(cls(0x8e), inst(1)), nil))))},
	{Name: "multiple-service-11", B: encap(CmdSendUnitData, cpf(connAddr, connected(1929, req(SvcMultipleServicePacket, mrPath,
		msp(repeatMsgs(11, req(0x03, cat(cls(0x69), inst(1)), cat(u16(1), u16(11))))...)))))},
	{Name: "unconnected-send-read-tag", B: rr(req(SvcUnconnectedSend, cmPath, ucs(req(0x4c, sym("Motor_Speed"), u16(1)), port(1, 0))))},
	{Name: "malformed-path", B: rr(req(0x0e, []byte{0xe0, 0}, nil)), Err: ErrCIPPath},
}

func TestNoAllocs(t *testing.T) {
	var p PDU
	parsetest.NoAllocs(t, benchPDUs, func(b []byte) (int, pdu.Error) { return Parse(b, pdu.Request, &p) }, func() {
		for _, m := range p.Messages() {
			_ = ServiceName(m.Service, m.Class)
		}
		_ = CommandName(p.Encap.Command)
	})
}

func BenchmarkParse(b *testing.B) {
	for _, bp := range benchPDUs {
		var p PDU
		alloctest.Bench(b, bp.Name, len(bp.B), func() { Parse(bp.B, pdu.Request, &p) })
	}
}
