// Package alloctest holds the allocation checks and benchmark loop the
// parsers' TestNoAllocs and Benchmark functions share: the per-packet
// path must not allocate, and each parser measures itself the same way.
package alloctest

import "testing"

// Zero fails tb when f, called runs times, allocates on average; what
// names f in the failure.
func Zero(tb testing.TB, runs int, what string, f func()) {
	tb.Helper()
	if n := testing.AllocsPerRun(runs, f); n != 0 {
		tb.Errorf("%s: %v allocations per run, want 0", what, n)
	}
}

// Bench measures f as the sub-benchmark name, reporting allocations and
// size bytes per call.
func Bench(b *testing.B, name string, size int, f func()) {
	b.Helper()
	b.Run(name, func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(size))
		for b.Loop() {
			f()
		}
	})
}
