package nfq_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/conduit-ot/conduit/engine/nfq"
)

// BenchmarkReadVerdict is the reader's own cost per packet over a
// socketpair: one datagram in, ReadBatch, one verdict out.
func BenchmarkReadVerdict(b *testing.B) {
	q, k := pair(b)
	msg := packetMsg(1, make([]byte, 64), false)
	ps := make([]nfq.Packet, 4)
	sink := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		unix.Write(k, msg)
		n, err := q.ReadBatch(ps)
		if err != nil || n != 1 {
			b.Fatal(n, err)
		}
		if err := q.VerdictBatch(ps[0].ID, nfq.Accept); err != nil {
			b.Fatal(err)
		}
		unix.Read(k, sink)
	}
}
