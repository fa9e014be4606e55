package e2e

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/internal/plant"
)

// RunAs lets a command's test binary stand in for the command, so that
// its tests run it inside a plant's namespaces (Self) without a separate
// build: when the environment variable env is "1" it runs main instead of
// the tests. Call it from TestMain: os.Exit(e2e.RunAs(m, env, main)).
func RunAs(m *testing.M, env string, main func()) int {
	if os.Getenv(env) == "1" {
		main()
		return 0
	}
	return m.Run()
}

// Self returns a command that runs this test binary as the command (see
// RunAs) with args inside namespace ns.
func Self(ns, env string, args ...string) *exec.Cmd {
	cmd := plant.NSCmd(ns, os.Args[0], args...)
	// A race-enabled binary sleeps 1s at exit by default; these commands
	// are short-lived.
	cmd.Env = append(os.Environ(), env+"=1", "GORACE=atexit_sleep_ms=0")
	return cmd
}

// Usage returns a check of a command's run on one command line: it
// fails the test unless run(args) returns code and writes to stderr
// something that contains errPart.
func Usage(t testing.TB, run func(args []string, stdout, stderr io.Writer) int) func(code int, errPart string, args ...string) {
	return func(code int, errPart string, args ...string) {
		t.Helper()
		var out, errb bytes.Buffer
		if got := run(args, &out, &errb); got != code || !strings.Contains(errb.String(), errPart) {
			t.Errorf("run(%q) = %d, stderr %q; want %d containing %q", args, got, errb.String(), code, errPart)
		}
	}
}
