package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/conduit-ot/conduit/internal/plant"
)

// Capture is a packet capture (tcpdump, dumpcap) running in the firewall
// namespace.
type Capture struct {
	cmd  *exec.Cmd
	errb SyncBuffer
	done chan struct{}
	err  error
}

// StartCapture runs prog with args in the firewall namespace and returns
// once its stderr says ready ("listening" for tcpdump, "Capturing on" for
// dumpcap). dumpcap says so before it opens the interface: a test that
// must not miss the first frames waits for the socket too (CapturingOn).
// The test's end stops it.
func (r *Rig) StartCapture(ready, prog string, args ...string) *Capture {
	r.T.Helper()
	c := &Capture{cmd: plant.NSCmd(r.P.FW, prog, args...), done: make(chan struct{})}
	c.cmd.Stderr = &c.errb
	if err := c.cmd.Start(); err != nil {
		r.T.Fatalf("%s: %v", prog, err)
	}
	go func() { c.err = c.cmd.Wait(); close(c.done) }()
	r.T.Cleanup(func() { c.Stop() })
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(c.errb.String(), ready); {
		if time.Now().After(deadline) {
			r.T.Fatalf("%s did not start: %s", prog, c.errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c
}

// Stop lets the last packets reach the file, interrupts the capture as a
// user would (it then writes what it holds) and returns how it ended,
// with its stderr when it failed; a second Stop returns the same.
func (c *Capture) Stop() error {
	select {
	case <-c.done:
		return c.err
	default:
	}
	time.Sleep(100 * time.Millisecond)
	_ = c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	if c.err != nil {
		c.err = fmt.Errorf("%w: %s", c.err, c.errb.String())
	}
	return c.err
}

// CapturingOn waits until a packet socket in the firewall namespace is
// bound to port (/proc/net/packet lists it by interface index). A capture
// tool binds, then sets its filter, which drains what the socket held
// unfiltered: the short sleep after covers that step.
func (r *Rig) CapturingOn(port string) {
	r.T.Helper()
	out, err := plant.NSCmd(r.P.FW, "cat", "/sys/class/net/"+port+"/ifindex").Output()
	if err != nil {
		r.T.Fatalf("ifindex of %s: %v", port, err)
	}
	idx := strings.TrimSpace(string(out))
	for deadline := time.Now().Add(10 * time.Second); ; {
		out, err := plant.NSCmd(r.P.FW, "cat", "/proc/net/packet").Output()
		if err != nil {
			r.T.Fatalf("/proc/net/packet: %v", err)
		}
		for _, l := range strings.Split(string(out), "\n")[1:] {
			if f := strings.Fields(l); len(f) >= 5 && f[4] == idx {
				time.Sleep(50 * time.Millisecond)
				return
			}
		}
		if time.Now().After(deadline) {
			r.T.Fatalf("no capture socket on %s (ifindex %s) after 10s:\n%s", port, idx, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
