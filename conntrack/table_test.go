package conntrack

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// TestModbusSessionIdle: a Modbus/TCP session polled every second, then
// silent for 6 hours, survives the OT default (24h) and expires under a rule's
// 1h idle_timeout — lazily on the next packet or by the sweeper — with a
// flow_end event that carries what the log line needs.
func TestModbusSessionIdle(t *testing.T) {
	tests := []struct {
		name      string
		override  time.Duration
		sweep     bool // expire via Sweep instead of the next packet's Lookup
		wantAlive bool
	}{
		{"default 24h survives", 0, false, true},
		{"override 7h survives", 7 * time.Hour, false, true},
		{"default 24h survives sweep", 0, true, true},
		{"override 1h expires on next packet", time.Hour, false, false},
		{"override 1h expires by sweep", time.Hour, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, s, clk, rec := newTestShard(16)
			k := tcpKey("10.20.0.5", "10.10.0.7", 40000, 502)
			t0 := clk.Now()

			id, _ := packet(s, k, syn, 60, clk.Now())
			s.Lock()
			f, _ := s.Lookup(k, clk.Now())
			f.IdleTimeout = tt.override // the engine sets this from the matching rule
			s.Unlock()
			clk.Advance(time.Millisecond)
			packet(s, k.Reverse(), synack, 60, clk.Now())
			clk.Advance(time.Millisecond)
			packet(s, k, ack, 52, clk.Now())
			for i := 0; i < 10; i++ {
				clk.ns.Store(t0 + int64(i+1)*int64(time.Second))
				packet(s, k, psh, 64, clk.Now())
				clk.Advance(5 * time.Millisecond)
				packet(s, k.Reverse(), psh, 81, clk.Now())
			}
			last := clk.Now()
			const wantGap = 998 * time.Millisecond // ACK at 2ms to first poll at 1s

			clk.Advance(6 * time.Hour)
			if tt.sweep {
				n := tab.Sweep(clk.Now())
				if want := map[bool]int{true: 0, false: 1}[tt.wantAlive]; n != want {
					t.Fatalf("Sweep expired %d, want %d", n, want)
				}
			}
			got, dir, ok := lookupFlow(s, k, clk.Now())
			if ok != tt.wantAlive {
				t.Fatalf("flow alive after 6h idle = %v, want %v", ok, tt.wantAlive)
			}
			evs := rec.take()
			if tt.wantAlive {
				if got.ID != id || dir != DirOriginal || got.State != StateEstablished {
					t.Errorf("flow = id %d dir %v state %v, want id %d original established", got.ID, dir, got.State, id)
				}
				if len(evs) != 0 {
					t.Errorf("unexpected events: %+v", evs)
				}
				// The next poll records the 6h silence as the largest gap.
				packet(s, k, psh, 64, clk.Now())
				if got, _, _ := lookupFlow(s, k, clk.Now()); got.MaxGap != int64(6*time.Hour) {
					t.Errorf("MaxGap after idle poll = %v, want 6h", time.Duration(got.MaxGap))
				}
				return
			}
			if len(evs) != 1 {
				t.Fatalf("events = %+v, want one flow_end", evs)
			}
			e := evs[0]
			if e.Kind != EventFlowEnd || e.Reason != ReasonIdle || e.Flow.ID != id {
				t.Errorf("event kind %v reason %q id %d, want flow_end idle id %d", e.Kind, e.Reason, e.Flow.ID, id)
			}
			if e.Idle != 6*time.Hour {
				t.Errorf("Idle = %v, want 6h", e.Idle)
			}
			if want := [2]uint64{12, 11}; e.Flow.Packets != want {
				t.Errorf("Packets = %v, want %v", e.Flow.Packets, want)
			}
			if want := [2]uint64{60 + 52 + 10*64, 60 + 10*81}; e.Flow.Bytes != want {
				t.Errorf("Bytes = %v, want %v", e.Flow.Bytes, want)
			}
			if want := time.Duration(last - t0); e.Flow.Duration() != want {
				t.Errorf("Duration = %v, want %v", e.Flow.Duration(), want)
			}
			if e.Flow.MaxGap != int64(wantGap) {
				t.Errorf("MaxGap = %v, want %v", time.Duration(e.Flow.MaxGap), wantGap)
			}
			if e.Flow.State != StateEstablished || e.Flow.IdleTimeout != time.Hour {
				t.Errorf("flow state %v timeout %v, want established 1h", e.Flow.State, e.Flow.IdleTimeout)
			}
			if st := tab.Stats(); st.Expired != 1 || st.Entries != 0 || tab.Len() != 0 {
				t.Errorf("stats %+v len %d, want 1 expired, 0 entries", st, tab.Len())
			}
			// The next packet starts a new flow (the engine decides on pickup).
			if newID, _ := packet(s, k, psh, 64, clk.Now()); newID == id {
				t.Errorf("new flow reused ID %d", id)
			}
		})
	}
}

