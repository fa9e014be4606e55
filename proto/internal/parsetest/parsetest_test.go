package parsetest

import (
	"fmt"
	"testing"

	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// twoByte frames PDUs of two bytes, the first 0x68.
func twoByte(b []byte, p *[2]byte) (int, pdu.Error) {
	switch {
	case len(b) < 2:
		return 0, pdu.ErrShort
	case b[0] != 0x68:
		return 0, "bad-start"
	}
	copy(p[:], b)
	return 2, pdu.OK
}

// Each check's verdict on sound and on faulty results.
func TestChecks(t *testing.T) {
	errs := []pdu.Error{pdu.OK, pdu.ErrShort, "bad-start"}
	table := map[uint8]string{1: "read", 2: "write"}
	code := func(s string) (uint8, bool) {
		for c, n := range table {
			if n == s {
				return c, true
			}
		}
		return 0, false
	}
	name := func(c uint8) string { return table[c] }
	pdu68 := []byte{0x68, 1, 9}
	for _, tc := range []struct{ got, want string }{
		{result([]byte{1, 2}, 2, pdu.OK, -1, pdu.OK), ""},
		{result([]byte{1, 2}, 1, pdu.OK, -1, pdu.OK), `Parse = 1, ""; want 2, ""`},
		{result([]byte{1, 2}, 0, pdu.ErrShort, 0, "bad-start"), `Parse = 0, "short"; want 0, "bad-start"`},
		{check(2, pdu.OK, 2, errs), ""},
		{check(0, "other", 1, errs), "unlisted error"},
		{check(1, pdu.ErrShort, 1, errs), "n out of range"},
		{check(2, pdu.OK, 1, errs), "n out of range"},
		{failure([]byte{1}, 0, pdu.OK, "mine %d", 7), `Parse(01) = 0, "": mine 7`},
		{framed(pdu68, 2, pdu.OK, [2]byte{0x68, 1}, twoByte), ""},
		{framed(pdu68, 2, pdu.OK, [2]byte{0x68, 2}, twoByte), `PDU alone: 2, ""; with a tail: 2, ""`},
		{framed(pdu68, 3, pdu.OK, [2]byte{0x68, 1}, twoByte), `prefix 2 of 3: 2, ""`},
		{fmt.Sprint(vocab("f", []string{"read", "write"}, code, name, 9)), "[]"},
		{fmt.Sprint(vocab("f", []string{"write", "read"}, code, name, 9)), "[f names not sorted: [write read]]"},
		{fmt.Sprint(vocab("f", []string{"erase", "read"}, code, name, 9)), "[f erase round trip: 0 false]"},
		{fmt.Sprint(vocab("f", []string{"read"}, code, name, 2)), "[unknown f named]"},
		{Side(true) + " " + Side(false), "req rsp"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
