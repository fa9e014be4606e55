package pcaptest

import (
	"strconv"
	"strings"
	"testing"
)

// Counts turns a capture table's "dir what... count" lines into per-key
// counts, the key being every field but the count. The last field before
// the count may list alternatives separated by commas ("req 3,4 1"
// counts "req 3" and "req 4" once each). Blank lines and lines starting
// with "#" are skipped.
func Counts(tb testing.TB, spec string) map[string]int {
	tb.Helper()
	return CountsFunc(tb, spec, func(what string) ([]string, error) {
		return strings.Split(what, ","), nil
	})
}

// CountsFunc is Counts with the alternatives of the last field before the
// count given by alts, for tables whose keys carry ranges or suffixes.
func CountsFunc(tb testing.TB, spec string, alts func(what string) ([]string, error)) map[string]int {
	tb.Helper()
	out := map[string]int{}
	for _, line := range strings.Split(spec, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if len(f) < 3 {
			tb.Fatalf("bad line %q", line)
		}
		count, err := strconv.Atoi(f[len(f)-1])
		if err != nil {
			tb.Fatalf("bad line %q", line)
		}
		keys, err := alts(f[len(f)-2])
		if err != nil {
			tb.Fatalf("bad line %q: %v", line, err)
		}
		prefix := strings.Join(f[:len(f)-2], " ")
		for _, k := range keys {
			out[prefix+" "+k] += count
		}
	}
	return out
}
