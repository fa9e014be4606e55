package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/internal/e2e"
)

// TestE2ELogReopen rotates the daemon's log file the way logrotate does
// (rename, then SIGUSR1) while traffic flows. The lines written between
// the rename and the signal stay in the renamed file, the daemon then
// continues in a new file at the original path, and across both files
// every verdict line is there exactly once and whole.
func TestE2ELogReopen(t *testing.T) {
	r := newRig(t)
	logPath := filepath.Join(r.Dir, "conduit.log")
	rotated := logPath + ".1"
	pol := e2e.Policy{Mode: "monitor", FailOpen: true}.Render(t)
	withFile := strings.Replace(pol, `log: {file: "-"}`, fmt.Sprintf("log: {file: %q}", logPath), 1)
	if withFile == pol {
		t.Fatal(`the e2e policy template has no log: {file: "-"} line to point at a file`)
	}
	e2e.WriteFile(t, r.Path, withFile)
	d := r.startDaemonLogFile(logPath)

	// Three kinds of flow, one per stage of the rotation, each a fresh flow
	// per probe and so exactly one verdict line per probe.
	const before, between, after = 5, 2, 5
	for range before {
		r.MustPass(e2e.SupTCP, "monitor, before the rotation")
	}
	waitFile(t, d, logPath, "the verdicts before the rotation", func(ls []e2e.Line) bool {
		return len(r.verdictsOf(ls, e2e.SupTCP)) == before
	})

	if err := os.Rename(logPath, rotated); err != nil {
		t.Fatal(err)
	}
	// Until the signal the daemon writes on into the renamed file.
	for range between {
		r.MustPass(e2e.SupICMP, "monitor, between the rename and SIGUSR1")
	}
	waitFile(t, d, rotated, "the verdicts between the rename and SIGUSR1", func(ls []e2e.Line) bool {
		return len(r.verdictsOf(ls, e2e.SupICMP)) == between
	})

	d.Signal(syscall.SIGUSR1)
	waitFile(t, d, logPath, "the log_reopen event in a new file", func(ls []e2e.Line) bool {
		return len(eventsOf(ls, "log_reopen")) == 1
	})
	// The reopen line went through the same queue after everything before
	// it: the renamed file is complete now.
	oldSize := fileSize(t, rotated)

	for range after {
		r.MustPass(e2e.SupUDP, "monitor, after the reopen")
	}
	waitFile(t, d, logPath, "the verdicts after the reopen", func(ls []e2e.Line) bool {
		return len(r.verdictsOf(ls, e2e.SupUDP)) == after
	})
	d.Stop()

	old, oldPartial := readLogFile(t, rotated)
	cur, curPartial := readLogFile(t, logPath)
	if oldPartial != "" || curPartial != "" {
		t.Errorf("a line cut short: renamed file ends in %q, new file in %q", oldPartial, curPartial)
	}
	if got := fileSize(t, rotated); got != oldSize {
		t.Errorf("the renamed file grew from %d to %d bytes after the reopen", oldSize, got)
	}
	for _, c := range []struct {
		name  string
		lines []e2e.Line
		f     e2e.Flow
		want  int
	}{
		{"renamed file", old, e2e.SupTCP, before},
		{"renamed file", old, e2e.SupICMP, between},
		{"renamed file", old, e2e.SupUDP, 0},
		{"new file", cur, e2e.SupTCP, 0},
		{"new file", cur, e2e.SupICMP, 0},
		{"new file", cur, e2e.SupUDP, after},
	} {
		if got := len(r.verdictsOf(c.lines, c.f)); got != c.want {
			t.Errorf("%s: %d verdict lines of %s, want %d", c.name, got, c.f.Desc, c.want)
		}
	}
	for _, c := range []struct {
		name  string
		lines []e2e.Line
		event string
		want  int
	}{
		{"renamed file", old, "start", 1},
		{"renamed file", old, "log_reopen", 0},
		{"renamed file", old, "stop", 0},
		{"new file", cur, "start", 0},
		{"new file", cur, "log_reopen", 1},
		{"new file", cur, "stop", 1},
		{"renamed file", old, "log_dropped", 0},
		{"new file", cur, "log_dropped", 0},
	} {
		if got := len(eventsOf(c.lines, c.event)); got != c.want {
			t.Errorf("%s: %d %s events, want %d", c.name, got, c.event, c.want)
		}
	}
	// No verdict line twice: each probe is its own flow.
	seen := map[string]bool{}
	all := append(old, cur...)
	for _, f := range []e2e.Flow{e2e.SupTCP, e2e.SupICMP, e2e.SupUDP} {
		for _, l := range r.verdictsOf(all, f) {
			if k := l.Str("flow"); seen[k] {
				t.Errorf("flow %s has two verdict lines: %s", k, l.Raw)
			} else {
				seen[k] = true
			}
		}
	}
	// Nothing went to stdout: the file is the only sink.
	if n := d.Mark(); n != 0 {
		t.Errorf("conduit wrote %d lines to stdout with log.file set", n)
	}
}

