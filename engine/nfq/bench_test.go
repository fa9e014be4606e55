package nfq_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/conduit-ot/conduit/engine/nfq"
	"github.com/conduit-ot/conduit/engine/nfq/nfqtest"
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

// BenchmarkParsePacket is the decode of one packet message alone (the
// attribute walk of every queued packet), without the system calls.
func BenchmarkParsePacket(b *testing.B) {
	msg := nfqtest.PacketMessageFrom(3, 1, make([]byte, 64), true, 7, []byte{0, 0x80, 0xf4, 0, 0, 2})
	var p nfq.Packet
	b.ReportAllocs()
	for b.Loop() {
		if err := nfq.ParsePacket(msg[unix.NLMSG_HDRLEN:], &p); err != nil {
			b.Fatal(err)
		}
	}
}
