package conntrack

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestClass(t *testing.T) {
	icmp := Key{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 7, Proto: ProtoICMP}
	gre := Key{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), Proto: 47}
	tcp, udp := tcpKey("10.0.0.1", "10.0.0.2", 1, 502), udpKey("10.0.0.1", "10.0.0.2", 1, 53)
	tests := []struct {
		key     Key
		state   State
		allowed bool
		want    Class
	}{
		{tcp, StateEstablished, false, ClassDenied},
		{udp, StateEstablished, false, ClassDenied},
		{tcp, StateNew, false, ClassDenied},
		{tcp, StateSynSent, true, ClassHandshake},
		{tcp, StateSynRecv, true, ClassHandshake},
		{tcp, StateNew, true, ClassHandshake}, // picked up, not answered yet
		{tcp, StateClosing, true, ClassClosing},
		{tcp, StateClosed, true, ClassClosing},
		{udp, StateNew, true, ClassUnanswered},
		{icmp, StateNew, true, ClassUnanswered},
		{gre, StateNew, true, ClassUnanswered},
		{tcp, StateEstablished, true, ClassEstablished},
		{udp, StateEstablished, true, ClassEstablished},
		{icmp, StateEstablished, true, ClassEstablished},
	}
	for _, tt := range tests {
		f := Flow{Key: tt.key, State: tt.state, Allowed: tt.allowed}
		if got := f.Class(); got != tt.want {
			t.Errorf("%s %v allowed=%v: class %v, want %v", ProtoName(tt.key.Proto), tt.state, tt.allowed, got, tt.want)
		}
	}
	for c, want := range []string{"denied", "handshake", "closing", "unanswered", "established"} {
		if got := Class(c).String(); got != want {
			t.Errorf("Class(%d) = %q, want %q", c, got, want)
		}
	}
}

// classFlow drives a flow of k into class c through the packet path, as
// the engine does: insert, decide, then the packets that make the state.
func classFlow(s *Shard, k Key, c Class, now int64) {
	steps := map[Class][]uint8{
		ClassDenied:      {syn, synack, ack},
		ClassHandshake:   {syn},
		ClassClosing:     {syn, synack, ack, fin},
		ClassUnanswered:  {0},
		ClassEstablished: {syn, synack, ack},
	}[c]
	if c == ClassUnanswered {
		k.Proto = ProtoUDP
	}
	s.Lock()
	defer s.Unlock()
	f := s.Insert(k, now)
	f.Allowed = c != ClassDenied
	s.Reclassify(f)
	for j, fl := range steps {
		s.Update(f, Dir(j%2), fl, 60, now)
	}
	if f.Class() != c {
		panic(fmt.Sprintf("classFlow: made %v, want %v", f.Class(), c))
	}
}

