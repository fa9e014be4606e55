// Package parsetest holds the checks the protocol parsers' tests and fuzz
// targets make of every Parse alike (results, framing, vocabularies), so
// each parser's tests say only what is its own.
package parsetest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/conduit-ot/conduit/internal/alloctest"
	"github.com/conduit-ot/conduit/internal/pcaptest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// Result fails t unless Parse of b took n bytes with err as the case
// wants; wantN < 0 stands for all of b.
func Result(t testing.TB, b []byte, n int, err pdu.Error, wantN int, wantErr pdu.Error) {
	t.Helper()
	if msg := result(b, n, err, wantN, wantErr); msg != "" {
		t.Fatal(msg)
	}
}

func result(b []byte, n int, err pdu.Error, wantN int, wantErr pdu.Error) string {
	if wantN < 0 {
		wantN = len(b)
	}
	if err != wantErr || n != wantN {
		return fmt.Sprintf("Parse = %d, %q; want %d, %q", n, err, wantN, wantErr)
	}
	return ""
}

// Check asserts what holds for any result n, err of Parse on b: err is
// one of the parser's errs, and n lies within b, 0 for ErrShort. It
// returns a Fatalf naming b, n and err for the caller's own checks.
func Check(t testing.TB, b []byte, n int, err pdu.Error, errs []pdu.Error) (fail func(format string, args ...any)) {
	t.Helper()
	fail = func(format string, args ...any) {
		t.Helper()
		t.Fatal(failure(b, n, err, format, args...))
	}
	if msg := check(n, err, len(b), errs); msg != "" {
		fail(msg)
	}
	return fail
}

func failure(b []byte, n int, err pdu.Error, format string, args ...any) string {
	return fmt.Sprintf("Parse(% x) = %d, %q: "+format, append([]any{b, n, err}, args...)...)
}

func check(n int, err pdu.Error, size int, errs []pdu.Error) string {
	switch {
	case !slices.Contains(errs, err):
		return "unlisted error"
	case n < 0 || n > size || (err == pdu.ErrShort && n != 0):
		return "n out of range"
	}
	return ""
}

// Framed asserts that the PDU p Parse framed in the first n bytes of b
// (with err) depends on nothing after them: every shorter prefix is
// ErrShort with nothing taken, and b[:n] alone parses to the same n, err
// and PDU.
func Framed[P comparable](t testing.TB, b []byte, n int, err pdu.Error, p P, parse func([]byte, *P) (int, pdu.Error)) {
	t.Helper()
	if msg := framed(b, n, err, p, parse); msg != "" {
		t.Fatal(msg)
	}
}

func framed[P comparable](b []byte, n int, err pdu.Error, p P, parse func([]byte, *P) (int, pdu.Error)) string {
	for k := 0; k < n; k++ {
		var q P
		if m, e := parse(b[:k], &q); e != pdu.ErrShort || m != 0 {
			return fmt.Sprintf("prefix %d of %d: %d, %q", k, n, m, e)
		}
	}
	var q P
	if m, e := parse(b[:n], &q); m != n || e != err || q != p {
		return fmt.Sprintf("PDU alone: %d, %q; with a tail: %d, %q", m, e, n, err)
	}
	return ""
}

// Vocab asserts a vocabulary of what ("s7 function"): names (its Names
// func's list) is sorted, the code of each name names it back, "bogus"
// has no code, and unnamed (a code outside the vocabulary) no name.
func Vocab[C any](t testing.TB, what string, names []string, code func(string) (C, bool), name func(C) string, unnamed C) {
	t.Helper()
	for _, msg := range vocab(what, names, code, name, unnamed) {
		t.Error(msg)
	}
}

func vocab[C any](what string, names []string, code func(string) (C, bool), name func(C) string, unnamed C) (msgs []string) {
	if !slices.IsSorted(names) {
		msgs = append(msgs, fmt.Sprintf("%s names not sorted: %v", what, names))
	}
	for _, n := range names {
		if c, ok := code(n); !ok || name(c) != n {
			msgs = append(msgs, fmt.Sprintf("%s %s round trip: %v %v", what, n, c, ok))
		}
	}
	if _, ok := code("bogus"); ok || name(unnamed) != "" {
		msgs = append(msgs, "unknown "+what+" named")
	}
	return msgs
}

// Captures counts what the parser makes of each of proto's captures
// against the capture's spec in specs (read by want, pcaptest.Counts or
// a CountsFunc): walk gets every payload to or from port, whether the
// client sent it (req), and count for the outcome keys it finds.
func Captures(t *testing.T, proto string, port uint16, specs map[string]string,
	want func(tb testing.TB, spec string) map[string]int,
	walk func(t *testing.T, s pcaptest.Segment, req bool, count func(key string))) {
	t.Helper()
	pcaptest.Table(t, proto, specs, func(t *testing.T, path, spec string) {
		got := map[string]int{}
		for _, s := range pcaptest.Payloads(t, path, port) {
			walk(t, s, s.Dst.Port() == port, func(k string) { got[k]++ })
		}
		pcaptest.DiffCounts(t, got, want(t, spec))
	})
}

// Side is the word of the capture specs for a payload's sender: "req"
// from the client, "rsp" from the server.
func Side(req bool) string {
	if req {
		return "req"
	}
	return "rsp"
}

// Case is a named input of a parser's TestNoAllocs and BenchmarkParse,
// with the error Parse must give it (OK for none).
type Case struct {
	Name string
	B    []byte
	Err  pdu.Error
}

// NoAllocs asserts that parse takes each case whole with the case's
// error, and that neither parse nor naming (the names a verdict line
// gives what parse found) allocates.
func NoAllocs(t *testing.T, cases []Case, parse func(b []byte) (int, pdu.Error), naming func()) {
	t.Helper()
	for _, c := range cases {
		n, err := parse(c.B)
		if msg := result(c.B, n, err, -1, c.Err); msg != "" {
			t.Fatalf("%s: %s", c.Name, msg)
		}
		alloctest.Zero(t, 1000, c.Name+": Parse", func() { parse(c.B) })
		alloctest.Zero(t, 100, c.Name+": naming", naming)
	}
}
