package modbus

import (
	"testing"

	"github.com/conduit-ot/conduit/internal/pcaptest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// FuzzParse checks that Parse never panics and keeps its contract on any
// input: n within bounds, n set exactly when the framing was sound, and a
// parsed ADU's every proper prefix reported as short.
func FuzzParse(f *testing.F) {
	f.Add(adu(words(3, 0, 10)...), false)
	f.Add(adu(0x83, 2), true)
	f.Add(adu(cat(words(23, 3, 6, 14, 3), []byte{6, 0, 0xff, 0, 0xff, 0, 0xff})...), false)
	f.Add(adu(21, 13, 6, 0, 4, 0, 7, 0, 3, 0x06, 0xaf, 0x04, 0xbe, 0x10, 0x0d), false)
	f.Add(adu(43, 14, 1, 0), false)
	for _, s := range pcaptest.Seeds(f, "modbus", Port) {
		if s.Proto == pcaptest.TCP {
			f.Add(s.Payload, s.Src.Port() == Port)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, resp bool) {
		dir := pdu.DirOf(resp)
		var p PDU
		n, err := Parse(b, dir, &p)
		if n < 0 || n > len(b) || n > MaxADULen {
			t.Fatalf("n = %d for %d bytes", n, len(b))
		}
		switch err {
		case pdu.ErrShort, ErrBadProtocolID, ErrBadLength:
			if n != 0 {
				t.Fatalf("%q with n = %d", err, n)
			}
			return
		}
		if n != MBAPLen-1+int(p.Length) || n < MBAPLen+1 {
			t.Fatalf("n = %d, MBAP length %d (%q)", n, p.Length, err)
		}
		for k := 0; k < n; k++ {
			var q PDU
			if m, e := Parse(b[:k], dir, &q); e != pdu.ErrShort || m != 0 {
				t.Fatalf("prefix %d of %d: %d, %q", k, n, m, e)
			}
		}
		var q PDU
		if m, e := Parse(b[:n], dir, &q); m != n || e != err || q != p {
			t.Fatalf("ADU alone: %d, %q; with a tail: %d, %q", m, e, n, err)
		}
		if err == pdu.OK && p.HasRead && (p.ReadQty == 0 || int(p.ReadAddr)+int(p.ReadQty) > 0x10000) ||
			err == pdu.OK && p.HasWrite && (p.WriteQty == 0 || int(p.WriteAddr)+int(p.WriteQty) > 0x10000) {
			t.Fatalf("accepted range read %d+%d write %d+%d", p.ReadAddr, p.ReadQty, p.WriteAddr, p.WriteQty)
		}
	})
}
