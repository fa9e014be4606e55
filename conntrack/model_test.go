package conntrack

import (
	"cmp"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// model is an obviously-correct reference for one shard of UDP flows: a
// slice in least-recently-seen order.
type model struct {
	cap     int
	timeout int64
	flows   []modelFlow // index 0 = least recently seen
}

type modelFlow struct {
	key      Key
	lastSeen int64
}

type modelEvent struct {
	kind EventKind
	key  Key
}

func (m *model) find(k Key) int {
	for i, f := range m.flows {
		if f.key == k || f.key == k.Reverse() {
			return i
		}
	}
	return -1
}

func (m *model) take(i int) modelFlow {
	f := m.flows[i]
	m.flows = append(m.flows[:i], m.flows[i+1:]...)
	return f
}

func (m *model) packet(k Key, now int64) []modelEvent {
	var evs []modelEvent
	if i := m.find(k); i >= 0 {
		f := m.take(i)
		if now-f.lastSeen >= m.timeout {
			evs = append(evs, modelEvent{EventFlowEnd, f.key})
		} else {
			f.lastSeen = max(f.lastSeen, now)
			m.flows = append(m.flows, f)
			return nil
		}
	}
	if len(m.flows) == m.cap {
		f := m.take(0)
		kind := EventEviction
		if now-f.lastSeen >= m.timeout {
			kind = EventFlowEnd
		}
		evs = append(evs, modelEvent{kind, f.key})
	}
	m.flows = append(m.flows, modelFlow{k, now})
	return evs
}

func (m *model) sweep(now int64) []modelEvent {
	var evs []modelEvent
	kept := m.flows[:0]
	for _, f := range m.flows {
		if now-f.lastSeen >= m.timeout {
			evs = append(evs, modelEvent{EventFlowEnd, f.key})
		} else {
			kept = append(kept, f)
		}
	}
	m.flows = kept
	return evs
}

// runModel interprets prog as operations, applies them to a real shard and
// to the model, and compares events and contents after every step.
func runModel(t *testing.T, prog []byte) {
	const capacity = 8
	timeout := 10 * time.Second
	var evs []Event
	tab := New(Config{Capacity: capacity, Timeouts: Timeouts{UDP: timeout}, Now: func() int64 { return 0 }, OnEvent: func(e Event) {
		if e.Kind == EventFlowEnd || e.Kind == EventEviction {
			evs = append(evs, e)
		}
	}})
	s := tab.Shard(0)
	m := &model{cap: capacity, timeout: int64(timeout)}
	now := int64(0)
	for len(prog) >= 2 {
		op, arg := prog[0], prog[1]
		prog = prog[2:]
		now += int64(arg&0x0f) * int64(time.Second)
		var want []modelEvent
		switch op % 8 {
		case 7:
			want = m.sweep(now)
			tab.Sweep(now)
		default:
			// 16 keys; bit 4 of arg picks the reply direction.
			k := udpKey("10.0.0.1", "10.0.0.2", uint16(op>>3)%16+1, 53)
			if arg&0x10 != 0 {
				k = k.Reverse()
			}
			want = m.packet(k, now)
			packet(s, k, 0, 1, now)
		}
		if op%8 == 7 { // Sweep walks storage order, not LRU order
			slices.SortFunc(evs, func(a, b Event) int { return cmp.Compare(a.Flow.Key.String(), b.Flow.Key.String()) })
			slices.SortFunc(want, func(a, b modelEvent) int { return cmp.Compare(a.key.String(), b.key.String()) })
		}
		if len(evs) != len(want) {
			t.Fatalf("at %v: events %d, model %d (%+v vs %+v)", time.Duration(now), len(evs), len(want), evs, want)
		}
		for i := range want {
			if evs[i].Kind != want[i].kind || evs[i].Flow.Key != want[i].key {
				t.Fatalf("at %v: event %d = %v %v, model %v %v", time.Duration(now), i, evs[i].Kind, evs[i].Flow.Key, want[i].kind, want[i].key)
			}
		}
		evs = evs[:0]
		if s.Len() != len(m.flows) || tab.Len() != len(m.flows) {
			t.Fatalf("at %v: len %d/%d, model %d", time.Duration(now), s.Len(), tab.Len(), len(m.flows))
		}
		for _, f := range m.flows {
			if got, ok := s.lru.Peek(must(canon(f.key))); !ok || got.LastSeen != f.lastSeen {
				t.Fatalf("at %v: flow %v missing or lastSeen differs from model", time.Duration(now), f.key)
			}
		}
	}
	st := tab.Stats()
	if st.Inserts != st.Entries+st.Evictions+st.Expired+st.Removed {
		t.Fatalf("stats do not balance: %+v", st)
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
