package conntrack

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// fakeClock is an injectable clock.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) Now() int64              { return c.ns.Load() }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// recorder collects events; safe for concurrent use.
type recorder struct {
	mu  sync.Mutex
	evs []Event
}

func (r *recorder) add(e Event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
}

func (r *recorder) take() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.evs
	r.evs = nil
	return e
}

func (r *recorder) count(kind EventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.evs {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func tcpKey(src, dst string, sport, dport uint16) Key {
	return Key{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), SrcPort: sport, DstPort: dport, Proto: ProtoTCP}
}

func udpKey(src, dst string, sport, dport uint16) Key {
	k := tcpKey(src, dst, sport, dport)
	k.Proto = ProtoUDP
	return k
}

// nthKey is a distinct TCP key per n (IPv4 client address and port vary).
func nthKey(n int) Key {
	return Key{
		Src:     netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}),
		Dst:     netip.AddrFrom4([4]byte{10, 10, 0, 1}),
		SrcPort: uint16(1024 + n%50000),
		DstPort: 502,
		Proto:   ProtoTCP,
	}
}

// newTestTable builds a table on a fake clock with an event recorder.
func newTestTable(capacity, shards int, to Timeouts) (*Table, *fakeClock, *recorder) {
	clk := &fakeClock{}
	clk.ns.Store(int64(1_700_000_000 * time.Second))
	rec := &recorder{}
	t := New(Config{Capacity: capacity, Shards: shards, Timeouts: to, Now: clk.Now, OnEvent: rec.add})
	return t, clk, rec
}

// newTestShard is newTestTable with one shard and the default timeouts,
// the setup of most tests, and returns that shard too.
func newTestShard(capacity int) (*Table, *Shard, *fakeClock, *recorder) {
	t, clk, rec := newTestTable(capacity, 1, Timeouts{})
	return t, t.Shard(0), clk, rec
}

// packet runs the packet-path sequence for one packet: lookup, insert on
// miss, update. It returns the flow's ID and the packet's direction.
func packet(s *Shard, k Key, flags uint8, size int, now int64) (uint64, Dir) {
	s.Lock()
	defer s.Unlock()
	f, d := s.Lookup(k, now)
	if f == nil {
		f, d = s.Insert(k, now), DirOriginal
	}
	s.Update(f, d, flags, size, now)
	return f.ID, d
}

// lookupFlow returns a copy of the flow for k (and whether it exists).
func lookupFlow(s *Shard, k Key, now int64) (Flow, Dir, bool) {
	s.Lock()
	defer s.Unlock()
	f, d := s.Lookup(k, now)
	if f == nil {
		return Flow{}, d, false
	}
	return *f, d, true
}
