package inforce

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/rules"
)

// watched runs r.Watch until the test ends and counts the policy loads it
// makes: every load is one reload attempt.
func watched(t *testing.T, r *Reloader) *atomic.Int64 {
	t.Helper()
	var loads atomic.Int64
	r.Load = func(path string) (*rules.Policy, error) {
		loads.Add(1)
		return rules.Load(path)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Watch(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	// Watch arms its watches before its first check; give it that long.
	time.Sleep(50 * time.Millisecond)
	return &loads
}

// expectLoads waits for the n-th load and the mode it brings, then checks
// that no further load follows within a few debounce periods.
func expectLoads(t *testing.T, r *Reloader, loads *atomic.Int64, n int64, mode rules.Mode, why string) {
	t.Helper()
	expectLoadsGen(t, r, loads, n, uint64(n)+1, mode, why)
}

// expectLoadsGen is expectLoads where not every load made a generation.
func expectLoadsGen(t *testing.T, r *Reloader, loads *atomic.Int64, n int64, gen uint64, mode rules.Mode, why string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for loads.Load() < n || (n > 0 && r.Store.Load().Policy.Mode != mode) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d loads, mode %v after 5s; want %d loads, mode %v", why, loads.Load(), r.Store.Load().Policy.Mode, n, mode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(3 * Debounce)
	if got := loads.Load(); got != n {
		t.Fatalf("%s: %d loads, want exactly %d", why, got, n)
	}
	if got := r.Store.Load(); got.Generation != gen || got.Policy.Mode != mode {
		t.Fatalf("%s: generation %d mode %v, want %d %v", why, got.Generation, got.Policy.Mode, gen, mode)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// replaceLink points link at target atomically: a new link renamed over
// the old, as kubelet and `ln -sfT` + `mv -T` do.
func replaceLink(t *testing.T, target, link string) {
	t.Helper()
	tmp := link + "_tmp"
	symlink(t, target, tmp)
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
}

// writeInPlace truncates and rewrites path, keeping its inode.
func writeInPlace(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestWatchFollowsConfigMapLinks deploys the policy as a Kubernetes
// ConfigMap volume does: dir/policy.yaml -> ..data/policy.yaml and
// dir/..data -> ..v1, a directory of the real files. Every way such a file
// changes reloads exactly once: an edit of the target in place, an atomic
// swap of ..data, the top link re-pointed into another directory, and
// edits of each new target, which show the watch moved with the links.
// Events that do not change the resolved bytes load nothing.
func TestWatchFollowsConfigMapLinks(t *testing.T) {
	dir := t.TempDir()
	mkdir(t, filepath.Join(dir, "..v1"))
	writeInPlace(t, filepath.Join(dir, "..v1", "policy.yaml"), policy("monitor", ""))
	symlink(t, "..v1", filepath.Join(dir, "..data"))
	symlink(t, "..data/policy.yaml", filepath.Join(dir, "policy.yaml"))
	r, _ := newReloader(t, policy("monitor", ""))
	r.Path = filepath.Join(dir, "policy.yaml")
	loads := watched(t, r)

	// Nothing that leaves the resolved bytes alone loads anything.
	writeInPlace(t, filepath.Join(dir, "..v1", "policy.yaml"), policy("monitor", ""))
	writeInPlace(t, filepath.Join(dir, "..v1", "other.yaml"), "x")
	writeInPlace(t, filepath.Join(dir, "other.yaml"), "x")
	expectLoads(t, r, loads, 0, rules.ModeMonitor, "identical bytes and other files")

	// (a) The target edited in place.
	writeInPlace(t, filepath.Join(dir, "..v1", "policy.yaml"), policy("enforce", ""))
	expectLoads(t, r, loads, 1, rules.ModeEnforce, "target edited in place")

	// (b) ..data swapped atomically to a new directory; kubelet then
	// deletes the old one.
	mkdir(t, filepath.Join(dir, "..v2"))
	writeInPlace(t, filepath.Join(dir, "..v2", "policy.yaml"), policy("passthrough", ""))
	replaceLink(t, "..v2", filepath.Join(dir, "..data"))
	if err := os.RemoveAll(filepath.Join(dir, "..v1")); err != nil {
		t.Fatal(err)
	}
	expectLoads(t, r, loads, 2, rules.ModePassthrough, "..data swapped")

	writeInPlace(t, filepath.Join(dir, "..v2", "policy.yaml"), policy("monitor", ""))
	expectLoads(t, r, loads, 3, rules.ModeMonitor, "the new target edited in place")

	// (c) The top link re-pointed into another directory.
	other := t.TempDir()
	writeInPlace(t, filepath.Join(other, "conduit.yaml"), policy("enforce", ""))
	replaceLink(t, filepath.Join(other, "conduit.yaml"), filepath.Join(dir, "policy.yaml"))
	expectLoads(t, r, loads, 4, rules.ModeEnforce, "top link re-pointed")

	// The directory left behind is no longer on the path.
	writeInPlace(t, filepath.Join(dir, "..v2", "policy.yaml"), policy("passthrough", ""))
	expectLoads(t, r, loads, 4, rules.ModeEnforce, "the old target edited")

	// The new target is, whether edited in place or replaced by rename.
	writeInPlace(t, filepath.Join(other, "conduit.yaml"), policy("monitor", ""))
	expectLoads(t, r, loads, 5, rules.ModeMonitor, "the re-pointed target edited in place")
	e2e.WriteFile(t, filepath.Join(other, "conduit.yaml"), policy("enforce", ""))
	expectLoads(t, r, loads, 6, rules.ModeEnforce, "the re-pointed target replaced by rename")
}

// TestWatchLinkIntoOtherDirectory: a policy path that links into another
// directory reloads when the file there is replaced by rename, the way an
// editor saves it.
func TestWatchLinkIntoOtherDirectory(t *testing.T) {
	target := filepath.Join(t.TempDir(), "policy.yaml")
	e2e.WriteFile(t, target, policy("monitor", ""))
	r, _ := newReloader(t, policy("monitor", ""))
	link := filepath.Join(t.TempDir(), "conduit.yaml")
	symlink(t, target, link)
	r.Path = link
	loads := watched(t, r)

	e2e.WriteFile(t, target, policy("enforce", ""))
	expectLoads(t, r, loads, 1, rules.ModeEnforce, "target replaced by rename")
}

// TestWatchRefusesBrokenFileOnce: a broken file is refused once, stays
// refused across events that do not change it, and a fixed file loads.
func TestWatchRefusesBrokenFileOnce(t *testing.T) {
	r, _ := newReloader(t, policy("monitor", ""))
	loads := watched(t, r)
	e2e.WriteFile(t, r.Path, "mode: enforce\nrules: [\n")
	deadline := time.Now().Add(5 * time.Second)
	for loads.Load() < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the broken file was never tried")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The same bytes again: an event, but nothing new to try.
	e2e.WriteFile(t, r.Path, "mode: enforce\nrules: [\n")
	time.Sleep(3 * Debounce)
	if n := loads.Load(); n != 1 {
		t.Fatalf("%d loads of the same broken file, want 1", n)
	}
	if g := r.Store.Load().Generation; g != 1 {
		t.Fatalf("generation %d after a refused file", g)
	}
	e2e.WriteFile(t, r.Path, policy("enforce", ""))
	expectLoadsGen(t, r, loads, 2, 2, rules.ModeEnforce, "fixed file")
}

// TestWatchFileReappears: a policy file deleted and then recreated loads.
func TestWatchFileReappears(t *testing.T) {
	r, _ := newReloader(t, policy("monitor", ""))
	loads := watched(t, r)
	if err := os.Remove(r.Path); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * Debounce)
	e2e.WriteFile(t, r.Path, policy("enforce", ""))
	expectLoads(t, r, loads, 1, rules.ModeEnforce, "file recreated")
}
