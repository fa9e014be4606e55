package conntrack

import (
	"cmp"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// model is an obviously-correct reference for one shard: one slice of all
// flows in least-recently-seen order, searched linearly. At capacity it
// ends the oldest flow of the first class (in class order) whose oldest
// flow has expired, and otherwise evicts the oldest flow of the lowest
// class present. It keeps each flow as a Flow only to reuse what the shard
// does not decide: the TCP state machine (state_test.go), the timeouts
// (Expired) and Class (TestClass).
type model struct {
	cap   int
	to    Timeouts
	flows []Flow // index 0 = least recently seen
	evict [NumClasses]uint64
}

type modelEvent struct {
	kind  EventKind
	key   Key
	class Class
}

func (m *model) find(k Key) int {
	for i, f := range m.flows {
		if f.Key == k || f.Key == k.Reverse() {
			return i
		}
	}
	return -1
}

func (m *model) take(i int) Flow {
	f := m.flows[i]
	m.flows = append(m.flows[:i], m.flows[i+1:]...)
	return f
}

// oldest is the index of the least recently seen flow of class c, or -1.
func (m *model) oldest(c Class) int {
	return slices.IndexFunc(m.flows, func(f Flow) bool { return f.Class() == c })
}

func modelUpdate(f *Flow, d Dir, flags uint8, now int64) {
	f.LastSeen = max(f.LastSeen, now)
	if f.Key.Proto == ProtoTCP {
		tcpTransition(f, d, flags)
	} else if d == DirReply {
		f.State = StateEstablished
	}
}

// packet is a packet of k; a new flow gets the decision allowed.
func (m *model) packet(k Key, flags uint8, allowed bool, now int64) []modelEvent {
	var evs []modelEvent
	if i := m.find(k); i >= 0 {
		f := m.take(i)
		if !f.Expired(now, &m.to) {
			d := DirOriginal
			if f.Key != k {
				d = DirReply
			}
			modelUpdate(&f, d, flags, now)
			m.flows = append(m.flows, f)
			return nil
		}
		evs = append(evs, modelEvent{EventFlowEnd, f.Key, f.Class()})
	}
	if len(m.flows) == m.cap {
		evs = append(evs, m.makeRoom(now))
	}
	f := Flow{Key: k, LastSeen: now, Allowed: allowed}
	modelUpdate(&f, DirOriginal, flags, now)
	m.flows = append(m.flows, f)
	return evs
}

func (m *model) makeRoom(now int64) modelEvent {
	for c := range Class(NumClasses) {
		if i := m.oldest(c); i >= 0 && m.flows[i].Expired(now, &m.to) {
			return modelEvent{EventFlowEnd, m.take(i).Key, c}
		}
	}
	for c := range Class(NumClasses) {
		if i := m.oldest(c); i >= 0 {
			m.evict[c]++
			return modelEvent{EventEviction, m.take(i).Key, c}
		}
	}
	panic("makeRoom on an empty model")
}

// toggle flips the decision of k's flow, as a reload that re-decides it.
func (m *model) toggle(k Key) bool {
	i := m.find(k)
	if i < 0 {
		return false
	}
	f := m.take(i)
	f.Allowed = !f.Allowed // the class always changes: to or from denied
	m.flows = append(m.flows, f)
	return true
}

func (m *model) sweep(now int64) []modelEvent {
	var evs []modelEvent
	kept := m.flows[:0]
	for _, f := range m.flows {
		if f.Expired(now, &m.to) {
			evs = append(evs, modelEvent{EventFlowEnd, f.Key, f.Class()})
		} else {
			kept = append(kept, f)
		}
	}
	m.flows = kept
	return evs
}

// modelKey is key j of the model's 16: UDP for j < 8, TCP above; a third
// of them denied.
func modelKey(j int) (Key, bool) {
	k := udpKey("10.0.0.1", "10.0.0.2", uint16(j+1), 53)
	if j >= 8 {
		k = tcpKey("10.0.0.1", "10.0.0.2", uint16(j+1), 502)
	}
	return k, j%3 != 0
}

var modelFlags = [8]uint8{syn, synack, ack, psh, fin, rst, ack, psh}

// runModel interprets prog as operations, applies them to a real shard and
// to the model, and compares events and the order of every class list
// after every step.
func runModel(t *testing.T, prog []byte) {
	const capacity = 8
	to := Timeouts{UDP: 10 * time.Second, TCPHandshake: 5 * time.Second, TCPEstablished: 20 * time.Second, TCPClosing: 8 * time.Second}
	var evs []Event
	tab := New(Config{Capacity: capacity, Timeouts: to, Now: func() int64 { return 0 }, OnEvent: func(e Event) {
		if e.Kind == EventFlowEnd || e.Kind == EventEviction {
			evs = append(evs, e)
		}
	}})
	s := tab.Shard(0)
	m := &model{cap: capacity, to: tab.Timeouts()}
	now := int64(0)
	for len(prog) >= 2 {
		op, arg := prog[0], prog[1]
		prog = prog[2:]
		now += int64(arg&0x0f) * int64(time.Second)
		k, allowed := modelKey(int(op>>3) % 16)
		var want []modelEvent
		switch op % 8 {
		case 7:
			want = m.sweep(now)
			tab.Sweep(now)
		case 6:
			// A new decision for a tracked flow, without a packet.
			if m.toggle(k) {
				s.Lock()
				f := s.index[must(canon(k))]
				f.Allowed = !f.Allowed
				s.Reclassify(f)
				s.Unlock()
			}
		default:
			if arg&0x10 != 0 {
				k = k.Reverse()
			}
			flags := modelFlags[arg>>5]
			want = m.packet(k, flags, allowed, now)
			s.Lock()
			f, d := s.Lookup(k, now)
			if f == nil {
				f, d = s.Insert(k, now), DirOriginal
				f.Allowed = allowed // the engine's decision
				s.Reclassify(f)
			}
			s.Update(f, d, flags, 60, now)
			s.Unlock()
		}
		if op%8 == 7 { // Sweep walks storage order, not LRU order
			slices.SortFunc(evs, func(a, b Event) int { return cmp.Compare(a.Flow.Key.String(), b.Flow.Key.String()) })
			slices.SortFunc(want, func(a, b modelEvent) int { return cmp.Compare(a.key.String(), b.key.String()) })
		}
		if len(evs) != len(want) {
			t.Fatalf("at %v: events %d, model %d (%+v vs %+v)", time.Duration(now), len(evs), len(want), evs, want)
		}
		for i := range want {
			if evs[i].Kind != want[i].kind || evs[i].Flow.Key != want[i].key || evs[i].Class != want[i].class {
				t.Fatalf("at %v: event %d = %v %v %v, model %v %v %v", time.Duration(now), i,
					evs[i].Kind, evs[i].Flow.Key, evs[i].Class, want[i].kind, want[i].key, want[i].class)
			}
		}
		evs = evs[:0]
		if s.Len() != len(m.flows) || tab.Len() != len(m.flows) {
			t.Fatalf("at %v: len %d/%d, model %d", time.Duration(now), s.Len(), tab.Len(), len(m.flows))
		}
		checkLists(t, s, m, now)
	}
	st := tab.Stats()
	if st.Inserts != st.Entries+st.Evictions+st.Expired+st.Removed {
		t.Fatalf("stats do not balance: %+v", st)
	}
	if st.EvictionsByClass != m.evict {
		t.Fatalf("evictions by class %v, model %v", st.EvictionsByClass, m.evict)
	}
}

// checkLists compares every class list of s, walked from its least recently
// seen flow, with the model's flows of that class in order.
func checkLists(t *testing.T, s *Shard, m *model, now int64) {
	t.Helper()
	for c := range Class(NumClasses) {
		var want []Flow
		for _, f := range m.flows {
			if f.Class() == c {
				want = append(want, f)
			}
		}
		n := 0
		ls := s.arena.links
		prev := int32(c)
		for i := ls[c].next; i != int32(c); i = ls[i].next {
			f := s.arena.at(i - int32(NumClasses))
			switch {
			case n >= len(want):
				t.Fatalf("at %v: class %v list longer than the model's %d", time.Duration(now), c, len(want))
			case f.Key != want[n].Key || f.LastSeen != want[n].LastSeen || f.State != want[n].State:
				t.Fatalf("at %v: class %v position %d is %v (seen %d, %v), model %v (seen %d, %v)", time.Duration(now), c, n,
					f.Key, f.LastSeen, f.State, want[n].Key, want[n].LastSeen, want[n].State)
			case ls[i].prev != prev || ls[i].class != c:
				t.Fatalf("at %v: class %v position %d: broken back link or class", time.Duration(now), c, n)
			}
			prev = i
			n++
		}
		if n != len(want) || ls[c].prev != prev || int(s.lens[c]) != n {
			t.Fatalf("at %v: class %v list has %d flows (len %d), model %d", time.Duration(now), c, n, s.lens[c], len(want))
		}
	}
}

func TestTableMatchesModel(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, seed))
		prog := make([]byte, 4000)
		for i := range prog {
			prog[i] = byte(r.Uint32())
		}
		runModel(t, prog)
	}
}

func FuzzTableModel(f *testing.F) {
	f.Add([]byte{0, 1, 8, 1, 16, 1, 24, 1, 7, 15})
	seed := make([]byte, 64)
	for i := range seed {
		binary.LittleEndian.PutUint16(seed[i&^1:], uint16(i*2654435761))
	}
	f.Add(seed)
	f.Fuzz(runModel)
}

func must(k flowKey, _ bool) flowKey { return k }
