package main

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/learn"
)

// feedPolls pushes n Modbus polls (request, reply) of one session,
// every period, into queue q of f, starting at t0 (ns).
func feedPolls(f *liveFeed, q, n int, t0 int64, period time.Duration) {
	req := []byte{0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2}
	resp := []byte{0, 1, 0, 0, 0, 7, 1, 3, 4, 0, 0, 0, 0}
	seqC, seqS := uint32(1000), uint32(5000)
	for i := range n {
		ts := t0 + int64(i)*int64(period)
		f.push(q, ts, opsPacket(6, "10.20.0.10", "10.30.0.10", 40000, 502, seqC, seqS, 0x18, req))
		seqC += uint32(len(req))
		f.push(q, ts+int64(time.Millisecond), opsPacket(6, "10.30.0.10", "10.20.0.10", 502, 40000, seqS, seqC, 0x18, resp))
		seqS += uint32(len(resp))
	}
}

func mbService(t *testing.T, m *learn.Matrix) *learn.Service {
	t.Helper()
	s := m.Lookup(learn.ServiceKey{Client: netip.MustParseAddr("10.20.0.10"), Server: netip.MustParseAddr("10.30.0.10"), Proto: 6, Port: 502})
	if s == nil || s.Health == nil {
		t.Fatalf("no Modbus service with health in the matrix: %+v", m.Services())
	}
	return s
}

func TestLiveFeed(t *testing.T) {
	for _, tc := range []struct {
		name          string
		queues, polls int
		period        time.Duration
	}{
		{"one queue, 100ms", 1, 50, 100 * time.Millisecond},
		{"two queues, 1s", 2, 20, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := learn.NewLive(1)
			f := newLiveFeed(tc.queues, live)
			feedPolls(f, tc.queues-1, tc.polls, time.Now().UnixNano(), tc.period)
			if n := f.drainOnce(); n != 2*tc.polls {
				t.Fatalf("drained %d packets, want %d", n, 2*tc.polls)
			}
			s := mbService(t, live.Snapshot())
			if s.Packets != uint64(2*tc.polls) || s.Health.Requests != uint64(tc.polls) || s.Health.Replies != uint64(tc.polls) {
				t.Errorf("packets %d requests %d replies %d, want %d, %d, %d", s.Packets, s.Health.Requests, s.Health.Replies, 2*tc.polls, tc.polls, tc.polls)
			}
			if p := s.Health.Periods.Quantile(0.5); p != tc.period {
				t.Errorf("polling period %v, want %v", p, tc.period)
			}
			if f.dropped() != 0 {
				t.Errorf("%d dropped, want 0", f.dropped())
			}
		})
	}
}

// A full ring and a packet longer than a slot lose the copy, counted; the
// ring takes packets again once drained.
func TestLiveFeedDrops(t *testing.T) {
	live := learn.NewLive(1)
	f := newLiveFeed(1, live)
	b := opsPacket(17, "10.20.0.10", "10.30.0.10", 40000, 2222, 0, 0, 0, make([]byte, 22))
	for range feedSlots + 7 {
		f.push(0, 1, b)
	}
	f.push(0, 1, make([]byte, feedSlotSize+1))
	if d := f.dropped(); d != 8 {
		t.Errorf("dropped %d, want 8 (7 over the ring, 1 too long)", d)
	}
	if n := f.drainOnce(); n != feedSlots {
		t.Errorf("drained %d, want %d", n, feedSlots)
	}
	f.push(0, 2, b)
	if n := f.drainOnce(); n != 1 || f.dropped() != 8 {
		t.Errorf("after draining: moved %d, dropped %d; want 1, 8", n, f.dropped())
	}
	if m := live.Snapshot(); m.Packets != feedSlots+1 {
		t.Errorf("matrix has %d packets, want %d", m.Packets, feedSlots+1)
	}
}

// drain, stopped, moves what was pushed before the stop.
func TestLiveFeedStop(t *testing.T) {
	o := &ops{log: slog.New(slog.DiscardHandler)}
	f := o.startLive(2)
	feedPolls(f, 1, 10, time.Now().UnixNano(), 200*time.Millisecond)
	o.stopLive()
	if s := mbService(t, o.live.Snapshot()); s.Health.Requests != 10 {
		t.Errorf("requests %d, want 10", s.Health.Requests)
	}
}

func TestLiveFeedNoAllocs(t *testing.T) {
	f := newLiveFeed(1, learn.NewLive(1))
	b := opsPacket(17, "10.20.0.10", "10.30.0.10", 40000, 2222, 0, 0, 0, make([]byte, 22))
	if n := testing.AllocsPerRun(1000, func() { f.push(0, 1, b) }); n != 0 {
		t.Errorf("push allocates %v times", n)
	}
}

func BenchmarkLiveFeedPush(b *testing.B) {
	f := newLiveFeed(1, learn.NewLive(1))
	p := opsPacket(17, "10.20.0.10", "10.30.0.10", 40000, 2222, 0, 0, 0, make([]byte, 22))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f.push(0, 1, p)
		if i%feedSlots == feedSlots-1 {
			f.rings[0].head.Store(f.rings[0].tail.Load()) // emptied, as drain would
		}
	}
}

// The fast path's counts reach the service of the flow, in whichever
// direction the kernel saw it first; a flow the matrix never saw is left out.
func TestLiveFeedKernelCounts(t *testing.T) {
	hmi, plc := netip.MustParseAddr("10.20.0.10"), netip.MustParseAddr("10.30.0.10")
	for _, tc := range []struct {
		name                 string
		k                    conntrack.Key
		wantServer, wantClnt uint64
	}{
		{"as the client opened it", conntrack.Key{Src: hmi, Dst: plc, SrcPort: 40000, DstPort: 502, Proto: 6}, 2 + 7, 2 + 3},
		{"reply side first", conntrack.Key{Src: plc, Dst: hmi, SrcPort: 502, DstPort: 40000, Proto: 6}, 2 + 3, 2 + 7},
		{"unknown flow", conntrack.Key{Src: hmi, Dst: plc, SrcPort: 40001, DstPort: 503, Proto: 6}, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			live := learn.NewLive(1)
			f := newLiveFeed(1, live)
			feedPolls(f, 0, 2, 1e9, time.Second)
			f.counted(tc.k, [2]uint64{7, 3}, [2]uint64{700, 300}, 10e9)
			f.drainOnce()
			s := mbService(t, live.Snapshot())
			if s.ToServer != tc.wantServer || s.ToClient != tc.wantClnt {
				t.Errorf("to server %d, to client %d; want %d, %d", s.ToServer, s.ToClient, tc.wantServer, tc.wantClnt)
			}
			if found := tc.wantServer > 2; found && (s.Last != 10e9 || s.Packets != 14) || !found && s.Last == 10e9 {
				t.Errorf("last seen %d, packets %d", s.Last, s.Packets)
			}
		})
	}
}
