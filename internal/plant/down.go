package plant

import (
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// killGrace is how long processes left in a namespace get between SIGTERM
// and SIGKILL during teardown.
const killGrace = time.Second

// Down removes every namespace of the plant. Processes still running inside
// them (peers, a daemon under test) are stopped first, since a namespace
// with a live process outlives its name. Down is idempotent and tolerates a
// half-built plant: namespaces that do not exist are skipped.
func (p *Plant) Down() error {
	if p == nil {
		return nil
	}
	var errs []error
	for _, ns := range p.Namespaces() {
		if err := removeNS(ns); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Cleanup removes stale plant namespaces left by crashed runs. pattern is a
// path.Match glob over the prefix (for example "bench*" or "t*"); a
// namespace is removed when its name is a matching prefix followed by one
// of the plant's suffixes. It returns the names removed.
func Cleanup(pattern string) ([]string, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, fmt.Errorf("plant cleanup: bad pattern %q: %w", pattern, err)
	}
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("plant cleanup: %w", err)
	}
	suffixes := append([]string{FWSuffix}, Zones()...)
	var removed []string
	var errs []error
	for _, e := range entries {
		name := e.Name()
		if !matchesPlant(pattern, name, suffixes) {
			continue
		}
		if err := removeNS(name); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, name)
	}
	sort.Strings(removed)
	return removed, errors.Join(errs...)
}

func matchesPlant(pattern, name string, suffixes []string) bool {
	for _, s := range suffixes {
		prefix, ok := strings.CutSuffix(name, s)
		if !ok || prefix == "" {
			continue
		}
		if m, _ := path.Match(pattern, prefix); m {
			return true
		}
	}
	return false
}

// removeNS stops the processes in ns and deletes it the way `ip netns
// del` does: detach the bind mount that keeps it alive, remove the name. A
// missing namespace is not an error.
func removeNS(ns string) error {
	if !nsExists(ns) {
		return nil
	}
	if err := stopProcesses(ns); err != nil {
		return err
	}
	path := netnsDir + "/" + ns
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove netns %s: unmount: %w", ns, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove netns %s: %w", ns, err)
	}
	return nil
}

// stopProcesses sends SIGTERM to every process in ns, waits up to
// killGrace, then SIGKILLs what remains.
func stopProcesses(ns string) error {
	pids, err := nsPIDs(ns)
	if err != nil || len(pids) == 0 {
		return err
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(killGrace)
	for time.Now().Before(deadline) {
		if pids, err = nsPIDs(ns); err != nil || len(pids) == 0 {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	return nil
}

// nsPIDs lists the processes whose network namespace is ns, as `ip netns
// pids` does: same device and inode as the namespace's bind mount.
func nsPIDs(ns string) ([]int, error) {
	var target unix.Stat_t
	if err := unix.Stat(netnsDir+"/"+ns, &target); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, nil
		}
		return nil, fmt.Errorf("netns %s: %w", ns, err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		var st unix.Stat_t
		if unix.Stat("/proc/"+e.Name()+"/ns/net", &st) != nil {
			continue // exited, or a kernel thread
		}
		if st.Dev == target.Dev && st.Ino == target.Ino {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}