// TestEvictionOrder: at capacity the least recently SEEN flow goes, whatever
// its insertion order, and the event says how long it had been idle.
func TestEvictionOrder(t *testing.T) {
	type op struct {
		at  time.Duration
		key int
	}
	tests := []struct {
		name      string
		capacity  int
		ops       []op // packets; a new key at capacity evicts
		wantEvict []int
		wantIdle  []time.Duration
	}{
		{"insertion order when untouched", 3,
			[]op{{0, 1}, {1 * time.Second, 2}, {2 * time.Second, 3}, {3 * time.Second, 4}, {4 * time.Second, 5}},
			[]int{1, 2}, []time.Duration{3 * time.Second, 3 * time.Second}},
		{"seen flow moves to the back of the queue", 3,
			[]op{{0, 1}, {1 * time.Second, 2}, {2 * time.Second, 3}, {3 * time.Second, 1}, {10 * time.Second, 4}, {11 * time.Second, 5}},
			[]int{2, 3}, []time.Duration{9 * time.Second, 9 * time.Second}},
		{"reply direction counts as seen", 2,
			[]op{{0, 1}, {1 * time.Second, 2}, {2 * time.Second, -1}, {5 * time.Second, 3}},
			[]int{2}, []time.Duration{4 * time.Second}},
		{"capacity one", 1,
			[]op{{0, 1}, {20 * time.Second, 2}, {40 * time.Second, 1}}, // under the 30s pickup timeout
			[]int{1, 2}, []time.Duration{20 * time.Second, 20 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab, s, clk, rec := newTestShard(tt.capacity)
			t0 := clk.Now()
			keyOf := map[Key]int{}
			for _, o := range tt.ops {
				k := nthKey(o.key)
				if o.key < 0 {
					k = nthKey(-o.key).Reverse()
				}
				keyOf[nthKey(abs(o.key))] = abs(o.key)
				packet(s, k, psh, 100, t0+int64(o.at))
			}
			evs := rec.take()
			var got []int
			for i, e := range evs {
				if e.Kind != EventEviction {
					continue
				}
				got = append(got, keyOf[e.Flow.Key])
				if e.Reason != ReasonCapacity {
					t.Errorf("eviction %d reason %q", i, e.Reason)
				}
				if len(got) <= len(tt.wantIdle) && e.Idle != tt.wantIdle[len(got)-1] {
					t.Errorf("eviction %d idle %v, want %v", len(got)-1, e.Idle, tt.wantIdle[len(got)-1])
				}
			}
			if !slices.Equal(got, tt.wantEvict) {
				t.Fatalf("evicted %v, want %v (events %+v)", got, tt.wantEvict, evs)
			}
			st := tab.Stats()
			if st.Evictions != uint64(len(tt.wantEvict)) || st.Entries != uint64(tt.capacity) {
				t.Errorf("stats %+v, want %d evictions, %d entries", st, len(tt.wantEvict), tt.capacity)
			}
			if s.arena.used > int32(tt.capacity) {
				t.Errorf("arena used %d slots for capacity %d: slots not recycled", s.arena.used, tt.capacity)
			}
		})
	}
}

// TestEvictExpiredIsFlowEnd: making room by dropping a flow that had already
// timed out is an expiry, not an eviction.
func TestEvictExpiredIsFlowEnd(t *testing.T) {
	tab, s, clk, rec := newTestShard(1)
	packet(s, udpKey("10.0.0.1", "10.0.0.2", 1, 2), 0, 10, clk.Now())
	clk.Advance(11 * time.Minute)
	packet(s, udpKey("10.0.0.1", "10.0.0.2", 3, 4), 0, 10, clk.Now())
	if n := rec.count(EventFlowEnd); n != 1 {
		t.Fatalf("events %+v, want a flow_end", rec.take())
	}
	if e := rec.take()[1]; e.Reason != ReasonIdle || e.Idle != 11*time.Minute {
		t.Errorf("flow_end reason %q idle %v, want idle 11m", e.Reason, e.Idle)
	}
	if st := tab.Stats(); st.Evictions != 0 || st.Expired != 1 {
		t.Errorf("stats %+v, want 0 evictions 1 expired", st)
	}
}

