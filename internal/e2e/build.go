package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// The packages Binaries builds, by import path, so that it works from the
// directory of any package's test.
const (
	conduitPkg = "github.com/conduit-ot/conduit/cmd/conduit"
	peerPkg    = "github.com/conduit-ot/conduit/cmd/plantpeer"
)

// RaceEnabled reports whether this test binary was built with -race; the
// daemon is then built with it too, so the e2e runs race-check it.
func RaceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// Binaries builds conduit and plantpeer once per test binary and returns
// their paths; Main removes them when the tests end.
func Binaries(t testing.TB) (conduit, peer string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "conduit-e2e-")
		if buildErr != nil {
			return
		}
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		build := func(out, pkg string, race bool) error {
			args := []string{"build", "-o", filepath.Join(binDir, out)}
			if race {
				args = append(args, "-race")
			}
			cmd := exec.Command(gobin, append(args, pkg)...)
			if b, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
			}
			return nil
		}
		if buildErr = build("conduit", conduitPkg, RaceEnabled()); buildErr != nil {
			return
		}
		// The peers are short-lived helpers; race-checking them is their
		// own package's business.
		buildErr = build("plantpeer", peerPkg, false)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "conduit"), filepath.Join(binDir, "plantpeer")
}

// Main runs the tests and removes the binaries Binaries built; call it
// from TestMain: os.Exit(e2e.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	return code
}
