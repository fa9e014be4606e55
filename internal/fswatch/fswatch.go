// Package fswatch tells when a file may have changed on disk, following
// the symlinks on its path: it watches directories with inotify, not the
// file, because editors and configuration management replace files by
// writing a temporary file and renaming it over the old one, which a watch
// on the old inode would never see. When the path is a symlink, or passes
// through symlinks (Kubernetes ConfigMaps: policy.yaml -> ..data/policy.yaml,
// with ..data swapped atomically), it watches the directory of every link
// on the way and of the file they resolve to, and resolves the path anew
// after every change, so an edit of the target, a swap of an intermediate
// link and a re-pointed link all count.
package fswatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Debounce is how long the watcher waits after the last change to the file
// before reloading: editors write in several steps.
const Debounce = 250 * time.Millisecond

// maxLinks bounds symlink resolution, as the kernel's ELOOP does.
const maxLinks = 40

// watchMask is what the watcher asks inotify for on each directory. It
// does not ask for IN_MODIFY: a file still open for writing is reloaded
// when its writer closes it, not half-written.
const watchMask = unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM |
	unix.IN_CREATE | unix.IN_DELETE | unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

// Config says what to watch and whom to tell.
type Config struct {
	Path string
	Log  *slog.Logger
	// Changed runs once when the watches are armed (a change between the
	// caller's first read and the watch has no event left to report it),
	// then after each burst of events on the path, Debounce after its last
	// event. It runs on Watch's goroutine.
	Changed func()
	// Armed, if set, runs once after the first Changed.
	Armed func()
	// Lost, if set, hears that re-arming the watches after an event
	// failed: changes may go unseen until the path resolves again.
	Lost func(error)
}

// Watch runs c.Changed as described in Config until ctx ends. It returns
// an error when the path cannot be watched at all; a later loss of the
// watches (re-arming failed) goes to c.Lost and is retried at the next
// event.
func Watch(ctx context.Context, c Config) error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("watch %s: inotify: %w", c.Path, err)
	}
	// os.File puts the non-blocking fd on the runtime poller, so Close
	// below unblocks the reader.
	w := &watcher{path: c.Path, log: c.Log, fd: fd, f: os.NewFile(uintptr(fd), "inotify")}
	if err := w.arm(); err != nil {
		w.f.Close()
		return err
	}
	go func() { <-ctx.Done(); w.f.Close() }()

	changed := make(chan struct{}, 1)
	go w.read(changed)

	c.Changed()
	if c.Armed != nil {
		c.Armed()
	}
	var timer <-chan time.Time
	for {
		select {
		case _, ok := <-changed:
			if !ok {
				return nil
			}
			timer = time.After(Debounce)
		case <-timer:
			timer = nil
			if err := w.arm(); err != nil && c.Lost != nil {
				c.Lost(err)
			}
			c.Changed()
		case <-ctx.Done():
			return nil
		}
	}
}

// watcher is one Watch's inotify state.
type watcher struct {
	path string
	log  *slog.Logger
	fd   int
	f    *os.File

	mu    sync.Mutex                // names, against the reader
	names map[int32]map[string]bool // watch descriptor → the entries that matter in it
	dirs  map[string]int32          // watched directory → its descriptor

	target string // what the path resolved to at the last arm
}

