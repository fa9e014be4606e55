package nfq_test

import (
	"errors"
	"testing"

	"github.com/conduit-ot/conduit/engine/nfq"
	"github.com/conduit-ot/conduit/engine/nfq/nfqtest"
)

// FuzzRead feeds arbitrary datagrams to the reader, as if the kernel sent
// them: it must never panic or loop, and whatever it returns as a packet
// must lie inside what was sent.
func FuzzRead(f *testing.F) {
	f.Add(nfqtest.PacketMessage(3, 1, []byte{0x45, 0, 0, 20}, false))
	f.Add(nfqtest.PacketMessage(3, 0xffffffff, make([]byte, 1500), true))
	two := append(nfqtest.PacketMessage(3, 1, []byte{0x60}, false), nfqtest.PacketMessage(3, 2, nil, false)...)
	f.Add(two)
	f.Add([]byte{16, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff}) // NLMSG_ERROR
	f.Add(nfqtest.PacketMessageFrom(3, 5, []byte{0x45, 0, 0, 20}, false, 4, []byte{2, 0, 0, 0, 0x40, 0x10}))
	f.Add([]byte{0xff, 0xff, 0, 0, 0, 3})
	f.Fuzz(func(t *testing.T, dgram []byte) {
		if len(dgram) == 0 || len(dgram) > nfq.MaxMessage {
			return
		}
		// The datagram as the last recvmmsg left it; with no socket behind
		// the queue, reading past it fails instead of blocking.
		q := nfq.WithDatagram(dgram)
		ps := make([]nfq.Packet, 4)
		for range len(dgram)/4 + 2 { // each call consumes at least one message or the datagram
			n, err := q.ReadBatch(ps)
			if err != nil {
				if errors.Is(err, nfq.ErrTimeout) {
					t.Fatal("timeout without a socket")
				}
				return // everything was consumed
			}
			for _, p := range ps[:n] {
				if len(p.Payload) > len(dgram) {
					t.Fatalf("payload of %d bytes from a %d-byte datagram", len(p.Payload), len(dgram))
				}
				if int(p.HWAddrLen) > len(p.HWAddr) {
					t.Fatalf("hardware address of %d bytes", p.HWAddrLen)
				}
			}
		}
		t.Fatal("the reader kept returning packets from one datagram")
	})
}
