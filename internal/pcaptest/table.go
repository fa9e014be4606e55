package pcaptest

import (
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"unsafe"
)

// Payloads returns the non-empty TCP and UDP payloads of a capture that
// have port at either end, failing tb when the file cannot be read.
func Payloads(tb testing.TB, path string, port uint16) []Segment {
	tb.Helper()
	segs, err := ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var out []Segment
	for _, s := range segs {
		if len(s.Payload) > 0 && (s.Src.Port() == port || s.Dst.Port() == port) {
			out = append(out, s)
		}
	}
	return out
}

// Seeds returns Payloads of every capture of one protocol folder, for fuzz
// seeds; it returns nil when the captures are absent, so fuzzing goes on
// with the hand-written seeds alone.
func Seeds(tb testing.TB, proto string, port uint16) []Segment {
	tb.Helper()
	dir, ok := Lookup()
	if !ok {
		return nil
	}
	var out []Segment
	for _, path := range Files(tb, dir, proto) {
		out = append(out, Payloads(tb, path, port)...)
	}
	return out
}

// Table runs check in a subtest named after each capture of one protocol
// folder, with want's entry for it. A capture without an entry fails its
// subtest and an entry without a capture fails t, so neither the folder
// nor the table can lose a capture unnoticed. It skips t when the
// captures are absent.
func Table[W any](t *testing.T, proto string, want map[string]W, check func(t *testing.T, path string, want W)) {
	t.Helper()
	dir := Dir(t)
	seen := map[string]bool{}
	for _, path := range Files(t, dir, proto) {
		name := filepath.Base(path)
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			w, ok := want[name]
			if !ok {
				t.Fatal("capture not in the table")
			}
			check(t, path, w)
		})
	}
	var missing []string
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if !seen[name] {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		t.Errorf("expected captures missing from %s/%s: %v", dir, proto, missing)
	}
}

// DiffCounts reports every key whose count in got differs from want, in
// key order.
func DiffCounts(tb testing.TB, got, want map[string]int) {
	tb.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got[k] != want[k] {
			tb.Errorf("%-22s got %d, want %d", k, got[k], want[k])
		}
	}
}

// Within reports whether s is empty or lies inside b: parsers' views must
// point into the input they were given.
func Within(s, b []byte) bool {
	if len(s) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return p >= start && p+uintptr(len(s)) <= start+uintptr(len(b))
}

// EachPDU hands parse the PDUs of every TCP payload to or from port in
// path, each payload walked on its own from its first byte, saying
// whether the payload came from port (a response). parse returns the
// PDU's length and why it failed, "" for success; a failure is reported
// with its frame and offset and ends that payload.
func EachPDU[E ~string](t testing.TB, path string, port uint16, parse func(b []byte, fromPort bool) (int, E)) {
	t.Helper()
	name := filepath.Base(path)
	for _, seg := range Payloads(t, path, port) {
		for b := seg.Payload; len(b) > 0; {
			n, err := parse(b, seg.Src.Port() == port)
			if err != "" {
				t.Errorf("%s: frame %d at %d: %q", name, seg.Frame, len(seg.Payload)-len(b), err)
				break
			}
			b = b[n:]
		}
	}
}
