package e2e

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Background is a process that runs beside a test (a server, a capture,
// a command under test) and is stopped at the latest when the test ends.
type Background struct {
	cmd   *exec.Cmd
	sig   syscall.Signal // what stops it
	grace time.Duration  // how long it may take to stop before it is killed
	done  chan struct{}
	err   error // cmd.Wait's, valid once done is closed
}

// StartBackground starts cmd and stops it with SIGTERM, as systemd stops
// a service, when the test ends, killing it if it has not ended grace
// later.
func StartBackground(t testing.TB, cmd *exec.Cmd, grace time.Duration) (*Background, error) {
	return startBackground(t, cmd, syscall.SIGTERM, grace)
}

func startBackground(t testing.TB, cmd *exec.Cmd, sig syscall.Signal, grace time.Duration) (*Background, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	b := &Background{cmd: cmd, sig: sig, grace: grace, done: make(chan struct{})}
	go func() { b.err = cmd.Wait(); close(b.done) }()
	t.Cleanup(func() { _ = b.Stop() })
	return b, nil
}

// Stop sends the stop signal, kills the process if it has not ended
// within the grace period, and returns how it ended; once it has ended,
// Stop returns that at once.
func (b *Background) Stop() error {
	select {
	case <-b.done:
		return b.err
	default:
	}
	_ = b.cmd.Process.Signal(b.sig)
	select {
	case <-b.done:
	case <-time.After(b.grace):
		_ = b.cmd.Process.Kill()
		<-b.done
	}
	return b.err
}

// WaitOutput waits up to timeout until out, a process's output, holds
// want, failing the test with what and the output otherwise.
func WaitOutput(t testing.TB, out *SyncBuffer, want, what string, timeout time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !strings.Contains(out.String(), want); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Need skips the test when tool, a program it drives, is not installed
// (.ci/run installs them all); with args, also when tool fails to run with
// them (a check that an interpreter has a module).
func Need(t testing.TB, tool string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Skipf("needs %s: %v", tool, err)
	}
	if len(args) > 0 {
		if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
			t.Skipf("needs %s %v to work: %v: %s", tool, args, err, out)
		}
	}
}
