package pcaptest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/internal/tbtest"
)

func TestCounts(t *testing.T) {
	got := Counts(t, `
		req 3,4 1
		# a comment
		req obj 60:1,60:2 2
		rsp 129 1
		rsp 129 2`)
	want := map[string]int{"req 3": 1, "req 4": 1, "req obj 60:1": 2, "req obj 60:2": 2, "rsp 129": 3}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestCountsFunc(t *testing.T) {
	double := func(what string) ([]string, error) {
		if what == "x" {
			return nil, errors.New("no x")
		}
		return []string{what, what + what}, nil
	}
	got := CountsFunc(t, "req a 2\nrsp b c 1", double)
	want := map[string]int{"req a": 2, "req aa": 2, "rsp b c": 1, "rsp b cc": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"req 1", "req a b", "req x 1"} {
		var r tbtest.Recorder
		r.Run(func(tb testing.TB) { CountsFunc(tb, bad, double) })
		if len(r.Errs) != 1 || !strings.HasPrefix(r.Errs[0], "bad line") {
			t.Errorf("%q: fatal %q, want a bad line", bad, r.Errs)
		}
	}
}
