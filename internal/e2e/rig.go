package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/internal/plant"
	"github.com/conduit-ot/conduit/internal/plant/planttest"
)

// Timeouts of the e2e tests. A flow that should be dropped counts as
// blocked when no answer came within BlockTimeout; one that should pass
// gets PassTimeout, which only a failure waits out, so a loaded machine
// does not fail the test. Every wait for a log line or an exit has a
// deadline, so a broken daemon fails the test instead of hanging it.
const (
	BlockTimeout = 700 * time.Millisecond
	PassTimeout  = 3 * time.Second
	StartTimeout = 15 * time.Second // a race-enabled daemon starts slower
	EventTimeout = 5 * time.Second  // reload: debounce 250ms plus parse
	ExitTimeout  = 5 * time.Second
)

// Ports of the echo servers on the control host (the PLC).
const (
	PLCTCP = 502
	PLCUDP = 2222
)

// Rig is one test's plant with echo servers on the PLC and a directory
// for its policy file.
type Rig struct {
	T             testing.TB
	P             *plant.Plant
	Conduit, Peer string // the binaries
	Dir           string // the test's directory: policy, state, sockets
	Path          string // the policy file
}

// NewRig skips without root or iproute2 (or in -short mode), builds the
// binaries and a plant, starts the PLC's echo servers and checks that the
// kernel alone forwards flows the policy denies, so that a blocked probe
// later is conduit's doing.
func NewRig(t testing.TB) *Rig {
	t.Helper()
	if testing.Short() {
		t.Skip("netns end-to-end test: skipped in -short mode")
	}
	if why := plant.Available(); why != "" {
		t.Skipf("netns end-to-end tests of conduit run skipped: %s", why)
	}
	conduit, peer := Binaries(t)
	r := &Rig{T: t, P: planttest.New(t), Conduit: conduit, Peer: peer, Dir: t.TempDir()}
	r.Path = filepath.Join(r.Dir, "conduit.yaml")
	ctl := r.P.Host(plant.Control).NS
	// [::] is dual-stack: one server each answers IPv4 and IPv6.
	r.Server(ctl, "tcp-server", "-l", fmt.Sprintf("[::]:%d", PLCTCP), "-for", "5m")
	r.Server(ctl, "udp-server", "-l", fmt.Sprintf("[::]:%d", PLCUDP), "-for", "5m")
	r.WaitLocal(ctl, "tcp", fmt.Sprintf("127.0.0.1:%d", PLCTCP))
	r.WaitLocal(ctl, "udp", fmt.Sprintf("127.0.0.1:%d", PLCUDP))
	for _, f := range []Flow{EntTCP, OpsUDP} {
		if err := r.Probe(f, PassTimeout); err != nil {
			t.Fatalf("without conduit the kernel does not forward %s: %v", f.Desc, err)
		}
	}
	return r
}

// Socket is the control socket's path in the test's directory, for a
// policy whose daemon the test talks to with the client commands.
func (r *Rig) Socket() string { return filepath.Join(r.Dir, "conduit.sock") }

// Server runs a plantpeer server in ns until the test ends.
func (r *Rig) Server(ns string, args ...string) {
	r.T.Helper()
	cmd := plant.NSCmd(ns, r.Peer, args...)
	var errb SyncBuffer
	cmd.Stderr = &errb
	// Cleanups run last first: this one after the server stopped.
	r.T.Cleanup(func() {
		if s := errb.String(); s != "" {
			r.T.Logf("plantpeer %v stderr: %s", args, s)
		}
	})
	if _, err := StartBackground(r.T, cmd, 3*time.Second); err != nil {
		r.T.Fatalf("plantpeer %v: %v", args, err)
	}
}

// WaitLocal waits until a server answers inside its own namespace.
func (r *Rig) WaitLocal(ns, proto, addr string) {
	r.T.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := plant.NSCmd(ns, r.Peer, "probe", "-proto", proto, "-addr", addr, "-timeout", "200ms").CombinedOutput()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.T.Fatalf("%s server %s never answered: %v: %s", proto, addr, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
