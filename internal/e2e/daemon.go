package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/conduit-ot/conduit/internal/plant"
)

// Daemon is a conduit process in the plant's firewall namespace.
type Daemon struct {
	R      *Rig
	Cmd    *exec.Cmd
	Log    *LogSink // its stdout
	Stderr *SyncBuffer
	Exited chan struct{}
	Err    error // cmd.Wait's, valid once Exited is closed
	Start  Line  // its start event, once WaitStart returned
}

// StartDaemon runs `conduit run` on the rig's policy file (or path, if
// given) and waits for its start event: queues bound and the table
// installed.
func (r *Rig) StartDaemon(path string) *Daemon {
	r.T.Helper()
	if path == "" {
		path = r.Path
	}
	// The hit counters persist in the rig's directory, never the host's.
	d := r.Launch("run", "-c", path, "--state", filepath.Join(r.Dir, "state.json"))
	d.WaitStart()
	return d
}

// Launch starts conduit with args in the firewall namespace, its stdout
// collected as log lines, and stops it when the test ends.
func (r *Rig) Launch(args ...string) *Daemon {
	r.T.Helper()
	cmd := plant.NSCmd(r.P.FW, r.Conduit, args...)
	// ip netns exec execs conduit in place, so signals reach it directly.
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	d := &Daemon{R: r, Cmd: cmd, Log: NewLogSink(), Stderr: &SyncBuffer{}, Exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = d.Log, d.Stderr
	if err := cmd.Start(); err != nil {
		r.T.Fatalf("start conduit: %v", err)
	}
	go func() { d.Err = cmd.Wait(); close(d.Exited) }()
	r.T.Cleanup(d.cleanup)
	return d
}

// WaitStart waits up to StartTimeout for the start event and keeps it in
// d.Start.
func (d *Daemon) WaitStart() Line {
	d.R.T.Helper()
	d.Start = d.WaitTimeout(0, StartTimeout, "the start event", IsEvent("start"))
	return d.Start
}

// cleanup stops the daemon if it still runs and reports races and stray
// output; on failure it shows the daemon's log.
func (d *Daemon) cleanup() {
	t := d.R.T
	select {
	case <-d.Exited:
	default:
		_ = d.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.Exited:
		case <-time.After(ExitTimeout):
			t.Errorf("conduit ignored SIGTERM for %v; killing it", ExitTimeout)
			_ = d.Cmd.Process.Kill()
			<-d.Exited
		}
	}
	errOut := d.Stderr.String()
	if strings.Contains(errOut, "WARNING: DATA RACE") {
		t.Errorf("the race detector fired in conduit:\n%s", errOut)
	}
	if bad := d.Log.Bad(); len(bad) > 0 {
		t.Errorf("conduit wrote %d lines that are not JSON to stdout, first: %q", len(bad), bad[0])
	}
	if t.Failed() {
		lines, _ := d.Log.Since(0)
		var b strings.Builder
		for _, l := range lines[max(0, len(lines)-80):] {
			b.WriteString(l.Raw)
			b.WriteByte('\n')
		}
		t.Logf("conduit (%v) log, last %d of %d lines:\n%sstderr:\n%s", d.Err, min(80, len(lines)), len(lines), b.String(), errOut)
	}
}

// Mark is the position in the log after which to look for new lines.
func (d *Daemon) Mark() int { return d.Log.Len() }

// Wait returns the first line from mark on that matches, failing the test
// after EventTimeout.
func (d *Daemon) Wait(from int, what string, match func(Line) bool) Line {
	d.R.T.Helper()
	return d.WaitTimeout(from, EventTimeout, what, match)
}

// WaitTimeout is Wait with another deadline.
func (d *Daemon) WaitTimeout(from int, timeout time.Duration, what string, match func(Line) bool) Line {
	d.R.T.Helper()
	l, ok := d.Find(from, timeout, match)
	if !ok {
		d.R.T.Fatalf("conduit did not log %s within %v (exited: %v, stderr: %s)", what, timeout, d.HasExited(), d.Stderr.String())
	}
	return l
}

