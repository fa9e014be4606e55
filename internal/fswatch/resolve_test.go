package fswatch

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
)

func mkdir(t *testing.T, path string) {
	t.Helper()
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestResolve(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	mkdir(t, filepath.Join(dir, "..v1"))
	mkdir(t, filepath.Join(dir, "etc"))
	if err := os.WriteFile(filepath.Join(dir, "..v1", "p.yaml"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	symlink(t, "..v1", filepath.Join(dir, "..data"))
	symlink(t, "..data/p.yaml", filepath.Join(dir, "p.yaml"))
	symlink(t, filepath.Join(dir, "p.yaml"), filepath.Join(dir, "etc", "abs.yaml"))
	symlink(t, "../..data/./p.yaml", filepath.Join(dir, "etc", "rel.yaml"))
	symlink(t, "missing.yaml", filepath.Join(dir, "dangling.yaml"))
	symlink(t, "loop.yaml", filepath.Join(dir, "loop.yaml"))

	real := filepath.Join(dir, "..v1", "p.yaml")
	for _, tc := range []struct {
		path   string
		target string
		deps   []loc
		err    error
	}{
		{real, real, []loc{{filepath.Join(dir, "..v1"), "p.yaml"}}, nil},
		{filepath.Join(dir, "p.yaml"), real, []loc{
			{dir, "p.yaml"}, {dir, "..data"}, {filepath.Join(dir, "..v1"), "p.yaml"}}, nil},
		{filepath.Join(dir, "etc", "abs.yaml"), real, []loc{
			{filepath.Join(dir, "etc"), "abs.yaml"}, {dir, "p.yaml"}, {dir, "..data"}, {filepath.Join(dir, "..v1"), "p.yaml"}}, nil},
		{filepath.Join(dir, "etc", "rel.yaml"), real, []loc{
			{filepath.Join(dir, "etc"), "rel.yaml"}, {dir, "..data"}, {filepath.Join(dir, "..v1"), "p.yaml"}}, nil},
		{filepath.Join(dir, "dangling.yaml"), "", []loc{{dir, "dangling.yaml"}, {dir, "missing.yaml"}}, os.ErrNotExist},
		{filepath.Join(dir, "nodir", "p.yaml"), "", []loc{{dir, "nodir"}}, os.ErrNotExist},
	} {
		target, deps, err := resolve(tc.path)
		if target != tc.target || !reflect.DeepEqual(deps, tc.deps) || (tc.err == nil) != (err == nil) || (tc.err != nil && !errors.Is(err, tc.err)) {
			t.Errorf("resolve(%s) = %q, %v, %v; want %q, %v, %v", tc.path, target, deps, err, tc.target, tc.deps, tc.err)
		}
	}
	if _, _, err := resolve(filepath.Join(dir, "loop.yaml")); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("resolve of a link to itself: %v, want ELOOP", err)
	}
}
