package conntrack

import (
	"sync/atomic"
	"time"
)

// DefaultCapacity is the table size when Config.Capacity is 0.
const DefaultCapacity = 65536

// DefaultSweepBatch is how many flow slots Sweep examines per shard lock hold.
const DefaultSweepBatch = 256

// Config configures a Table. Zero values select defaults.
type Config struct {
	// Capacity is the total number of flows across shards; each shard gets
	// an equal share, at least 1. Default DefaultCapacity.
	Capacity int
	// Shards is the number of shards, one per queue reader. Default 1.
	Shards int
	// Timeouts; zero fields take DefaultTimeouts.
	Timeouts Timeouts
	// Now is the clock in ns. Default: wall-clock nanoseconds at New plus
	// monotonic time since, so NTP steps neither expire nor freeze flows.
	// Tests inject a fake clock; replay injects capture timestamps.
	Now func() int64
	// OnEvent receives flow_end, eviction and occupancy events. It runs on
	// the goroutine that unlocks the shard (the queue reader or the
	// sweeper), after the lock is released; it should be quick (log, count,
	// or a non-blocking send). May be nil.
	OnEvent func(Event)
	// SweepBatch bounds the work Sweep does per shard lock hold.
	// Default DefaultSweepBatch.
	SweepBatch int
}

// Table is a sharded, fixed-capacity connection table.
type Table struct {
	shards     []*Shard
	timeouts   atomic.Pointer[Timeouts] // for readers; each shard keeps its own copy
	now        func() int64
	onEvent    func(Event)
	capacity   int
	sweepBatch int

	// Occupancy is tracked table-wide to report 90% crossings; it is only
	// touched when a flow is created or ends, never for existing flows.
	entries           atomic.Int64
	high              atomic.Bool
	highMark, lowMark int64
	highCrossings     atomic.Uint64
}

// New creates a table.
func New(cfg Config) *Table {
	n := max(cfg.Shards, 1)
	capacity := cfg.Capacity
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	per := max(capacity/n, 1)
	t := &Table{
		now:        cfg.Now,
		onEvent:    cfg.OnEvent,
		sweepBatch: cfg.SweepBatch,
		shards:     make([]*Shard, n),
	}
	to := cfg.Timeouts.withDefaults()
	t.timeouts.Store(&to)
	if t.now == nil {
		start := time.Now()
		base := start.UnixNano()
		t.now = func() int64 { return base + int64(time.Since(start)) }
	}
	if t.sweepBatch <= 0 {
		t.sweepBatch = DefaultSweepBatch
	}
	for i := range t.shards {
		c := per
		if i < capacity%n && capacity >= n { // spread the remainder
			c++
		}
		t.shards[i] = newShard(t, i, c)
		t.capacity += c
	}
	t.highMark = int64((t.capacity*9 + 9) / 10)
	t.lowMark = int64(t.capacity * 8 / 10)
	return t
}

// Shard returns shard i (0 <= i < Shards).
func (t *Table) Shard(i int) *Shard { return t.shards[i] }

// Shards is the number of shards.
func (t *Table) Shards() int { return len(t.shards) }

// Now reads the table's clock.
func (t *Table) Now() int64 { return t.now() }

// Timeouts returns the effective timeouts (defaults filled in).
func (t *Table) Timeouts() Timeouts { return *t.timeouts.Load() }

// SetTimeouts replaces the timeouts (zero fields take the defaults), for a
// reload: every flow is judged by them from its next lookup or sweep on.
func (t *Table) SetTimeouts(to Timeouts) {
	to = to.withDefaults()
	t.timeouts.Store(&to)
	for _, s := range t.shards {
		s.Lock()
		s.timeouts = to
		s.Unlock()
	}
}

// Len is the number of flows in the table.
func (t *Table) Len() int { return int(t.entries.Load()) }

// Capacity is the total capacity (sum of shard capacities).
func (t *Table) Capacity() int { return t.capacity }

