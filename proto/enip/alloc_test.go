package enip

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
	{"list-identity", encap(CmdListIdentity, nil), OK},
	{"rr-get-attribute-single", rr(getAttr), OK},
	{"unit-data-stop", encap(CmdSendUnitData, cpf(connAddr, connected(262, req(0x07, cat(cls(0x8e), inst(1)), nil)))), OK},
	{"multiple-service-11", encap(CmdSendUnitData, cpf(connAddr, connected(1929, req(SvcMultipleServicePacket, mrPath,
		msp(repeatMsgs(11, req(0x03, cat(cls(0x69), inst(1)), cat(u16(1), u16(11))))...))))), OK},
	{"unconnected-send-read-tag", rr(req(SvcUnconnectedSend, cmPath, ucs(req(0x4c, sym("Motor_Speed"), u16(1)), port(1, 0)))), OK},
	{"malformed-path", rr(req(0x0e, []byte{0xe0, 0}, nil)), ErrCIPPath},
}

func TestNoAllocs(t *testing.T) {
	var p PDU
	for _, bp := range benchPDUs {
		if n, err := Parse(bp.b, Request, &p); err != bp.err || (err == OK && n != len(bp.b)) {
			t.Fatalf("%s: Parse = %d, %q; want %q", bp.name, n, err, bp.err)
		}
		alloctest.Zero(t, 1000, bp.name+": Parse", func() { Parse(bp.b, Request, &p) })
		alloctest.Zero(t, 100, bp.name+": naming", func() {
			for _, m := range p.Messages() {
				_ = ServiceName(m.Service, m.Class)
			}
			_ = CommandName(p.Encap.Command)
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bp := range benchPDUs {
		var p PDU
		alloctest.Bench(b, bp.name, len(bp.b), func() { Parse(bp.b, Request, &p) })
	}
}