// TestEvictionClassOrder: a full shard evicts by class first — denied,
// handshake, closing, unanswered, established — and by least recently
// seen only within a class, whatever order the flows came in or were
// last seen.
func TestEvictionClassOrder(t *testing.T) {
	D, H, C, U, E := ClassDenied, ClassHandshake, ClassClosing, ClassUnanswered, ClassEstablished
	tests := []struct {
		name  string
		flows []Class // inserted in this order, one second apart
		touch []int   // then seen again, in this order (indices into flows)
		want  []int   // the order in which they are evicted (indices)
	}{
		{"ascending insertion", []Class{D, H, C, U, E}, nil, []int{0, 1, 2, 3, 4}},
		{"descending insertion", []Class{E, U, C, H, D}, nil, []int{4, 3, 2, 1, 0}},
		{"established oldest, denied most recent", []Class{E, D, H}, []int{1}, []int{1, 2, 0}},
		{"least recently seen first within a class", []Class{D, E, D, E, H}, []int{0, 1}, []int{2, 0, 4, 3, 1}},
		{"an unanswered flow seen again", []Class{U, U, U}, []int{0}, []int{1, 2, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, s, clk, rec := newTestShard(len(tt.flows))
			keys := make([]Key, len(tt.flows))
			index := map[Key]int{}
			for i, c := range tt.flows {
				keys[i] = nthKey(i)
				if c == ClassUnanswered {
					keys[i].Proto = ProtoUDP
				}
				index[keys[i]] = i
				classFlow(s, keys[i], c, clk.Now())
				clk.Advance(time.Second)
			}
			for _, i := range tt.touch {
				fl := uint8(ack)
				if tt.flows[i] == ClassUnanswered {
					fl = 0 // an unanswered flow's own next request keeps it unanswered
				}
				packet(s, keys[i], fl, 60, clk.Now())
				clk.Advance(time.Second)
			}
			// The newcomers are established sessions, the highest class
			// and more recently seen than any of the flows: each evicts
			// the next of those, never another newcomer.
			var got []int
			for n := range tt.flows {
				classFlow(s, nthKey(1000+n), ClassEstablished, clk.Now())
				for _, e := range rec.take() {
					if e.Kind != EventEviction {
						continue
					}
					i, ok := index[e.Flow.Key]
					if !ok {
						t.Fatalf("evicted newcomer %v", e.Flow.Key)
					}
					if e.Class != tt.flows[i] || e.Reason != ReasonCapacity {
						t.Errorf("eviction of flow %d: class %v reason %q, want %v capacity", i, e.Class, e.Reason, tt.flows[i])
					}
					got = append(got, i)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("evicted %v, want %v", got, tt.want)
			}
			st := tab.Stats()
			var want [NumClasses]uint64
			for _, c := range tt.flows {
				want[c]++
			}
			if st.EvictionsByClass != want || st.Evictions != uint64(len(tt.flows)) {
				t.Errorf("stats: evictions %d by class %v, want %d %v", st.Evictions, st.EvictionsByClass, len(tt.flows), want)
			}
			if st.EntriesByClass[ClassEstablished] != uint64(len(tt.flows)) {
				t.Errorf("entries by class %v, want all %d established newcomers", st.EntriesByClass, len(tt.flows))
			}
		})
	}
}

// present reports whether k is in s without making it the most recently
// seen, as a lookup would.
func present(s *Shard, k Key) bool {
	s.Lock()
	defer s.Unlock()
	_, ok := s.index[must(canon(k))]
	return ok
}

// TestFloodSparesEstablished: an established allowed session idle for
// hours survives floods of every lower class in a full table — denied
// flows, SYNs, short connections, unanswered UDP — because each flood
// evicts its own kind; only when nothing but established flows is left does
// the least recently seen of them go, as a class established eviction.
func TestFloodSparesEstablished(t *testing.T) {
	floods := []struct {
		name  string
		class Class
		want  Class // class of the evictions once the flood fills the table
	}{
		{"denied syn spray", ClassDenied, ClassDenied},
		{"allowed syn spray", ClassHandshake, ClassHandshake},
		{"short connections", ClassClosing, ClassClosing},
		{"unanswered udp", ClassUnanswered, ClassUnanswered},
	}
	for _, fl := range floods {
		t.Run(fl.name, func(t *testing.T) {
			const capacity = 64
			tab, s, clk, rec := newTestShard(capacity)
			plc := tcpKey("10.30.0.5", "10.10.0.7", 40000, 502)
			classFlow(s, plc, ClassEstablished, clk.Now())
			// A second established session, busier: it is the more
			// recently seen, the PLC session the least.
			hmi := tcpKey("10.20.0.5", "10.10.0.7", 40001, 502)
			classFlow(s, hmi, ClassEstablished, clk.Now())
			clk.Advance(6 * time.Hour)
			for i := range 10 * capacity {
				classFlow(s, nthKey(i), fl.class, clk.Now())
				if i%50 == 0 {
					packet(s, hmi, psh, 100, clk.Now())
				}
				clk.Advance(time.Millisecond)
			}
			for _, e := range rec.take() {
				if e.Kind == EventEviction && e.Class != fl.want {
					t.Fatalf("flood of %v evicted a %v flow: %v", fl.class, e.Class, e.Flow.Key)
				}
				if e.Kind == EventEviction && (e.Flow.Key == plc || e.Flow.Key == hmi) {
					t.Fatalf("the established session %v was evicted", e.Flow.Key)
				}
			}
			if !present(s, plc) {
				t.Fatal("the idle established session is gone")
			}
			st := tab.Stats()
			if st.EvictionsByClass[fl.want] != uint64(10*capacity-capacity+2) || st.EvictionsByClass[ClassEstablished] != 0 {
				t.Errorf("evictions by class %v, want %d of %v and none established", st.EvictionsByClass, 10*capacity-capacity+2, fl.want)
			}

			// Nothing below established left: the least recently seen
			// established session goes, and says so.
			for i := range capacity {
				classFlow(s, nthKey(100000+i), ClassEstablished, clk.Now())
			}
			evs := rec.take()
			var first *Event
			for i := range evs {
				if evs[i].Kind == EventEviction && evs[i].Class == ClassEstablished {
					first = &evs[i]
					break
				}
			}
			if first == nil || first.Flow.Key != plc || first.Idle < 6*time.Hour {
				t.Fatalf("first established eviction %+v, want the idle PLC session (idle 6h)", first)
			}
		})
	}
}

// TestExpiredReclaimedFirst: a full shard ends a timed-out flow before it
// evicts anything, even a timed-out established flow before a live denied
// one — that is a flow_end, not an eviction.
func TestExpiredReclaimedFirst(t *testing.T) {
	tab, s, clk, rec := newTestShard(3)
	old := tcpKey("10.0.0.1", "10.0.0.2", 1, 502)
	classFlow(s, old, ClassEstablished, clk.Now())
	s.Lock()
	f, _ := s.Lookup(old, clk.Now())
	f.IdleTimeout = time.Minute // a rule's idle_timeout
	s.Unlock()
	clk.Advance(2 * time.Minute)
	classFlow(s, nthKey(1), ClassDenied, clk.Now())
	classFlow(s, nthKey(2), ClassHandshake, clk.Now())
	rec.take()
	classFlow(s, nthKey(3), ClassDenied, clk.Now())
	evs := rec.take()
	if len(evs) != 1 || evs[0].Kind != EventFlowEnd || evs[0].Flow.Key != old || evs[0].Reason != ReasonIdle || evs[0].Class != ClassEstablished {
		t.Fatalf("events %+v, want one flow_end (idle) of the expired established flow", evs)
	}
	if st := tab.Stats(); st.Evictions != 0 || st.Expired != 1 {
		t.Errorf("stats %+v, want 0 evictions 1 expired", st)
	}
	// Then a live flow: the oldest denied.
	classFlow(s, nthKey(4), ClassEstablished, clk.Now())
	if evs := rec.take(); len(evs) != 1 || evs[0].Kind != EventEviction || evs[0].Flow.Key != nthKey(1) || evs[0].Class != ClassDenied {
		t.Fatalf("events %+v, want the eviction of the first denied flow", evs)
	}
}

// TestReclassify: a decision cached after insertion moves the flow to its
// class; a changed decision moves it again; a stale flow is ignored.
func TestReclassify(t *testing.T) {
	tab, s, clk, _ := newTestShard(4)
	k := tcpKey("10.0.0.1", "10.0.0.2", 1, 502)
	classFlow(s, k, ClassEstablished, clk.Now())
	classes := func() [NumClasses]uint64 { return tab.Stats().EntriesByClass }
	if c := classes(); c[ClassEstablished] != 1 || c[ClassDenied] != 0 {
		t.Fatalf("entries by class %v, want one established", c)
	}
	s.Lock()
	f, _ := s.Lookup(k, clk.Now())
	f.Allowed = false // a reload denies it
	s.Reclassify(f)
	s.Unlock()
	if c := classes(); c[ClassEstablished] != 0 || c[ClassDenied] != 1 {
		t.Fatalf("after a deny: entries by class %v, want one denied", c)
	}
	s.Lock()
	f, _ = s.Lookup(k, clk.Now())
	stale := *f
	s.Remove(f)
	f.Allowed = true
	s.Reclassify(f)      // ended: ignored
	s.Reclassify(&stale) // not the table's: ignored
	s.Reclassify(nil)
	s.Unlock()
	if c := classes(); c != ([NumClasses]uint64{}) || tab.Len() != 0 {
		t.Fatalf("after removal: entries by class %v len %d, want none", c, tab.Len())
	}
}
