package engine

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/engine/nfq"
	"github.com/conduit-ot/conduit/engine/nfq/nfqtest"
	"golang.org/x/sys/unix"
)

// TestServeBatchesAccepts: the packets waiting when Serve reads are judged
// in order; a run of accepts goes out as one batch verdict, and a drop
// first flushes the accepts before it, so the kernel releases packets in
// the order they came. Every packet gets exactly one verdict.
// fakeQueue opens an NFQUEUE fake that reads up to readBatch messages,
// both ends closed when tb ends. A rcvTimeout above 0 bounds each read of
// the kernel end, so a test waiting for verdicts fails instead of hanging.
func fakeQueue(tb testing.TB, rcvTimeout time.Duration) (*nfq.Queue, int) {
	tb.Helper()
	q, k, err := nfqtest.NewFake(0, readBatch, 20*time.Millisecond)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { unix.Close(k) })
	tb.Cleanup(func() { q.Close() })
	if rcvTimeout > 0 {
		tv := unix.NsecToTimeval(rcvTimeout.Nanoseconds())
		if err := unix.SetsockoptTimeval(k, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			tb.Fatal(err)
		}
	}
	return q, k
}

func TestServeBatchesAccepts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pkts  [][]byte
		wants []nfqtest.SentVerdict
	}{
		{"one packet gets a plain verdict",
			[][]byte{tcp(hmi, plc, 40000, 502, fSYN)},
			[]nfqtest.SentVerdict{{ID: 1, Verdict: nfq.Accept}}},
		{"accepts around a drop",
			[][]byte{
				tcp(hmi, plc, 40000, 502, fSYN),
				tcp(hmi, plc, 40001, 502, fSYN),
				tcp(hmi, plc, 40002, 503, fSYN), // no rule: dropped in enforce
				tcp(hmi, plc, 40000, 502, fACK),
				tcp(hmi, plc, 40001, 502, fACK),
			},
			[]nfqtest.SentVerdict{
				{Batch: true, ID: 2, Verdict: nfq.Accept},
				{ID: 3, Verdict: nfq.Drop},
				{Batch: true, ID: 5, Verdict: nfq.Accept},
			}},
		{"drops are never batched",
			[][]byte{tcp(hmi, plc, 40002, 503, fSYN), tcp(hmi, plc, 40003, 503, fSYN), tcp(hmi, plc, 40000, 502, fSYN)},
			[]nfqtest.SentVerdict{{ID: 1, Verdict: nfq.Drop}, {ID: 2, Verdict: nfq.Drop}, {ID: 3, Verdict: nfq.Accept}}},
		{"a malformed packet is dropped between accepts",
			[][]byte{tcp(hmi, plc, 40000, 502, fSYN), {0x45, 0, 0}, tcp(hmi, plc, 40001, 502, fSYN)},
			[]nfqtest.SentVerdict{{ID: 1, Verdict: nfq.Accept}, {ID: 2, Verdict: nfq.Drop}, {ID: 3, Verdict: nfq.Accept}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			te := newTestEngine(t, pol{mode: "enforce"})
			q, k := fakeQueue(t, time.Second)
			// All queued before the reader starts: one read takes them all.
			for i, p := range tc.pkts {
				if _, err := unix.Write(k, nfqtest.PacketMessage(0, uint32(i+1), p, false)); err != nil {
					t.Fatal(err)
				}
			}
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() { te.Serve(context.Background(), 0, q, stop); close(done) }()
			buf := make([]byte, 256)
			for i, want := range tc.wants {
				n, err := unix.Read(k, buf)
				if err != nil {
					t.Fatalf("verdict %d: %v", i, err)
				}
				got, err := nfqtest.ParseVerdict(buf[:n])
				if err != nil {
					t.Fatal(err)
				}
				if got.Batch != want.Batch || got.ID != want.ID || got.Verdict != want.Verdict {
					t.Errorf("verdict %d = %+v, want %+v", i, got, want)
				}
			}
			close(stop)
			<-done
			tv := unix.NsecToTimeval((50 * time.Millisecond).Nanoseconds())
			_ = unix.SetsockoptTimeval(k, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
			if n, err := unix.Read(k, buf); err == nil {
				v, _ := nfqtest.ParseVerdict(buf[:n])
				t.Errorf("an extra verdict: %+v", v)
			}
			st := te.QueueStats()[0]
			if st.Packets != uint64(len(tc.pkts)) || st.Reads != 1 || st.VerdictMessages != uint64(len(tc.wants)) {
				t.Errorf("stats: %d packets, %d reads, %d verdict messages; want %d, 1, %d",
					st.Packets, st.Reads, st.VerdictMessages, len(tc.pkts), len(tc.wants))
			}
		})
	}
}

