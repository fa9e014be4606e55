package modes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Debounce is how long the watcher waits after the last change to the file
// before reloading: editors write in several steps.
const Debounce = 250 * time.Millisecond

// Watch reloads when the policy file changes on disk, until ctx ends. It
// watches the directory, not the file: editors and configuration management
// replace files by writing a temporary file and renaming it over the old
// one, which a watch on the old inode would never see.
func (r *Reloader) Watch(ctx context.Context) error {
	dir, base := filepath.Split(filepath.Clean(r.Path))
	if dir == "" {
		dir = "."
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("watch %s: inotify: %w", r.Path, err)
	}
	const mask = unix.IN_CLOSE_WRITE | unix.IN_MOVED_TO | unix.IN_CREATE | unix.IN_DELETE | unix.IN_MOVED_FROM
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		unix.Close(fd)
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	// os.File puts the non-blocking fd on the runtime poller, so Close
	// below unblocks the reader.
	f := os.NewFile(uintptr(fd), "inotify")
	go func() { <-ctx.Done(); f.Close() }()

	changed := make(chan struct{}, 1)
	go func() {
		buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
		for {
			n, err := f.Read(buf)
			if err != nil {
				if !errors.Is(err, os.ErrClosed) {
					r.Log.Error("policy file watcher stopped", "file", r.Path, "err", err)
				}
				close(changed)
				return
			}
			if touches(buf[:n], base) {
				select {
				case changed <- struct{}{}:
				default:
				}
			}
		}
	}()

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
			if _, err := os.Stat(r.Path); err != nil {
				r.Log.Warn("policy file is gone; the running policy stays in force", "file", r.Path, "err", err)
				continue
			}
			r.Reload("file-change")
		case <-ctx.Done():
			return nil
		}
	}
}

// touches reports whether any inotify event in b names the file base.
func touches(b []byte, base string) bool {
	for len(b) >= unix.SizeofInotifyEvent {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
		end := unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(b) {
			return false
		}
		name := b[unix.SizeofInotifyEvent:end]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		if string(name) == base {
			return true
		}
		b = b[end:]
	}
	return false
}
