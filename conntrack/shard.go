package conntrack

import "sync"

// Shard is one partition of the table, owned on the packet path by one queue
// reader. Every method except Lock and Unlock requires the shard to be locked.
type Shard struct {
	mu       sync.Mutex
	t        *Table
	index    map[flowKey]*Flow // canonical key → flow in the arena
	lens     [NumClasses]int32 // flows per class
	timeouts Timeouts          // the table's, copied next to the hot fields; SetTimeouts replaces it under mu
	arena    arena
	cap      int

	idx    uint64 // shard index, for IDs
	nextID uint64 // flows created by this shard

	// pending holds events raised under the lock; Unlock delivers them
	// after releasing it so that OnEvent never runs under a shard lock.
	pending []Event

	// counters, guarded by mu
	inserts, expired, removed uint64
	evictions                 [NumClasses]uint64

	_ [64]byte // keep neighbouring shards' hot fields off this cache line
}

func newShard(t *Table, idx, capacity int) *Shard {
	s := &Shard{t: t, timeouts: *t.timeouts.Load(), index: make(map[flowKey]*Flow, min(capacity, maxChunk)),
		arena: newArena(capacity), cap: capacity, idx: uint64(idx)}
	s.initLists()
	return s
}

// Lock locks the shard.
func (s *Shard) Lock() { s.mu.Lock() }

// Unlock unlocks the shard, then delivers the events raised while it was
// locked to Config.OnEvent on the calling goroutine.
func (s *Shard) Unlock() {
	if len(s.pending) == 0 {
		s.mu.Unlock()
		return
	}
	evs := s.pending
	s.pending = nil
	s.mu.Unlock()
	for i := range evs {
		s.t.onEvent(evs[i])
	}
	// Hand the buffer back for reuse if that costs no waiting; otherwise
	// let it go and the next event allocates a new one.
	if s.mu.TryLock() {
		if s.pending == nil {
			s.pending = evs[:0]
		}
		s.mu.Unlock()
	}
}

// Len is the number of flows in the shard.
func (s *Shard) Len() int { return len(s.index) }

// Capacity is the shard's share of the table capacity.
func (s *Shard) Capacity() int { return s.cap }

// Lookup finds the flow of a packet with key k, as the original direction
// (k) or the reply direction (k.Reverse()) — in one map probe, as both
// directions share a canonical map key. A flow found idle beyond its timeout
// is expired (flow_end event) and nil is returned. A hit makes the flow the
// most recently seen of its class.
func (s *Shard) Lookup(k Key, now int64) (*Flow, Dir) {
	ck, swapped := canon(k)
	f, ok := s.index[ck]
	if !ok {
		return nil, DirOriginal
	}
	if f.Expired(now, &s.timeouts) {
		s.drop(f, ck)
		s.expired++
		s.end(f, EventFlowEnd, expiryReason(f), now)
		return nil, DirOriginal
	}
	s.touch(f.slot)
	if swapped != (f.flags&keySwapped != 0) {
		return f, DirReply
	}
	return f, DirOriginal
}

// Insert creates a flow whose original direction is k, in StateNew with no
// packets counted (call Update for the packet, and Reclassify once its
// decision is cached). When the shard is full, makeRoom ends one flow
// first. An existing flow with the same key in either direction is ended
// first (flow_end, reason "replaced"). Insert never blocks.
func (s *Shard) Insert(k Key, now int64) *Flow {
	ck, swapped := canon(k)
	if old, ok := s.index[ck]; ok {
		s.drop(old, ck)
		s.removed++
		s.end(old, EventFlowEnd, ReasonReplaced, now)
	}
	if len(s.index) >= s.cap {
		s.makeRoom(now)
	}
	f := s.arena.get()
	f.Key = k
	f.ID = s.nextID*uint64(len(s.t.shards)) + s.idx + 1
	s.nextID++
	f.Created, f.LastSeen = now, now
	if swapped {
		f.flags = keySwapped
	}
	s.index[ck] = f
	s.pushBack(linkOf(f.slot), f.Class())
	s.inserts++
	s.t.added(s, now)
	return f
}

