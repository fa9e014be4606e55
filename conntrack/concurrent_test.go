package conntrack

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestConcurrentShards runs one packet goroutine per shard, a sweeper, a
// Snapshot reader and a Stats reader at once (meant for -race), then checks
// that the books balance.
func TestConcurrentShards(t *testing.T) {
	const (
		shards   = 4
		capacity = 400 // 100 per shard, against 150 keys per shard: evictions
		packets  = 20000
	)
	clk := &fakeClock{}
	var flowEnds, evictions atomic.Int64
	tab := New(Config{
		Capacity: capacity, Shards: shards, SweepBatch: 16, Now: clk.Now,
		Timeouts: Timeouts{UDP: 200 * time.Millisecond, TCPHandshake: 200 * time.Millisecond, TCPClosing: 200 * time.Millisecond},
		OnEvent: func(e Event) {
			switch e.Kind {
			case EventFlowEnd:
				flowEnds.Add(1)
			case EventEviction:
				evictions.Add(1)
			}
		},
	})

	var readers sync.WaitGroup
	var workers sync.WaitGroup
	done := make(chan struct{})
	var bad atomic.Value // first invariant violation seen by a reader
	readers.Add(3)
	// until runs step in a loop of its own until done is closed.
	until := func(step func()) {
		go func() {
			defer readers.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				step()
			}
		}()
	}
	until(func() { // sweeper; also drives the clock
		clk.Advance(100 * time.Millisecond)
		tab.Sweep(clk.Now())
	})
	until(func() { // `conduit flows`
		ids := map[uint64]bool{}
		tab.Snapshot(func(f Flow) bool {
			if f.ID == 0 || ids[f.ID] || f.Packets[0]+f.Packets[1] == 0 || f.LastSeen < f.Created {
				bad.CompareAndSwap(nil, "snapshot saw an inconsistent flow")
			}
			ids[f.ID] = true
			return true
		})
		if len(ids) > capacity {
			bad.CompareAndSwap(nil, "snapshot larger than capacity")
		}
	})
	until(func() { // `conduit status`
		if st := tab.Stats(); st.Entries > capacity || tab.Len() > capacity {
			bad.CompareAndSwap(nil, "more entries than capacity")
		}
	})
	for q := 0; q < shards; q++ {
		workers.Add(1)
		go func(q int) {
			defer workers.Done()
			r := rand.New(rand.NewPCG(uint64(q), 1))
			s := tab.Shard(q)
			for i := 0; i < packets; i++ {
				k := nthKey(q*1000 + r.IntN(150))
				if i%3 == 0 {
					k.Proto = ProtoUDP
				}
				if r.IntN(2) == 0 {
					k = k.Reverse()
				}
				clk.Advance(time.Millisecond) // the clock moves even if the sweeper is starved
				now := clk.Now()
				s.Lock()
				f, d := s.Lookup(k, now)
				if f == nil {
					f, d = s.Insert(k, now), DirOriginal
				}
				s.Update(f, d, []uint8{syn, synack, ack, psh, fin, rst}[r.IntN(6)], 100, now)
				if r.IntN(200) == 0 {
					s.Remove(f)
				}
				s.Unlock()
			}
		}(q)
	}
	workers.Wait()
	close(done)
	readers.Wait()
	if v := bad.Load(); v != nil {
		t.Fatal(v)
	}

	st := tab.Stats()
	if st.Inserts != st.Entries+st.Evictions+st.Expired+st.Removed {
		t.Errorf("stats do not balance: %+v", st)
	}
	if uint64(flowEnds.Load()) != st.Expired+st.Removed || uint64(evictions.Load()) != st.Evictions {
		t.Errorf("events: %d flow_end, %d eviction; stats %+v", flowEnds.Load(), evictions.Load(), st)
	}
	if st.Evictions == 0 || st.Expired == 0 || st.Removed == 0 {
		t.Errorf("test did not exercise eviction, expiry and removal: %+v", st)
	}
	n := 0
	tab.Snapshot(func(Flow) bool { n++; return true })
	if n != tab.Len() || uint64(n) != st.Entries {
		t.Errorf("snapshot %d flows, Len %d, stats %d", n, tab.Len(), st.Entries)
	}
	t.Logf("%+v", st)
}