func TestReverseLookup(t *testing.T) {
	_, s, clk, _ := newTestShard(8)
	k := tcpKey("10.20.0.5", "10.10.0.7", 40000, 502)
	packet(s, k, syn, 60, clk.Now())
	tests := []struct {
		name    string
		k       Key
		wantOK  bool
		wantDir Dir
	}{
		{"original", k, true, DirOriginal},
		{"reply", k.Reverse(), true, DirReply},
		{"other client port", tcpKey("10.20.0.5", "10.10.0.7", 40001, 502), false, DirOriginal},
		{"half-reversed ports", tcpKey("10.10.0.7", "10.20.0.5", 40000, 502), false, DirOriginal},
		{"other protocol", udpKey("10.20.0.5", "10.10.0.7", 40000, 502), false, DirOriginal},
	}
	for _, tt := range tests {
		f, d, ok := lookupFlow(s, tt.k, clk.Now())
		if ok != tt.wantOK || d != tt.wantDir {
			t.Errorf("%s: found %v dir %v, want %v %v", tt.name, ok, d, tt.wantOK, tt.wantDir)
		}
		if ok && f.Key != k {
			t.Errorf("%s: flow key %v, want %v", tt.name, f.Key, k)
		}
	}
}

func TestICMPEchoPairing(t *testing.T) {
	for _, proto := range []uint8{ProtoICMP, ProtoICMPv6} {
		a, b := netip.MustParseAddr("10.20.0.5"), netip.MustParseAddr("10.10.0.7")
		if proto == ProtoICMPv6 {
			a, b = netip.MustParseAddr("fd00:20::5"), netip.MustParseAddr("fd00:10::7")
		}
		_, s, clk, _ := newTestShard(8)
		req := Key{Src: a, Dst: b, SrcPort: 7, Proto: proto}
		reply := Key{Src: b, Dst: a, SrcPort: 7, Proto: proto}
		id1, d1 := packet(s, req, 0, 84, clk.Now())
		id2, d2 := packet(s, reply, 0, 84, clk.Now())
		if id1 != id2 || d1 != DirOriginal || d2 != DirReply {
			t.Errorf("%s: request %d/%v reply %d/%v, want same flow original/reply", ProtoName(proto), id1, d1, id2, d2)
		}
		id3, _ := packet(s, Key{Src: b, Dst: a, SrcPort: 8, Proto: proto}, 0, 84, clk.Now())
		if id3 == id1 {
			t.Errorf("%s: echo id 8 joined the flow of id 7", ProtoName(proto))
		}
		f, _, _ := lookupFlow(s, req, clk.Now())
		if f.Packets != [2]uint64{1, 1} || f.State != StateEstablished {
			t.Errorf("%s: packets %v state %v, want [1 1] established", ProtoName(proto), f.Packets, f.State)
		}
		clk.Advance(30 * time.Second)
		if _, _, ok := lookupFlow(s, reply, clk.Now()); ok {
			t.Errorf("%s: echo flow alive after the 30s ICMP timeout", ProtoName(proto))
		}
	}
}

