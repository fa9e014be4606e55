package conntrack

import (
	"net/netip"
	"testing"
	"time"
)

// TestVisitTouch: Visit reaches every flow; Touch keeps a flow the shard
// no longer sees alive (no idle expiry) and out of eviction's way.
func TestVisitTouch(t *testing.T) {
	now := int64(0)
	tb := New(Config{Capacity: 2, Timeouts: Timeouts{UDP: 10 * time.Second}, Now: func() int64 { return now }})
	s := tb.Shard(0)
	k1 := Key{Proto: ProtoUDP, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), SrcPort: 1, DstPort: 2}
	k2 := k1
	k2.SrcPort = 3
	s.Lock()
	f1 := s.Insert(k1, now)
	s.Insert(k2, now)
	s.Unlock()
	seen := 0
	now = int64(8 * time.Second)
	tb.Visit(func(s *Shard, f *Flow) {
		seen++
		if f.Key == k1 {
			s.Touch(f, now)
		}
	})
	if seen != 2 {
		t.Fatalf("Visit saw %d flows, want 2", seen)
	}
	now = int64(15 * time.Second) // k2 idle 15s, k1 only 7s
	if n := tb.Sweep(now); n != 1 {
		t.Fatalf("Sweep expired %d, want 1 (the untouched flow)", n)
	}
	s.Lock()
	defer s.Unlock()
	if f := s.Peek(k1.Reverse()); f != f1 || f.LastSeen != int64(8*time.Second) {
		t.Errorf("Peek by the reply key = %v, want the touched flow", f)
	}
}
