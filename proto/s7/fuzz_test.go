package s7

import (
	"testing"

	"github.com/conduit-ot/conduit/internal/pcaptest"
	"github.com/conduit-ot/conduit/proto/internal/parsetest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// checkParse asserts what must hold for any input.
func checkParse(t *testing.T, b []byte) {
	var p PDU
	n, err := Parse(b, pdu.Request, &p)
	fail := parsetest.Check(t, b, n, err, Errors)
	if err == pdu.OK && n != int(p.TPKTLength) {
		fail("n is not the TPKT length %d", p.TPKTLength)
	}
	frame := b[:n]
	for _, s := range [][]byte{p.COTP.SrcTSAP, p.COTP.DstTSAP, p.COTP.Data} {
		if !pcaptest.Within(s, frame) {
			fail("COTP view outside the TPKT")
		}
	}
	for _, s := range [][]byte{p.Param, p.Data, p.Filename, p.PIService, p.PIParams} {
		if !pcaptest.Within(s, p.COTP.Data) {
			fail("S7 view outside the COTP data")
		}
	}
	if p.Kind == KindS7 && err == pdu.OK && HeaderLen+len(p.Param)+len(p.Data) > len(p.COTP.Data) {
		fail("parameter and data longer than the PDU")
	}
	// ParseTPKT agrees on the framing, and ParseS7 on the S7 PDU.
	var q PDU
	n2, err2 := ParseTPKT(b, pdu.Request, &q)
	if n2 != n || (err2 != pdu.OK && err2 != err) {
		fail("ParseTPKT = %d, %q", n2, err2)
	}
	if err2 == pdu.OK && q.Kind == KindCOTP && q.COTP.Type == COTPData && q.COTP.EOT && q.COTP.Data != nil {
		if err3 := ParseS7(q.COTP.Data, pdu.Request, &q); err3 != err || (err == pdu.OK && summary(&q) != summary(&p)) {
			fail("ParseS7 = %q, %s", err3, summary(&q))
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range parseTests {
		f.Add(tc.b)
	}
	for _, seg := range pcaptest.Seeds(f, "s7", Port) {
		f.Add(seg.Payload)
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkParse(t, b) })
}
