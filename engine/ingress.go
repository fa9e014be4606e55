package engine

import (
	"fmt"
	"net"
	"slices"
	"sync/atomic"
	"time"

	"github.com/conduit-ot/conduit/rules"
)

// Ingress is where a packet came in: the bridge port (its ifindex; the
// in-device of a routed packet) and the source MAC. The zero value is
// unknown, and an unknown ingress is not checked against zone bindings
// (replay, observe).
type Ingress struct {
	Port   uint32 // ifindex, 0: unknown
	MAC    rules.MAC
	HasMAC bool
}

// portNames maps the ifindexes of the daemon's namespace to interface
// names. It is replaced whole, never changed, so readers need no lock.
type portNames struct {
	byIndex map[uint32]string
}

// portResolver names ingress ports for zone bindings and verdict lines.
// The policy names ports; the kernel gives ifindexes. The names of every
// interface in the namespace are read once, and again when a packet comes
// in on an index the map does not know or from a port its zone's binding
// does not name (a port created later, re-created with a new index, or
// renamed), at most once a second: the read allocates and costs a netlink
// dump, the lookup neither.
type portResolver struct {
	cur  atomic.Pointer[portNames]
	next atomic.Int64 // engine clock ns before which no read is tried
	list func() ([]net.Interface, error)
	// reads counts the reads, for tests.
	reads atomic.Uint64
}

// resolveEvery bounds how often a miss re-reads the interfaces.
const resolveEvery = int64(time.Second)

// name returns the name of the interface with index i.
func (r *portResolver) name(i uint32) (string, bool) {
	m := r.cur.Load()
	if m == nil {
		return "", false
	}
	n, ok := m.byIndex[i]
	return n, ok
}

// refresh re-reads the interface names unless that was done less than a
// second ago (by any worker), and reports whether it did.
func (r *portResolver) refresh(now int64) bool {
	next := r.next.Load()
	if now < next || !r.next.CompareAndSwap(next, now+resolveEvery) {
		return false
	}
	return r.read() == nil
}

// read reads the interface names now.
func (r *portResolver) read() error {
	ifs, err := r.list()
	if err != nil {
		return err
	}
	m := &portNames{byIndex: make(map[uint32]string, len(ifs))}
	for _, i := range ifs {
		m.byIndex[uint32(i.Index)] = i.Name
	}
	r.cur.Store(m)
	r.reads.Add(1)
	return nil
}

// ResolvePorts reads the names of the namespace's interfaces now, as the
// daemon does when a policy is loaded or swapped, and returns the ports
// pol's zones name that no interface has: their zones' packets are all
// spoofed-source until such a port appears (a typo, or a port not created
// yet).
func (e *Engine) ResolvePorts(pol *rules.Policy) (missing []string, err error) {
	if !pol.BindsPorts() {
		return nil, nil
	}
	if err := e.ports.read(); err != nil {
		return nil, fmt.Errorf("read interfaces: %w", err)
	}
	have := map[string]bool{}
	for _, n := range e.ports.cur.Load().byIndex {
		have[n] = true
	}
	for _, z := range pol.Zones {
		for _, p := range z.Ports {
			if !have[p] && !slices.Contains(missing, p) {
				missing = append(missing, p)
			}
		}
	}
	return missing, nil
}

// PortName returns the name of the interface with index ifindex in the
// daemon's namespace, as conduit last read it.
func (e *Engine) PortName(ifindex uint32) (string, bool) { return e.ports.name(ifindex) }
