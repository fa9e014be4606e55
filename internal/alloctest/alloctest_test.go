package alloctest

import (
	"fmt"
	"testing"
)

// recorder keeps what Errorf reports instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, a ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, a...))
}

var sink []byte

func TestZero(t *testing.T) {
	for _, c := range []struct {
		name  string
		f     func()
		fails bool
	}{
		{"none", func() { sink = sink[:0] }, false},
		{"make", func() { sink = make([]byte, 64) }, true},
	} {
		var r recorder
		Zero(&r, 10, c.name, c.f)
		if got := len(r.errs) > 0; got != c.fails {
			t.Errorf("%s: reported %v, want a failure %v", c.name, r.errs, c.fails)
		}
	}
}

func BenchmarkBench(b *testing.B) {
	Bench(b, "noop", 8, func() {})
}
