package enip

import (
	"reflect"
	"testing"

	"github.com/conduit-ot/conduit/internal/pcaptest"
	"github.com/conduit-ot/conduit/proto/internal/parsetest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// checkParse asserts what must hold for any input.
func checkParse(t *testing.T, b []byte, dir pdu.Dir) {
	var p PDU
	n, err := Parse(b, dir, &p)
	fail := parsetest.Check(t, b, n, err, Errors)
	if err == pdu.OK && n != HeaderLen+int(p.Encap.Length) {
		fail("n is not the header plus its length %d", p.Encap.Length)
	}
	if !pcaptest.Within(p.Encap.Data, b[:n]) || !pcaptest.Within(p.CPF.CIP, p.Encap.Data) {
		fail("views outside the PDU")
	}
	for _, m := range p.Messages() {
		if m.Depth > MaxDepth || !pcaptest.Within(m.Data, p.CPF.CIP) || !pcaptest.Within(m.Symbol, p.CPF.CIP) {
			fail("message %+v", m)
		}
		if m.Response && m.Flags != 0 {
			fail("response with a path")
		}
	}
	if err == pdu.OK {
		// A PDU does not depend on what follows it.
		var q PDU
		if n2, err2 := Parse(b[:n:n], dir, &q); n2 != n || err2 != pdu.OK || !reflect.DeepEqual(p.Messages(), q.Messages()) || p.Total != q.Total {
			fail("reparse of b[:n] = %d, %q", n2, err2)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range parseTests {
		f.Add(tc.b, uint8(tc.dir))
	}
	for _, seg := range pcaptest.Seeds(f, "enip", Port) {
		f.Add(seg.Payload, uint8(pdu.DirOf(seg.Src.Port() == Port)))
	}
	f.Fuzz(func(t *testing.T, b []byte, dir uint8) {
		checkParse(t, b, pdu.Dir(dir&1))
	})
}