// TestServeNoBatchPastUnansweredPacket: a packet message whose id cannot
// be read leaves that packet waiting in the kernel without a verdict; a
// batch verdict past its id would pass it unjudged, so from then on each
// accept is sent on its own.
func TestServeNoBatchPastUnansweredPacket(t *testing.T) {
	te := newTestEngine(t, pol{mode: "enforce"})
	q, k := fakeQueue(t, time.Second)
	headless := nfqtest.PacketMessage(0, 2, tcp(hmi, plc, 40009, 502, fSYN), false)
	headless[16+4+2] = 3 // the packet header attribute becomes a mark: no id
	for _, m := range [][]byte{
		nfqtest.PacketMessage(0, 1, tcp(hmi, plc, 40000, 502, fSYN), false),
		headless,
		nfqtest.PacketMessage(0, 3, tcp(hmi, plc, 40001, 502, fSYN), false),
		nfqtest.PacketMessage(0, 4, tcp(hmi, plc, 40002, 502, fSYN), false),
	} {
		if _, err := unix.Write(k, m); err != nil {
			t.Fatal(err)
		}
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { te.Serve(context.Background(), 0, q, stop); close(done) }()
	buf := make([]byte, 256)
	for _, want := range []uint32{1, 3, 4} {
		n, err := unix.Read(k, buf)
		if err != nil {
			t.Fatalf("verdict for %d: %v", want, err)
		}
		v, err := nfqtest.ParseVerdict(buf[:n])
		if err != nil || v.Batch || v.ID != want || v.Verdict != nfq.Accept {
			t.Errorf("verdict %+v, %v; want a single accept of %d", v, err, want)
		}
	}
	close(stop)
	<-done
}

// TestServeSetsJudgedMark: with a verdict mark, every verdict sets it in
// the packet's mark and keeps the packet's other bits; a batch verdict
// only covers packets that end with the same mark.
func TestServeSetsJudgedMark(t *testing.T) {
	te := newTestEngine(t, pol{mode: "enforce"})
	te.verdictMark = 0x8000_0000
	q, k := fakeQueue(t, time.Second)
	pkts := []struct {
		b    []byte
		mark uint32
	}{
		{tcp(hmi, plc, 40000, 502, fSYN), 0},
		{tcp(hmi, plc, 40001, 502, fSYN), 0},
		{tcp(hmi, plc, 40002, 502, fSYN), 0x11},
		{tcp(hmi, plc, 40003, 503, fSYN), 0x22}, // dropped
	}
	for i, p := range pkts {
		unix.Write(k, nfqtest.PacketMessageMark(0, uint32(i+1), p.b, false, p.mark))
	}
	want := []nfqtest.SentVerdict{
		{Batch: true, ID: 2, Verdict: nfq.Accept, Mark: 0x8000_0000, HasMark: true},
		{ID: 3, Verdict: nfq.Accept, Mark: 0x8000_0011, HasMark: true},
		{ID: 4, Verdict: nfq.Drop, Mark: 0x8000_0022, HasMark: true},
	}
	for i, got := range servedVerdicts(t, te, q, k, len(want)) {
		if w := want[i]; got.Batch != w.Batch || got.ID != w.ID || got.Verdict != w.Verdict || got.Mark != w.Mark || !got.HasMark {
			t.Errorf("verdict %d = %+v, want %+v", i, got, w)
		}
	}
}

// servedVerdicts serves q (queue 0) by te until n verdicts reached the
// kernel's side k, and returns them decoded.
func servedVerdicts(t *testing.T, te *testEngine, q *nfq.Queue, k, n int) []nfqtest.SentVerdict {
	t.Helper()
	stop, done := make(chan struct{}), make(chan struct{})
	go func() { te.Serve(context.Background(), 0, q, stop); close(done) }()
	defer func() { close(stop); <-done }()
	buf := make([]byte, 256)
	out := make([]nfqtest.SentVerdict, n)
	for i := range out {
		m, err := unix.Read(k, buf)
		if err != nil {
			t.Fatalf("verdict %d: %v", i, err)
		}
		if out[i], err = nfqtest.ParseVerdict(buf[:m]); err != nil {
			t.Errorf("verdict %d: %v", i, err)
		}
	}
	return out
}

// BenchmarkServeBatch is the verdict side of the packet path: a batch of
// 16 accepted packets of established flows judged and released with one
// batch verdict, with and without the judged mark.
func BenchmarkServeBatch(b *testing.B) {
	for _, mark := range []uint32{0, 0x8000_0000} {
		b.Run(fmt.Sprintf("mark=%#x", mark), func(b *testing.B) {
			te := newTestEngine(b, pol{mode: "enforce"})
			te.verdictMark = mark
			benchBatch(b, te)
		})
	}
}

// benchBatch times te's first worker serving batches of readBatch packets
// of established flows (the flows opened first) from a fake queue.
func benchBatch(b *testing.B, te *testEngine) {
	q, k := fakeQueue(b, 0)
	s := server{e: te.Engine, w: te.workers[0], q: q, rc: &te.reads[0], accepts: make([]uint32, 0, readBatch)}
	var ps [readBatch]nfq.Packet
	for i := range ps {
		ps[i] = nfq.Packet{ID: uint32(i + 1), Payload: tcp(hmi, plc, 40000+uint16(i), 502, fSYN)}
	}
	s.batch(ps[:]) // open the flows
	sink := make([]byte, 256)
	for i := range ps {
		ps[i].Payload = tcp(hmi, plc, 40000+uint16(i), 502, fACK)
	}
	unix.Read(k, sink)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s.batch(ps[:])
		unix.Read(k, sink)
	}
}