// Find waits up to timeout for a matching line from mark on.
func (d *Daemon) Find(from int, timeout time.Duration, match func(Line) bool) (Line, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		lines, changed := d.Log.Since(from)
		for _, l := range lines {
			if match(l) {
				return l, true
			}
		}
		from += len(lines)
		select {
		case <-changed:
		case <-deadline.C:
			return Line{}, false
		case <-d.Exited:
			// The writer has finished: one last look.
			lines, _ := d.Log.Since(from)
			for _, l := range lines {
				if match(l) {
					return l, true
				}
			}
			return Line{}, false
		}
	}
}

// WaitCount waits until at least n lines from mark on match and returns
// them all, failing the test after timeout or when the daemon exits.
func (d *Daemon) WaitCount(from, n int, timeout time.Duration, what string, match func(Line) bool) []Line {
	d.R.T.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		lines, changed := d.Log.Since(from)
		got := filter(lines, match)
		if len(got) >= n {
			return got
		}
		select {
		case <-changed:
		case <-d.Exited:
			d.R.T.Fatalf("conduit exited after logging %d of %d %s: %v", len(got), n, what, d.Err)
		case <-deadline.C:
			d.R.T.Fatalf("conduit logged %d of %d %s within %v", len(got), n, what, timeout)
		}
	}
}

// Matching returns every line from mark on that matches, without waiting.
func (d *Daemon) Matching(from int, match func(Line) bool) []Line {
	lines, _ := d.Log.Since(from)
	return filter(lines, match)
}

func filter(lines []Line, match func(Line) bool) []Line {
	var out []Line
	for _, l := range lines {
		if match(l) {
			out = append(out, l)
		}
	}
	return out
}

// HasExited reports whether the process has ended.
func (d *Daemon) HasExited() bool {
	select {
	case <-d.Exited:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process.
func (d *Daemon) Signal(sig syscall.Signal) {
	d.R.T.Helper()
	if err := d.Cmd.Process.Signal(sig); err != nil {
		d.R.T.Fatalf("signal conduit: %v", err)
	}
}

// Stop sends SIGTERM, as systemd stops the daemon, and fails the test
// unless it exits 0 within ExitTimeout.
func (d *Daemon) Stop() {
	d.R.T.Helper()
	d.Signal(syscall.SIGTERM)
	if code := d.WaitExit(ExitTimeout); code != 0 {
		d.R.T.Fatalf("conduit exited %d after SIGTERM, want 0; stderr: %s", code, d.Stderr.String())
	}
}

// WaitExit waits for the process to end and returns its exit code, minus
// the signal's number when a signal ended it.
func (d *Daemon) WaitExit(timeout time.Duration) int {
	d.R.T.Helper()
	select {
	case <-d.Exited:
	case <-time.After(timeout):
		d.R.T.Fatalf("conduit still running %v after the signal", timeout)
	}
	var ee *exec.ExitError
	if errors.As(d.Err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if d.Err != nil {
		d.R.T.Fatalf("conduit: %v", d.Err)
	}
	return 0
}

// Verdicts returns the verdict lines of flow f from mark on, waiting up
// to EventTimeout for the first.
func (d *Daemon) Verdicts(from int, f Flow) []Line {
	d.R.T.Helper()
	match := d.R.VerdictOf(f)
	d.Wait(from, "a verdict for "+f.Desc, match)
	return d.Matching(from, match)
}

// VerdictOf matches the verdict lines of flow f.
func (r *Rig) VerdictOf(f Flow) func(Line) bool {
	src, dst := r.Src(f).String(), r.Dst(f).String()
	return func(l Line) bool {
		return l.Event() == "verdict" && l.Str("src") == src && l.Str("dst") == dst &&
			l.Str("proto") == f.LogProto() && (f.Port() == 0 || l.Num("dport") == f.Port())
	}
}

// ExpectVerdict checks the verdict lines of f from mark on.
func (d *Daemon) ExpectVerdict(from int, f Flow, want map[string]string) {
	d.R.T.Helper()
	for _, l := range d.Verdicts(from, f) {
		for k, v := range want {
			if got := l.Str(k); got != v {
				d.R.T.Errorf("%s: verdict line has %s=%q, want %q: %s", f.Desc, k, got, v, l.Raw)
			}
		}
	}
}

// StartWith writes pol as the rig's policy file and starts the daemon on
// it.
func (r *Rig) StartWith(pol Policy) *Daemon {
	r.T.Helper()
	WriteFile(r.T, r.Path, pol.Render(r.T))
	return r.StartDaemon("")
}
