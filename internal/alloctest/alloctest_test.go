package alloctest

import (
	"testing"

	"github.com/conduit-ot/conduit/internal/tbtest"
)

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
		var r tbtest.Recorder
		Zero(&r, 10, c.name, c.f)
		if got := len(r.Errs) > 0; got != c.fails {
			t.Errorf("%s: reported %v, want a failure %v", c.name, r.Errs, c.fails)
		}
	}
}

func BenchmarkBench(b *testing.B) {
	Bench(b, "noop", 8, func() {})
}