// startDaemonLogFile is startDaemon for a policy whose log goes to
// logPath: it waits for the start event in that file instead of stdout.
func (r *rig) startDaemonLogFile(logPath string) *e2e.Daemon {
	t := r.T
	t.Helper()
	d := r.Launch("run", "-c", r.Path, "--state", filepath.Join(r.Dir, "state.json"))
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range []string{logPath, logPath + ".1"} {
				if b, err := os.ReadFile(p); err == nil {
					t.Logf("%s:\n%s", p, b)
				}
			}
		}
	})
	waitFileTimeout(t, d, logPath, e2e.StartTimeout, "the start event", func(ls []e2e.Line) bool {
		return len(eventsOf(ls, "start")) == 1
	})
	return d
}

// readLogFile returns the JSON lines of path and what follows the last
// newline. A line that is not JSON fails the test: it was split or mixed.
func readLogFile(t testing.TB, path string) ([]e2e.Line, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []e2e.Line
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return out, string(b)
		}
		raw := string(b[:i])
		b = b[i+1:]
		var m map[string]any
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Fatalf("%s: a line that is not JSON (split or mixed): %q", path, raw)
		}
		out = append(out, e2e.Line{Raw: raw, M: m})
	}
}

func waitFile(t *testing.T, d *e2e.Daemon, path, what string, done func([]e2e.Line) bool) {
	t.Helper()
	waitFileTimeout(t, d, path, e2e.EventTimeout, what, done)
}

// waitFileTimeout polls the log file at path until done holds for its
// complete lines.
func waitFileTimeout(t testing.TB, d *e2e.Daemon, path string, timeout time.Duration, what string, done func([]e2e.Line) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			if ls, _ := readLogFile(t, path); done(ls) {
				return
			}
		}
		if d.HasExited() || time.Now().After(deadline) {
			t.Fatalf("%s: not in %s within %v (exited: %v, stderr: %s)", what, path, timeout, d.HasExited(), d.Stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// verdictsOf returns the verdict lines of flow kind f among ls.
func (r *rig) verdictsOf(ls []e2e.Line, f e2e.Flow) []e2e.Line {
	src, dst := r.Src(f).String(), r.Dst(f).String()
	var out []e2e.Line
	for _, l := range ls {
		if l.Event() == "verdict" && l.Str("src") == src && l.Str("dst") == dst &&
			l.Str("proto") == f.LogProto() && (f.Port() == 0 || l.Num("dport") == f.Port()) {
			out = append(out, l)
		}
	}
	return out
}

func eventsOf(ls []e2e.Line, event string) []e2e.Line {
	var out []e2e.Line
	for _, l := range ls {
		if l.Event() == event {
			out = append(out, l)
		}
	}
	return out
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