// TestSweep expires what is idle beyond its state's timeout, with the right
// reason, and leaves live flows exactly as they were.
func TestSweep(t *testing.T) {
	type flowSpec struct {
		name    string
		key     Key
		pkts    []step // handshake/close packets, all at t0
		idle    time.Duration
		timeout time.Duration // per-flow override
		reason  string        // "" = must survive
	}
	o, r := DirOriginal, DirReply
	estab := []step{{o, syn, 0}, {r, synack, 0}, {o, ack, 0}}
	specs := []flowSpec{
		{"udp idle 11m", udpKey("10.0.0.1", "10.0.0.2", 1, 1), []step{{o, 0, 0}}, 11 * time.Minute, 0, ReasonIdle},
		{"udp idle 9m", udpKey("10.0.0.1", "10.0.0.2", 2, 2), []step{{o, 0, 0}}, 9 * time.Minute, 0, ""},
		{"udp idle 9m override 5m", udpKey("10.0.0.1", "10.0.0.2", 3, 3), []step{{o, 0, 0}}, 9 * time.Minute, 5 * time.Minute, ReasonIdle},
		{"tcp established idle 23h", tcpKey("10.0.0.1", "10.0.0.2", 4, 502), estab, 23 * time.Hour, 0, ""},
		{"tcp established idle 25h", tcpKey("10.0.0.1", "10.0.0.2", 5, 502), estab, 25 * time.Hour, 0, ReasonIdle},
		{"tcp syn idle 31s", tcpKey("10.0.0.1", "10.0.0.2", 6, 502), []step{{o, syn, 0}}, 31 * time.Second, time.Hour, ReasonHandshake},
		{"tcp syn idle 29s", tcpKey("10.0.0.1", "10.0.0.2", 7, 502), []step{{o, syn, 0}}, 29 * time.Second, 0, ""},
		{"tcp closing idle 3m", tcpKey("10.0.0.1", "10.0.0.2", 8, 502), append(estab, step{o, fin, 0}), 3 * time.Minute, time.Hour, ReasonClosed},
		{"tcp closed idle 11s", tcpKey("10.0.0.1", "10.0.0.2", 9, 502), append(estab, step{o, fin, 0}, step{r, fin, 0}), 11 * time.Second, 0, ReasonClosed},
		{"tcp rst idle 1m", tcpKey("10.0.0.1", "10.0.0.2", 10, 502), append(estab, step{r, rst, 0}), time.Minute, 0, ""},
		{"icmp idle 31s", Key{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 1, 0, ProtoICMP}, []step{{o, 0, 0}}, 31 * time.Second, 0, ReasonIdle},
		{"gre idle 9m", Key{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2"), 0, 0, 47}, []step{{o, 0, 0}}, 9 * time.Minute, 0, ""},
	}
	tab, clk, rec := newTestTable(64, 2, Timeouts{})
	tab.sweepBatch = 3 // exercise batching across lock holds
	sweepAt := clk.Now() + int64(48*time.Hour)
	for i, sp := range specs {
		s := tab.Shard(i % 2)
		at := sweepAt - int64(sp.idle)
		s.Lock()
		f := s.Insert(sp.key, at)
		f.IdleTimeout = sp.timeout
		for _, st := range sp.pkts {
			k := sp.key
			if st.d == DirReply {
				k = k.Reverse()
			}
			g, d := s.Lookup(k, at)
			s.Update(g, d, st.flags, 60, at)
		}
		s.Unlock()
	}
	before := map[Key]Flow{}
	tab.Snapshot(func(f Flow) bool { before[f.Key] = f; return true })

	want := map[Key]string{}
	for _, sp := range specs {
		if sp.reason != "" {
			want[sp.key] = sp.reason
		}
	}
	if n := tab.Sweep(sweepAt); n != len(want) {
		t.Errorf("Sweep expired %d, want %d", n, len(want))
	}
	for _, e := range rec.take() {
		if e.Kind != EventFlowEnd || e.Reason != want[e.Flow.Key] {
			t.Errorf("event %v %q for %v, want flow_end %q", e.Kind, e.Reason, e.Flow.Key, want[e.Flow.Key])
		}
		delete(want, e.Flow.Key)
	}
	for k, reason := range want {
		t.Errorf("no flow_end (%s) for %v", reason, k)
	}
	after := map[Key]Flow{}
	tab.Snapshot(func(f Flow) bool { after[f.Key] = f; return true })
	for _, sp := range specs {
		f, ok := after[sp.key]
		if ok != (sp.reason == "") {
			t.Errorf("%s: present after sweep = %v", sp.name, ok)
		}
		if ok && f != before[sp.key] {
			t.Errorf("%s: sweep modified a live flow:\n before %+v\n after  %+v", sp.name, before[sp.key], f)
		}
	}
	if tab.Sweep(sweepAt) != 0 {
		t.Error("second sweep at the same time expired more flows")
	}
}

func TestRemove(t *testing.T) {
	tab, s, clk, rec := newTestShard(4)
	k := tcpKey("10.0.0.1", "10.0.0.2", 1, 2)
	packet(s, k, syn, 60, clk.Now())
	s.Lock()
	f, _ := s.Lookup(k, clk.Now())
	stale := f
	s.RemoveReason(f, "denied after reload")
	s.Remove(stale) // already gone: ignored
	s.Unlock()
	// A new flow may reuse the slot; a stale pointer must not remove it.
	packet(s, k, syn, 60, clk.Now())
	s.Lock()
	s.Remove(&Flow{Key: k, ID: 999})
	s.Unlock()
	evs := rec.take()
	if len(evs) != 1 || evs[0].Kind != EventFlowEnd || evs[0].Reason != "denied after reload" {
		t.Fatalf("events %+v, want one flow_end with the caller's reason", evs)
	}
	if _, _, ok := lookupFlow(s, k, clk.Now()); !ok || tab.Len() != 1 {
		t.Errorf("new flow missing after stale Remove (len %d)", tab.Len())
	}
	if st := tab.Stats(); st.Removed != 1 || st.Inserts != 2 {
		t.Errorf("stats %+v, want 1 removed 2 inserts", st)
	}
}

func TestInsertReplacesExisting(t *testing.T) {
	tab, s, clk, rec := newTestShard(4)
	k := tcpKey("10.0.0.1", "10.0.0.2", 1, 2)
	id1, _ := packet(s, k, syn, 60, clk.Now())
	s.Lock()
	f := s.Insert(k, clk.Now())
	id2 := f.ID
	s.Unlock()
	if id2 == id1 || tab.Len() != 1 {
		t.Errorf("Insert of present key: ids %d %d len %d, want a fresh flow replacing the old", id1, id2, tab.Len())
	}
	if evs := rec.take(); len(evs) != 1 || evs[0].Reason != ReasonReplaced || evs[0].Flow.ID != id1 {
		t.Errorf("events %+v, want flow_end replaced for %d", evs, id1)
	}
}

func TestOccupancyCrossings(t *testing.T) {
	tab, s, clk, rec := newTestShard(10)
	var flows []*Flow
	add := func(n int) {
		for i := 0; i < n; i++ {
			s.Lock()
			flows = append(flows, s.Insert(nthKey(len(flows)), clk.Now()))
			s.Unlock()
		}
	}
	del := func(n int) {
		for i := 0; i < n; i++ {
			s.Lock()
			s.Remove(flows[len(flows)-1])
			flows = flows[:len(flows)-1]
			s.Unlock()
		}
	}
	kinds := func() []EventKind {
		var k []EventKind
		for _, e := range rec.take() {
			if e.Kind == EventOccupancyHigh || e.Kind == EventOccupancyNormal {
				k = append(k, e.Kind)
				if e.Capacity != 10 {
					t.Errorf("occupancy event capacity %d, want 10", e.Capacity)
				}
			}
		}
		return k
	}
	steps := []struct {
		add, del int
		want     []EventKind
		high     bool
	}{
		{add: 8, want: nil},
		{add: 1, want: []EventKind{EventOccupancyHigh}, high: true}, // 9 of 10
		{add: 1, want: nil, high: true},
		{del: 2, want: nil, high: true},                                // 8: hysteresis
		{del: 1, want: []EventKind{EventOccupancyNormal}, high: false}, // 7
		{add: 1, want: nil},
		{add: 1, want: []EventKind{EventOccupancyHigh}, high: true},
	}
	for i, st := range steps {
		add(st.add)
		del(st.del)
		if got := kinds(); !slices.Equal(got, st.want) {
			t.Errorf("step %d (len %d): events %v, want %v", i, tab.Len(), got, st.want)
		}
		if tab.Stats().HighOccupancy != st.high {
			t.Errorf("step %d: HighOccupancy %v, want %v", i, !st.high, st.high)
		}
	}
	if c := tab.Stats().HighCrossings; c != 2 {
		t.Errorf("HighCrossings %d, want 2", c)
	}
}

// TestEventsOutsideLock: OnEvent must never run under a shard lock.
func TestEventsOutsideLock(t *testing.T) {
	var tab *Table
	locked := 0
	calls := 0
	tab = New(Config{Capacity: 2, OnEvent: func(Event) {
		calls++
		if !tab.Shard(0).mu.TryLock() {
			locked++
			return
		}
		tab.Shard(0).mu.Unlock()
	}})
	s := tab.Shard(0)
	for i := 0; i < 10; i++ {
		packet(s, nthKey(i), syn, 60, int64(i))
	}
	tab.Sweep(int64(time.Hour))
	if calls < 9 || locked != 0 {
		t.Errorf("OnEvent called %d times, %d under the shard lock", calls, locked)
	}
}

func TestCapacitySplit(t *testing.T) {
	tests := []struct {
		capacity, shards int
		want             []int
	}{
		{10, 3, []int{4, 3, 3}},
		{8, 2, []int{4, 4}},
		{2, 4, []int{1, 1, 1, 1}},
		{0, 1, []int{DefaultCapacity}},
		{5, 0, []int{5}},
	}
	for _, tt := range tests {
		tab := New(Config{Capacity: tt.capacity, Shards: tt.shards})
		var got []int
		sum := 0
		for i := 0; i < tab.Shards(); i++ {
			got = append(got, tab.Shard(i).Capacity())
			sum += tab.Shard(i).Capacity()
		}
		if !slices.Equal(got, tt.want) || tab.Capacity() != sum {
			t.Errorf("capacity %d shards %d: split %v (total %d), want %v", tt.capacity, tt.shards, got, tab.Capacity(), tt.want)
		}
	}
}

func TestIDsUniqueAcrossShards(t *testing.T) {
	tab, clk, _ := newTestTable(1000, 3, Timeouts{})
	seen := map[uint64]bool{}
	for i := 0; i < 300; i++ {
		id, _ := packet(tab.Shard(i%3), nthKey(i), syn, 60, clk.Now())
		if id == 0 || seen[id] {
			t.Fatalf("flow %d: ID %d zero or reused", i, id)
		}
		seen[id] = true
	}
}

func TestClockStepsBack(t *testing.T) {
	_, s, clk, _ := newTestShard(4)
	k := udpKey("10.0.0.1", "10.0.0.2", 1, 2)
	packet(s, k, 0, 10, clk.Now())
	packet(s, k, 0, 10, clk.Now()-int64(time.Second)) // out-of-order capture timestamp
	f, _, _ := lookupFlow(s, k, clk.Now())
	if f.LastSeen != clk.Now() || f.MaxGap != 0 || f.Packets[0] != 2 {
		t.Errorf("LastSeen %d (want %d) MaxGap %d packets %v", f.LastSeen, clk.Now(), f.MaxGap, f.Packets)
	}
}

func TestDefaultClock(t *testing.T) {
	tab := New(Config{})
	a := tab.Now()
	b := tab.Now()
	if b < a || a < time.Now().Add(-time.Minute).UnixNano() {
		t.Errorf("default clock %d then %d not wall-aligned and monotonic", a, b)
	}
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// TestSetTimeouts: a reload's timeouts apply to flows already tracked, on
// lookup and on sweep, in every shard.
func TestSetTimeouts(t *testing.T) {
	clk := &fakeClock{}
	tab := New(Config{Shards: 2, Capacity: 16, Now: clk.Now, Timeouts: Timeouts{UDP: 10 * time.Minute}})
	a, b := udpKey("10.0.0.1", "10.0.0.2", 5000, 123), udpKey("10.0.0.3", "10.0.0.2", 5001, 123)
	for i, k := range []Key{a, b} {
		s := tab.Shard(i)
		s.Lock()
		s.Insert(k, clk.Now())
		s.Unlock()
	}
	clk.Advance(2 * time.Minute)
	if n := tab.Sweep(clk.Now()); n != 0 {
		t.Fatalf("swept %d flows within the 10m timeout", n)
	}
	tab.SetTimeouts(Timeouts{UDP: time.Minute})
	if got := tab.Timeouts(); got.UDP != time.Minute || got.TCPEstablished != DefaultTimeouts().TCPEstablished {
		t.Errorf("Timeouts() = %+v", got)
	}
	s := tab.Shard(0)
	s.Lock()
	f, _ := s.Lookup(a, clk.Now())
	s.Unlock()
	if f != nil {
		t.Error("a flow idle 2m survived a 1m timeout on lookup")
	}
	if n := tab.Sweep(clk.Now()); n != 1 {
		t.Errorf("sweep expired %d flows, want the other shard's 1", n)
	}
}
