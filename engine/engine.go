package engine

import (
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/engine/inspect"
	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/rules"
)

// Config assembles an Engine.
type Config struct {
	Store   *inforce.Store
	Workers int          // one per queue; default 1
	Log     *slog.Logger // operational and event log
	// Now is the clock in ns; default monotonic wall-clock. Replay passes
	// capture timestamps.
	Now func() int64
	// EventBuffer bounds the events waiting for the log writer; default 65536.
	EventBuffer int
	// OnRequest, when set, is told every request the protocol inspection
	// judges and why it could not judge a packet (observe.go), on the
	// worker's goroutine, under its shard lock. For offline tools (conduit
	// learn); the daemon leaves it nil.
	OnRequest func(RequestSeen)
	// OnPacket, when set, sees every queued packet Serve reads, on
	// the queue's goroutine, with the batch's receive time (ns). It must
	// neither block nor keep b (the daemon copies it to a ring: matrix.go).
	OnPacket func(worker int, ts int64, b []byte)
	// OnKernelCounts, when set, is told what the kernel's accounting
	// added to a flow on the fast path since the last sweep (per
	// direction: original, reply), at now, from the sweep's goroutine and
	// under the flow's shard lock: it must not block.
	OnKernelCounts func(k conntrack.Key, packets, bytes [2]uint64, now int64)
	// LargeBuffers bounds the large stream buffers each worker lends
	// (engine/inspect); default 64, at most 65535. An offline tool raises it so
	// that no PDU goes unparsed for want of one.
	LargeBuffers int
	// VerdictMark, when not 0, is set in the packet mark with every
	// verdict Serve gives (the other bits kept): a later nftables chain
	// counts the packets the kernel accepted without one.
	VerdictMark uint32
	// Interfaces lists the namespace's interfaces, to name the ports
	// packets come in on (zone bindings, in_port); default net.Interfaces.
	Interfaces func() ([]net.Interface, error)
}

// Engine decides packets. Create it with New, start its event writer with
// Run, and give each queue reader its own Worker.
type Engine struct {
	store   *inforce.Store
	ct      *conntrack.Table
	log     *slog.Logger
	now     func() int64
	events  chan event
	workers []*Worker
	reads   []readCounters // per queue, written by its Serve loop
	started time.Time

	onRequest   func(RequestSeen)
	onPacket    func(worker int, ts int64, b []byte)
	onKernel    func(k conntrack.Key, packets, bytes [2]uint64, now int64)
	verdictMark uint32
	kernel      kernelSide
	fp          *fastpath // nil: no fast path (fastpath.go)
	ports       portResolver
	l2seen      l2Seen // the log writer's: refused frames logged lately (layer2.go)

	logDropped atomic.Uint64
}

// New builds an engine whose connection table is sized by the policy in force.
func New(cfg Config) *Engine {
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.EventBuffer <= 0 {
		cfg.EventBuffer = 65536
	}
	if cfg.LargeBuffers <= 0 {
		cfg.LargeBuffers = inspect.MaxLarge
	}
	cfg.LargeBuffers = min(cfg.LargeBuffers, 1<<16-1) // a ref is a uint16
	if cfg.Now == nil {
		base, mono := time.Now().UnixNano(), time.Now()
		cfg.Now = func() int64 { return base + int64(time.Since(mono)) }
	}
	e := &Engine{
		store:   cfg.Store,
		log:     cfg.Log,
		now:     cfg.Now,
		events:  make(chan event, cfg.EventBuffer),
		started: time.Now(),
		reads:   make([]readCounters, cfg.Workers),

		onRequest:   cfg.OnRequest,
		onPacket:    cfg.OnPacket,
		onKernel:    cfg.OnKernelCounts,
		verdictMark: cfg.VerdictMark,
	}
	e.ports.list = cfg.Interfaces
	if e.ports.list == nil {
		e.ports.list = net.Interfaces
	}
	pol := cfg.Store.Load().Policy
	e.ct = conntrack.New(conntrack.Config{
		Capacity: pol.Conntrack.Capacity,
		Shards:   cfg.Workers,
		Timeouts: pol.Conntrack.Timeouts,
		Now:      cfg.Now,
		OnEvent:  e.onConntrack,
	})
	for i := range cfg.Workers {
		w := &Worker{e: e, idx: i, shard: e.ct.Shard(i), onRequest: e.onRequest}
		w.watch.w = w
		w.insp.Init(inspect.Config{Pkt: &w.pkt, Observer: &w.watch, Report: e.onRequest != nil,
			LargeBuffers: cfg.LargeBuffers, LineWindow: deniedWindow})
		e.workers = append(e.workers, w)
	}
	return e
}

// Worker returns the worker of queue index i (0-based within the range).
func (e *Engine) Worker(i int) *Worker { return e.workers[i] }

// Conntrack exposes the connection table (status, flows, sweeper).
func (e *Engine) Conntrack() *conntrack.Table { return e.ct }

// Now is the engine's clock.
func (e *Engine) Now() int64 { return e.now() }

// SetTimeouts applies a reloaded policy's conntrack.timeouts to the
// running table.
func (e *Engine) SetTimeouts(t rules.Timeouts) { e.ct.SetTimeouts(t) }

// Counters are verdict totals since start.
type Counters struct {
	Packets, Accepted, Dropped, WouldDrop uint64
	Malformed, Panics, Pickups            uint64
	LinkControl                           uint64 // IPv6 neighbour discovery and MLD, passed without rules
	Spoofed                               uint64 // source address of a zone bound to other ports or MACs
	LogDropped                            uint64
}

// Counters sums the workers' counters.
func (e *Engine) Counters() Counters {
	var c Counters
	for _, w := range e.workers {
		c.Packets += w.stats.packets.Load()
		c.Accepted += w.stats.accepted.Load()
		c.Dropped += w.stats.dropped.Load()
		c.WouldDrop += w.stats.wouldDrop.Load()
		c.Malformed += w.stats.malformed.Load()
		c.Panics += w.stats.panics.Load()
		c.Pickups += w.stats.pickups.Load()
		c.LinkControl += w.stats.linkControl.Load()
		c.Spoofed += w.stats.spoofed.Load()
	}
	c.LogDropped = e.logDropped.Load()
	return c
}
