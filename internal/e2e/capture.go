package e2e

import (
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	"github.com/conduit-ot/conduit/internal/plant"
)

// Capture is a packet capture (tcpdump, dumpcap) running in the firewall
// namespace.
type Capture struct {
	bg   *Background
	errb SyncBuffer
}

// StartCapture runs prog with args in the firewall namespace and returns
// once its stderr says ready ("listening" for tcpdump, "Capturing on" for
// dumpcap). dumpcap says so before it opens the interface: a test that
// must not miss the first frames waits for the socket too (CapturingOn).
// The test's end stops it.
func (r *Rig) StartCapture(ready, prog string, args ...string) *Capture {
	r.T.Helper()
	return r.StartCaptureIn(r.P.FW, nil, ready, prog, args...)
}

// StartCaptureIn is StartCapture in namespace ns, with the tool's stdout
// to out (nil discards it).
func (r *Rig) StartCaptureIn(ns string, out io.Writer, ready, prog string, args ...string) *Capture {
	r.T.Helper()
	c := &Capture{}
	cmd := plant.NSCmd(ns, prog, args...)
	cmd.Stdout, cmd.Stderr = out, &c.errb
	var err error
	// The capture tool writes what it holds when interrupted, as by a user.
	if c.bg, err = startBackground(r.T, cmd, syscall.SIGINT, 5*time.Second); err != nil {
		r.T.Fatalf("%s: %v", prog, err)
	}
	WaitOutput(r.T, &c.errb, ready, prog+" did not start", 10*time.Second)
	return c
}

// Stop lets the last packets reach the file, interrupts the capture
// and returns how it ended, with its stderr when it failed; a second Stop
// returns the same.
func (c *Capture) Stop() error {
	select {
	case <-c.bg.done:
	default:
		time.Sleep(100 * time.Millisecond)
	}
	if err := c.bg.Stop(); err != nil {
		return fmt.Errorf("%w: %s", err, c.errb.String())
	}
	return nil
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
