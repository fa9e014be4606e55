package engine

import (
	"testing"

	"github.com/conduit-ot/conduit/engine/nfq"
	"golang.org/x/sys/unix"
)

// BenchmarkServeBatchOnPacket is BenchmarkServeBatch (judged mark) with
// Config.OnPacket set to a copy into a fixed slot, as the daemon's live
// matrix feed does: the hook's cost on the verdict path.
func BenchmarkServeBatchOnPacket(b *testing.B) {
	te := newTestEngine(b, pol{mode: "enforce"})
	te.verdictMark = 0x8000_0000
	var slot [2048]byte
	var last int64
	te.onPacket = func(_ int, ts int64, p []byte) { last = ts; copy(slot[:], p) }
	q, k := fakeQueue(b, 0)
	s := server{e: te.Engine, w: te.workers[0], q: q, rc: &te.reads[0], accepts: make([]uint32, 0, readBatch)}
	var ps [readBatch]nfq.Packet
	for i := range ps {
		ps[i] = nfq.Packet{ID: uint32(i + 1), Payload: tcp(hmi, plc, 40000+uint16(i), 502, fSYN)}
	}
	s.batch(ps[:])
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
	if last == 0 {
		b.Fatal("OnPacket never called")
	}
}
