package conntrack

import (
	"net/netip"
	"testing"
	"time"
)

// TestNoAllocs: the per-packet path for a tracked flow (lock, lookup in
// either direction, update, unlock) allocates nothing.
func TestNoAllocs(t *testing.T) {
	v6 := Key{Src: netip.MustParseAddr("fd00:10::1"), Dst: netip.MustParseAddr("fd00:10::2"), SrcPort: 40000, DstPort: 502, Proto: ProtoTCP}
	icmp := Key{Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 7, Proto: ProtoICMP}
	tests := []struct {
		name  string
		k     Key
		flags uint8
	}{
		{"tcp original", tcpKey("10.20.0.5", "10.10.0.7", 40000, 502), psh},
		{"tcp reply", tcpKey("10.20.0.5", "10.10.0.7", 40000, 502).Reverse(), psh},
		{"tcp ipv6 reply", v6.Reverse(), ack},
		{"udp reply", udpKey("10.0.0.1", "10.0.0.2", 2222, 2222).Reverse(), 0},
		{"icmp reply", icmp.Reverse(), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, s, clk, _ := newTestShard(1024)
			for i := 0; i < 500; i++ { // a populated table, not a single entry
				packet(s, nthKey(i), syn, 60, clk.Now())
			}
			orig := tt.k
			if tt.name != "tcp original" {
				orig = tt.k.Reverse()
			}
			packet(s, orig, syn, 60, clk.Now())
			now := clk.Now()
			allocs := testing.AllocsPerRun(1000, func() {
				now += int64(time.Millisecond)
				s.Lock()
				f, d := s.Lookup(tt.k, now)
				if f == nil {
					t.Fatal("flow not found")
				}
				s.Update(f, d, tt.flags, 100, now)
				s.Unlock()
			})
			if allocs != 0 {
				t.Errorf("lookup+update allocs = %v, want 0", allocs)
			}
		})
	}
}

// TestInsertAtCapacityAllocs: a new flow in a full table allocates nothing,
// whichever class the eviction comes from and whatever classes the new flow
// passes through: Flow storage, list links, map slots and the event buffer
// are reused.
func TestInsertAtCapacityAllocs(t *testing.T) {
	tests := []struct {
		name    string
		allowed bool
		steps   []uint8 // packets after the insert, alternating original and reply
	}{
		{"denied syn", false, []uint8{syn}},
		{"allowed handshake", true, []uint8{syn, synack, ack}},
		{"allowed short connection", true, []uint8{syn, synack, ack, psh, fin, fin}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evictions := 0
			tab := New(Config{Capacity: 1024, Now: func() int64 { return 0 }, OnEvent: func(e Event) {
				if e.Kind == EventEviction {
					evictions++
				}
			}})
			s := tab.Shard(0)
			add := func(i int) {
				s.Lock()
				defer s.Unlock()
				f := s.Insert(nthKey(i), 0)
				f.Allowed = tt.allowed || i%2 == 0 // a mixed table at first
				s.Reclassify(f)
				for j, fl := range tt.steps {
					s.Update(f, Dir(j%2), fl, 60, 0)
				}
			}
			for i := 0; i < 1024; i++ {
				add(i)
			}
			i := 1024
			allocs := testing.AllocsPerRun(2000, func() {
				add(i)
				i++
			})
			if evictions < 2000 {
				t.Fatalf("%d evictions, want every insert to evict", evictions)
			}
			if allocs != 0 {
				t.Errorf("insert at capacity allocs = %v, want 0", allocs)
			}
		})
	}
}
