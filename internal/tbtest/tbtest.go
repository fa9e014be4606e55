// Package tbtest holds the testing.TB double that the tests of conduit's
// test kits (internal/alloctest, internal/pcaptest) hand to a kit: it
// keeps what the kit reports, so a test can check that the kit fails when
// it should, without failing itself.
package tbtest

import (
	"fmt"
	"testing"
)

// Recorder keeps the messages of Errorf and Fatalf. Fatalf then stops its
// caller, as testing.T's does; Run recovers that stop.
type Recorder struct {
	testing.TB
	Errs []string
}

func (r *Recorder) Helper() {}

func (r *Recorder) Errorf(format string, a ...any) {
	r.Errs = append(r.Errs, fmt.Sprintf(format, a...))
}

// fatalStop is the panic with which Fatalf stops its caller.
type fatalStop struct{}

func (r *Recorder) Fatalf(format string, a ...any) {
	r.Errorf(format, a...)
	panic(fatalStop{})
}

// Run calls f with r and returns when f returns or calls r.Fatalf.
func (r *Recorder) Run(f func(tb testing.TB)) {
	defer func() {
		if p := recover(); p != nil {
			if _, ok := p.(fatalStop); !ok {
				panic(p)
			}
		}
	}()
	f(r)
}
