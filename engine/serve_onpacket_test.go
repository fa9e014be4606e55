package engine

import "testing"

// BenchmarkServeBatchOnPacket is BenchmarkServeBatch (judged mark) with
// Config.OnPacket set to a copy into a fixed slot, as the daemon's live
// matrix feed does: the hook's cost on the verdict path.
func BenchmarkServeBatchOnPacket(b *testing.B) {
	te := newTestEngine(b, pol{mode: "enforce"})
	te.verdictMark = 0x8000_0000
	var slot [2048]byte
	var last int64
	te.onPacket = func(_ int, ts int64, p []byte) { last = ts; copy(slot[:], p) }
	benchBatch(b, te)
	if last == 0 {
		b.Fatal("OnPacket never called")
	}
}
