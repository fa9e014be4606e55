package plant

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Do runs fn on an OS thread switched into namespace ns, then switches the
// thread back. Sockets created by fn stay in ns after Do returns, so a test
// can open a listener or dial from a zone host without a subprocess. fn
// must not rely on goroutines it starts being in ns.
func (p *Plant) Do(ns string, fn func() error) error { return Do(ns, fn) }

// Do is Plant.Do for any named namespace.
func Do(ns string, fn func() error) error {
	target, err := os.Open(netnsDir + "/" + ns)
	if err != nil {
		return fmt.Errorf("netns %s: %w", ns, err)
	}
	defer target.Close()

	runtime.LockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns %s: own namespace: %w", ns, err)
	}
	defer orig.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns %s: setns: %w", ns, err)
	}
	ferr := fn()
	if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
		// Leave the thread locked: the runtime discards it when this
		// goroutine ends instead of reusing a thread in the wrong namespace.
		return errors.Join(ferr, fmt.Errorf("netns %s: switch back: %w", ns, err))
	}
	runtime.UnlockOSThread()
	return ferr
}
