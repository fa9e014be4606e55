package conntrack

import (
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Shard is one partition of the table, owned on the packet path by one queue
// reader. Every method except Lock and Unlock requires the shard to be locked.
type Shard struct {
	mu       sync.Mutex
	t        *Table
	lru      *simplelru.LRU[flowKey, *Flow]
	timeouts Timeouts // the table's, copied next to the hot fields; SetTimeouts replaces it under mu
	arena    arena
	cap      int

	idx    uint64 // shard index, for IDs
	nextID uint64 // flows created by this shard

	// pending holds events raised under the lock; Unlock delivers them
	// after releasing it so that OnEvent never runs under a shard lock.
	pending []Event

	// counters, guarded by mu
	inserts, evictions, expired, removed uint64

	_ [64]byte // keep neighbouring shards' hot fields off this cache line
}

func newShard(t *Table, idx, capacity int) *Shard {
	l, err := simplelru.NewLRU[flowKey, *Flow](capacity, nil)
	if err != nil {
		panic("conntrack: " + err.Error()) // capacity >= 1 is guaranteed by New
	}
	return &Shard{t: t, timeouts: *t.timeouts.Load(), lru: l, arena: newArena(capacity), cap: capacity, idx: uint64(idx)}
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
func (s *Shard) Len() int { return s.lru.Len() }

// Capacity is the shard's share of the table capacity.
func (s *Shard) Capacity() int { return s.cap }

// Lookup finds the flow of a packet with key k, as the original direction
// (k) or the reply direction (k.Reverse()) — in one map probe, as both
// directions share a canonical map key. A flow found idle beyond its timeout
// is expired (flow_end event) and nil is returned. A hit makes the flow the
// most recently used in the shard's LRU.
func (s *Shard) Lookup(k Key, now int64) (*Flow, Dir) {
	ck, swapped := canon(k)
	f, ok := s.lru.Get(ck)
	if !ok {
		return nil, DirOriginal
	}
	if f.Expired(now, &s.timeouts) {
		s.lru.Remove(ck)
		s.expired++
		s.end(f, EventFlowEnd, expiryReason(f), now)
		return nil, DirOriginal
	}
	if swapped != (f.flags&keySwapped != 0) {
		return f, DirReply
	}
	return f, DirOriginal
}

// Insert creates a flow whose original direction is k, in StateNew with no
// packets counted (call Update for the packet). When the shard is full the
// least recently seen flow makes room: an eviction event with its idle time,
// or a flow_end if it had already expired. An existing flow with the same key
// in either direction is ended first (flow_end, reason "replaced"). Insert
// never blocks.
func (s *Shard) Insert(k Key, now int64) *Flow {
	ck, swapped := canon(k)
	if old, ok := s.lru.Peek(ck); ok {
		s.lru.Remove(ck)
		s.removed++
		s.end(old, EventFlowEnd, ReasonReplaced, now)
	}
	if s.lru.Len() >= s.cap {
		_, old, _ := s.lru.RemoveOldest()
		if old.Expired(now, &s.timeouts) {
			s.expired++
			s.end(old, EventFlowEnd, expiryReason(old), now)
		} else {
			s.evictions++
			s.end(old, EventEviction, ReasonCapacity, now)
		}
	}
	f := s.arena.get()
	f.Key = k
	f.ID = s.nextID*uint64(len(s.t.shards)) + s.idx + 1
	s.nextID++
	f.Created, f.LastSeen = now, now
	if swapped {
		f.flags = keySwapped
	}
	s.lru.Add(ck, f)
	s.inserts++
	s.t.added(s, now)
	return f
}

// Update accounts one packet of bytes (IP length) in direction d at now:
// counters, LastSeen, MaxGap and, for TCP, the state machine driven by the
// raw TCP flags byte.
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
	if f.Key.Proto == ProtoTCP {
		tcpTransition(f, d, tcpFlags)
	} else if d == DirReply && f.State == StateNew {
		f.State = StateEstablished
	}
}

// Remove ends f with reason "removed" (flow_end event).
func (s *Shard) Remove(f *Flow) { s.RemoveReason(f, ReasonRemoved) }

// RemoveReason ends f with a flow_end event carrying reason. A flow that is
// no longer in the shard (already expired or evicted) is ignored.
func (s *Shard) RemoveReason(f *Flow, reason string) {
	if f == nil || f.ID == 0 {
		return
	}
	ck, _ := canon(f.Key)
	if cur, ok := s.lru.Peek(ck); !ok || cur != f {
		return
	}
	s.lru.Remove(ck)
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
	s.lru.Remove(ck)
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

// end emits the event for a flow already removed from the LRU and recycles
// its storage.
func (s *Shard) end(f *Flow, kind EventKind, reason string, now int64) {
	if s.t.onEvent != nil {
		s.pending = append(s.pending, Event{Kind: kind, Flow: *f, Idle: f.Idle(now), Reason: reason, At: now})
	}
	s.arena.put(f)
	s.t.removedOne(s, now)
}