// arm resolves the path and watches the directories its resolution went
// through, dropping the watches no longer on the way. A path that does not
// resolve keeps the watches on the part that did, so that the file
// reappearing is seen; arm reports that only when nothing could be watched.
func (w *watcher) arm() error {
	target, deps, rerr := resolve(w.path)
	want := map[string]map[string]bool{}
	for _, d := range deps {
		if want[d.dir] == nil {
			want[d.dir] = map[string]bool{}
		}
		want[d.dir][d.name] = true
	}
	names := make(map[int32]map[string]bool, len(want))
	dirs := make(map[string]int32, len(want))
	var errs []error
	for dir, entries := range want {
		// Adding a watch the inode already has returns its descriptor; a
		// directory replaced under the same path gets a new one.
		wd, err := unix.InotifyAddWatch(w.fd, dir, watchMask)
		if err != nil {
			errs = append(errs, fmt.Errorf("watch %s: %w", dir, err))
			continue
		}
		dirs[dir] = int32(wd)
		if names[int32(wd)] == nil {
			names[int32(wd)] = map[string]bool{}
		}
		for n := range entries {
			names[int32(wd)][n] = true
		}
	}
	w.mu.Lock()
	old := w.dirs
	w.names, w.dirs = names, dirs
	w.mu.Unlock()
	// After the swap, so the reader ignores the IN_IGNORED these cause.
	for _, wd := range old {
		if _, ok := names[wd]; !ok {
			_, _ = unix.InotifyRmWatch(w.fd, uint32(wd)) // gone already if its directory was deleted
		}
	}
	if rerr == nil && target != w.target {
		w.log.Debug("watching the file", "file", w.path, "resolves_to", target, "dirs", len(dirs))
		w.target = target
	}
	if len(dirs) == 0 {
		if rerr != nil {
			errs = append(errs, rerr)
		}
		return fmt.Errorf("watch %s: %w", w.path, errors.Join(errs...))
	}
	return nil
}

// read turns inotify events on the entries that matter into a signal on
// changed, and closes it when the descriptor is closed or fails.
func (w *watcher) read(changed chan<- struct{}) {
	defer close(changed)
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			if !errors.Is(err, os.ErrClosed) {
				w.log.Error("file watcher stopped", "file", w.path, "err", err)
			}
			return
		}
		if w.touches(buf[:n]) {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	}
}

// touches reports whether any inotify event in b concerns the path: an
// entry on its resolution, a watched directory itself going away, or lost
// events.
func (w *watcher) touches(b []byte) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(b) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(b) {
			return false
		}
		name := b[unix.SizeofInotifyEvent:end]
		if i := bytes.IndexByte(name, 0); i >= 0 {
			name = name[:i]
		}
		b = b[end:]
		if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
			return true
		}
		entries, ok := w.names[ev.Wd]
		if !ok {
			continue
		}
		if ev.Mask&(unix.IN_DELETE_SELF|unix.IN_MOVE_SELF|unix.IN_IGNORED) != 0 || entries[string(name)] {
			return true
		}
	}
	return false
}

// loc is a directory entry that a path's resolution depends on.
type loc struct{ dir, name string }

// resolve follows path through its symlinks as the kernel does and returns
// the file it names, with every entry whose change could change that: each
// symlink on the way and the file itself. On an error it returns the
// entries up to the one that failed (a missing entry is among them: its
// directory is where it would reappear).
func resolve(path string) (target string, deps []loc, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", nil, fmt.Errorf("resolve %s: %w", path, err)
	}
	cur := "/"
	rest := strings.Split(abs, "/")
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, c)
		fi, err := os.Lstat(next)
		if err != nil {
			return "", append(deps, loc{cur, c}), fmt.Errorf("resolve %s: %w", path, err)
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			if allEmpty(rest) {
				deps = append(deps, loc{cur, c})
			}
			cur = next
			continue
		}
		deps = append(deps, loc{cur, c})
		if links++; links > maxLinks {
			return "", deps, fmt.Errorf("resolve %s: %w", path, syscall.ELOOP)
		}
		link, err := os.Readlink(next)
		if err != nil {
			return "", deps, fmt.Errorf("resolve %s: %w", path, err)
		}
		if filepath.IsAbs(link) {
			cur = "/"
		}
		rest = append(strings.Split(link, "/"), rest...)
	}
	return cur, deps, nil
}

// allEmpty reports whether only separators remain ("dir/" ends in "").
func allEmpty(rest []string) bool {
	for _, s := range rest {
		if s != "" && s != "." {
			return false
		}
	}
	return true
}