// makeRoom ends one flow of a full shard. An expired flow goes first (a
// flow_end, not an eviction): the least recently seen of each class is the
// one most likely to have timed out. (Timeouts differ by protocol and rule
// within a class, so one further in may have timed out first; Sweep, every
// second in the daemon, reclaims those.) Otherwise the least recently seen
// flow of the lowest class that has one is evicted.
func (s *Shard) makeRoom(now int64) {
	for c := range Class(NumClasses) {
		if f := s.oldest(c); f != nil && f.Expired(now, &s.timeouts) {
			s.expire(f, now)
			return
		}
	}
	for c := range Class(NumClasses) {
		if f := s.oldest(c); f != nil {
			ck, _ := canon(f.Key)
			s.drop(f, ck)
			s.evictions[c]++
			s.end(f, EventEviction, ReasonCapacity, now)
			return
		}
	}
}

// Update accounts one packet of bytes (IP length) in direction d at now:
// counters, LastSeen, MaxGap and, for TCP, the state machine driven by the
// raw TCP flags byte. A change of state that changes f's class moves it to
// that class's list.
func (s *Shard) Update(f *Flow, d Dir, tcpFlags uint8, bytes int, now int64) {
	if gap := now - f.LastSeen; gap > f.MaxGap {
		f.MaxGap = gap
	}
	if now > f.LastSeen { // capture timestamps may step back; never age a flow backwards
		f.LastSeen = now
	}
	d &= 1
	f.Packets[d]++
	f.Bytes[d] += uint64(bytes)
	was := f.State
	if f.Key.Proto == ProtoTCP {
		tcpTransition(f, d, tcpFlags)
	} else if d == DirReply && f.State == StateNew {
		f.State = StateEstablished
	}
	if f.State != was {
		s.reclass(f)
	}
}

// Reclassify moves f to the eviction class its fields now say (Class). The
// engine calls it after caching a decision (f.Allowed) or setting f.State
// itself; Update does it for the state changes it makes. A flow that is no
// longer in the shard is ignored.
func (s *Shard) Reclassify(f *Flow) {
	if s.live(f) {
		s.reclass(f)
	}
}

// live reports whether f is a flow of this shard now (not ended, not a
// stale pointer to a recycled slot's previous flow).
func (s *Shard) live(f *Flow) bool {
	if f == nil || f.ID == 0 || f.slot < 0 || f.slot >= s.arena.used {
		return false
	}
	return s.arena.at(f.slot) == f
}

// Remove ends f with reason "removed" (flow_end event).
func (s *Shard) Remove(f *Flow) { s.RemoveReason(f, ReasonRemoved) }

// RemoveReason ends f with a flow_end event carrying reason. A flow that is
// no longer in the shard (already expired or evicted) is ignored.
func (s *Shard) RemoveReason(f *Flow, reason string) {
	if !s.live(f) {
		return
	}
	ck, _ := canon(f.Key)
	s.drop(f, ck)
	s.removed++
	s.end(f, EventFlowEnd, reason, s.eventTime(f))
}

// eventTime is the event timestamp for removals, which take no clock: the
// later of the table clock and the flow's last packet (replay clocks may
// differ from the configured one).
func (s *Shard) eventTime(f *Flow) int64 {
	return max(s.t.now(), f.LastSeen)
}

// expire removes a flow found idle beyond its timeout.
func (s *Shard) expire(f *Flow, now int64) {
	ck, _ := canon(f.Key)
	s.drop(f, ck)
	s.expired++
	s.end(f, EventFlowEnd, expiryReason(f), now)
}

func expiryReason(f *Flow) string {
	if f.Key.Proto == ProtoTCP {
		switch f.State {
		case StateSynSent, StateSynRecv:
			return ReasonHandshake
		case StateClosing, StateClosed:
			return ReasonClosed
		}
	}
	return ReasonIdle
}

// drop takes f (canonical key ck) out of the index and its class list; end
// then reports and recycles it.
func (s *Shard) drop(f *Flow, ck flowKey) {
	delete(s.index, ck)
	s.unlink(linkOf(f.slot))
}

// end emits the event for a dropped flow and recycles its storage.
func (s *Shard) end(f *Flow, kind EventKind, reason string, now int64) {
	if s.t.onEvent != nil {
		s.pending = append(s.pending, Event{Kind: kind, Flow: *f, Class: s.classOf(f), Idle: f.Idle(now), Reason: reason, At: now})
	}
	s.arena.put(f)
	s.t.removedOne(s, now)
}
