package main

import (
	"os"
	"syscall"
	"testing"
)

// TestSignalsDuringStart: what arrives before the daemon serves its signals
// is kept: a stop ends the start, a SIGHUP or SIGUSR1 is remembered for
// once the start is done, and the first stop signal is the one reported.
func TestSignalsDuringStart(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in        []os.Signal
		stop      os.Signal
		hup, usr1 bool
	}{
		{"none", nil, nil, false, false},
		{"sigterm", []os.Signal{syscall.SIGTERM}, syscall.SIGTERM, false, false},
		{"sighup only", []os.Signal{syscall.SIGHUP}, nil, true, false},
		{"usr1 then int then term", []os.Signal{syscall.SIGUSR1, syscall.SIGINT, syscall.SIGTERM}, syscall.SIGINT, false, true},
		{"hup and term", []os.Signal{syscall.SIGHUP, syscall.SIGTERM}, syscall.SIGTERM, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &signals{ch: make(chan os.Signal, 8)}
			for _, sig := range tc.in {
				s.ch <- sig
			}
			if got := s.stopping(); got != (tc.stop != nil) {
				t.Errorf("stopping() = %v, want %v", got, tc.stop != nil)
			}
			if s.stop != tc.stop || s.hup != tc.hup || s.usr1 != tc.usr1 {
				t.Errorf("stop %v hup %v usr1 %v, want %v %v %v", s.stop, s.hup, s.usr1, tc.stop, tc.hup, tc.usr1)
			}
			if len(s.ch) != 0 {
				t.Errorf("%d signals left in the channel", len(s.ch))
			}
		})
	}
}

func TestExitTableByPolicy(t *testing.T) {
	for _, tc := range []struct {
		failOpen, removeOnExit, keep bool
		why                          string
	}{
		{true, false, false, "queue.fail_open: true"},
		{false, false, true, "queue.fail_open: false"},
		{false, true, false, "--remove-on-exit"},
		{true, true, false, "--remove-on-exit"},
	} {
		x := newExitTable(nil, tc.failOpen, tc.removeOnExit)
		if x.keep != tc.keep || x.reason != tc.why {
			t.Errorf("fail_open %v, --remove-on-exit %v: keep %v (%s), want %v (%s)", tc.failOpen, tc.removeOnExit, x.keep, x.reason, tc.keep, tc.why)
		}
	}
}