// added and removedOne maintain the occupancy count and raise an event on
// the shard that crossed a mark. They run under s's lock.
func (t *Table) added(s *Shard, now int64) {
	n := t.entries.Add(1)
	if n >= t.highMark && !t.high.Load() && t.high.CompareAndSwap(false, true) {
		t.highCrossings.Add(1)
		s.occupancyEvent(EventOccupancyHigh, n, now)
	}
}

func (t *Table) removedOne(s *Shard, now int64) {
	n := t.entries.Add(-1)
	if n < t.lowMark && t.high.Load() && t.high.CompareAndSwap(true, false) {
		s.occupancyEvent(EventOccupancyNormal, n, now)
	}
}

func (s *Shard) occupancyEvent(kind EventKind, n int64, now int64) {
	if s.t.onEvent != nil {
		s.pending = append(s.pending, Event{Kind: kind, Reason: ReasonOccupancy, At: now, Entries: int(n), Capacity: s.t.capacity})
	}
}

// Stats are table counters since New.
type Stats struct {
	Entries, Capacity uint64
	Inserts           uint64
	Evictions         uint64 // flows pushed out by a full shard
	// EvictionsByClass splits Evictions by the evicted flow's Class.
	EvictionsByClass [NumClasses]uint64
	// EntriesByClass splits Entries by Class.
	EntriesByClass [NumClasses]uint64
	Expired        uint64 // flows ended by their idle/handshake/close timeout
	Removed        uint64 // flows ended by Remove or replaced by Insert
	// HighOccupancy is true between an EventOccupancyHigh and the next
	// EventOccupancyNormal; HighCrossings counts the former.
	HighOccupancy bool
	HighCrossings uint64
}

// Stats sums the shard counters, holding each shard lock briefly.
func (t *Table) Stats() Stats {
	st := Stats{Capacity: uint64(t.capacity)}
	for _, s := range t.shards {
		s.Lock()
		st.Entries += uint64(len(s.index))
		st.Inserts += s.inserts
		for c := range NumClasses {
			st.Evictions += s.evictions[c]
			st.EvictionsByClass[c] += s.evictions[c]
			st.EntriesByClass[c] += uint64(s.lens[c])
		}
		st.Expired += s.expired
		st.Removed += s.removed
		s.Unlock()
	}
	st.HighOccupancy = t.high.Load()
	st.HighCrossings = t.highCrossings.Load()
	return st
}

// Sweep expires idle flows in every shard and returns how many it expired.
// It examines at most Config.SweepBatch slots per shard lock hold, so the
// queue reader waits at most one batch; events are delivered between batches.
func (t *Table) Sweep(now int64) int {
	n := 0
	for _, s := range t.shards {
		for start := int32(0); ; start += int32(t.sweepBatch) {
			s.Lock()
			end := min(start+int32(t.sweepBatch), s.arena.used)
			for i := start; i < end; i++ {
				if f := s.arena.at(i); f.ID != 0 && f.Expired(now, &s.timeouts) {
					s.expire(f, now)
					n++
				}
			}
			s.Unlock()
			if end < start+int32(t.sweepBatch) {
				break
			}
		}
	}
	return n
}

// Snapshot calls fn with a copy of every flow until fn returns false. Flows
// are copied in batches under each shard lock and fn runs with no lock held,
// so a slow reader never stalls the packet path. The result is not an atomic
// picture of the table: flows may come and go between batches.
func (t *Table) Snapshot(fn func(Flow) bool) {
	buf := make([]Flow, 0, t.sweepBatch)
	for _, s := range t.shards {
		for start := int32(0); ; start += int32(t.sweepBatch) {
			buf = buf[:0]
			s.Lock()
			end := min(start+int32(t.sweepBatch), s.arena.used)
			for i := start; i < end; i++ {
				if f := s.arena.at(i); f.ID != 0 {
					buf = append(buf, *f)
				}
			}
			s.Unlock()
			for i := range buf {
				if !fn(buf[i]) {
					return
				}
			}
			if end < start+int32(t.sweepBatch) {
				break
			}
		}
	}
}
