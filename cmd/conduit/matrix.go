package main

// The inline daemon's live matrix: conduit run keeps the communication
// matrix with health figures that conduit observe keeps, so that after
// insertion its own matrix can be diffed against the sensor's baseline.
// The queue readers must not wait for it: each copies its packets into a
// fixed ring of its own, and one goroutine moves them into the matrix,
// off the verdict path. A full ring drops the copy (never the packet) and
// counts it.

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/learn"
)

const (
	feedSlots    = 2048 // per queue; a power of two
	feedSlotSize = 2048 // bytes; a longer packet (a GRO super-packet) is counted, not copied
	feedIdle     = 5 * time.Millisecond
)

// liveFeed is one ring per queue, single producer (the queue's reader)
// and single consumer (drain).
type liveFeed struct {
	rings []feedRing
	live  *learn.Live
	stop  func() // ends drain after a last pass
	// kernel carries the fast path's counts from the sweep (which holds
	// a connection-table shard lock and must not wait for the matrix).
	kernel      chan kernelCount
	kernelDrops atomic.Uint64
}

type kernelCount struct {
	k              conntrack.Key
	packets, bytes [2]uint64
	ts             int64
}

type feedRing struct {
	head  atomic.Uint64 // next slot the consumer reads
	_     [56]byte
	tail  atomic.Uint64 // next slot the producer writes
	drops atomic.Uint64 // copies dropped: ring full or packet too long
	_     [48]byte
	slots *[feedSlots]feedSlot
}

type feedSlot struct {
	ts   int64
	n    int
	data [feedSlotSize]byte
}

func newLiveFeed(workers int, live *learn.Live) *liveFeed {
	f := &liveFeed{rings: make([]feedRing, workers), live: live, kernel: make(chan kernelCount, 4096)}
	for i := range f.rings {
		f.rings[i].slots = new([feedSlots]feedSlot)
	}
	return f
}

// push copies packet b of queue i, seen at ts, into its ring: no lock, no
// allocation, never a wait.
func (f *liveFeed) push(i int, ts int64, b []byte) {
	r := &f.rings[i%len(f.rings)]
	t := r.tail.Load()
	if len(b) > feedSlotSize || t-r.head.Load() >= feedSlots {
		r.drops.Add(1)
		return
	}
	s := &r.slots[t%feedSlots]
	s.ts, s.n = ts, copy(s.data[:], b)
	r.tail.Store(t + 1)
}

// counted is the engine's OnKernelCounts: what the kernel forwarded of
// a flow on the fast path, for the matrix's counts.
func (f *liveFeed) counted(k conntrack.Key, packets, bytes [2]uint64, ts int64) {
	select {
	case f.kernel <- kernelCount{k, packets, bytes, ts}:
	default:
		f.kernelDrops.Add(1)
	}
}

// drain moves the rings' packets into the matrix until ctx ends, then
// takes what is left.
func (f *liveFeed) drain(ctx context.Context) {
	for {
		moved := f.drainOnce()
		if ctx.Err() != nil {
			f.drainOnce()
			return
		}
		if moved == 0 {
			select {
			case <-ctx.Done():
			case <-time.After(feedIdle):
			}
		}
	}
}

// drainOnce moves what the rings hold now; it returns how many packets.
func (f *liveFeed) drainOnce() int {
	moved := 0
	for i := range f.rings {
		r := &f.rings[i]
		h, t := r.head.Load(), r.tail.Load()
		for ; h < t; h++ {
			s := &r.slots[h%feedSlots]
			f.live.Packet(i, s.ts, s.data[:s.n])
			moved++
		}
		r.head.Store(h)
	}
	for {
		select {
		case c := <-f.kernel:
			k := learn.ServiceKey{Client: c.k.Src, Server: c.k.Dst, Proto: c.k.Proto, Port: c.k.DstPort}
			f.live.Counted(k, c.k.SrcPort, c.packets, c.bytes, c.ts)
			moved++
		default:
			return moved
		}
	}
}

// dropped is how many packet copies the matrix missed.
func (f *liveFeed) dropped() uint64 {
	var n uint64
	for i := range f.rings {
		n += f.rings[i].drops.Load()
	}
	return n + f.kernelDrops.Load()
}

// startLive gives the inline daemon its live matrix, restored from
// o.matrixState, and starts the goroutine that feeds it; the returned
// feed's push is the engine's OnPacket.
func (o *ops) startLive(workers int) *liveFeed {
	o.live = learn.NewLive(1) // one consumer: one shard
	o.liveSince = time.Now()
	o.loadMatrix()
	o.feed = newLiveFeed(workers, o.live)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); o.feed.drain(ctx) }()
	o.feed.stop = func() { cancel(); <-done }
	return o.feed
}

// stopLive moves the last copies into the matrix, before it is saved.
func (o *ops) stopLive() {
	if o.feed != nil {
		o.feed.stop()
	}
}
