package nfq

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// pair returns a Queue whose socket is one end of a datagram socketpair and
// the other end, standing in for the kernel.
func pair(t testing.TB) (*Queue, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	tv := unix.NsecToTimeval((50 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fds[0], unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	q := &Queue{fd: fds[0], num: 3, rbuf: make([]byte, 0x10000+4096), mbuf: make([]byte, 0x10000+64)}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return q, fds[1]
}

// packetMsg builds an NFQNL_MSG_PACKET as the kernel sends it.
func packetMsg(id uint32, payload []byte, gso bool) []byte {
	b := make([]byte, 256+len(payload))
	n := nlmsgHdrLen + nfgenHdrLen
	hdr := make([]byte, 7)
	binary.BigEndian.PutUint32(hdr, id)
	binary.BigEndian.PutUint16(hdr[4:], 0x0800)
	hdr[6] = 2 // NF_INET_FORWARD
	n += putAttr(b[n:], attrPacketHdr, hdr)
	n += putAttr(b[n:], attrPhysInDev, binary.BigEndian.AppendUint32(nil, 7))
	if gso {
		n += putAttr(b[n:], attrSkbInfo, binary.BigEndian.AppendUint32(nil, skbInfoGSO))
	}
	n += putAttr(b[n:], attrPayload, payload)
	putHeader(b, n, msgPacket, 0, 0, 3)
	return b[:n]
}

func TestReadDecodesPackets(t *testing.T) {
	q, k := pair(t)
	payload := []byte{0x45, 0, 0, 20, 1, 2, 3}
	// Two messages in one datagram, then one alone.
	dgram := append(packetMsg(10, payload, false), packetMsg(11, payload[:5], true)...)
	unix.Write(k, dgram)
	unix.Write(k, packetMsg(12, nil, false))
	var p Packet
	for _, want := range []struct {
		id  uint32
		n   int
		gso bool
	}{{10, 7, false}, {11, 5, true}, {12, 0, false}} {
		if err := q.Read(&p); err != nil {
			t.Fatalf("Read: %v", err)
		}
		if p.ID != want.id || len(p.Payload) != want.n || p.GSO != want.gso || p.HWProto != 0x0800 || p.PhysIn != 7 {
			t.Errorf("packet = id %d len %d gso %v proto %#x physin %d, want id %d len %d gso %v",
				p.ID, len(p.Payload), p.GSO, p.HWProto, p.PhysIn, want.id, want.n, want.gso)
		}
	}
	if err := q.Read(&p); !errors.Is(err, ErrTimeout) {
		t.Fatalf("Read on empty socket = %v, want ErrTimeout", err)
	}
}

func TestReadSkipsGarbage(t *testing.T) {
	q, k := pair(t)
	unix.Write(k, []byte{1, 2, 3})                                              // shorter than a header
	unix.Write(k, []byte{0xff, 0xff, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // length beyond datagram
	bad := packetMsg(5, nil, false)
	bad[nlmsgHdrLen+nfgenHdrLen+2] = attrMark // the packet header attribute is gone
	unix.Write(k, bad)
	errMsg := make([]byte, nlmsgHdrLen+4)
	binary.NativeEndian.PutUint32(errMsg, uint32(len(errMsg)))
	binary.NativeEndian.PutUint16(errMsg[4:], nlmsgError)
	binary.NativeEndian.PutUint32(errMsg[16:], uint32(0xfffffffe)) // -ENOENT
	unix.Write(k, errMsg)
	unix.Write(k, packetMsg(6, []byte{0x60}, false))
	var p Packet
	if err := q.Read(&p); err != nil || p.ID != 6 {
		t.Fatalf("Read = id %d, %v; want the one good packet (6)", p.ID, err)
	}
	if q.Stats.Malformed != 2 || q.Stats.VerdictErrors != 1 {
		t.Errorf("stats = %+v, want 2 malformed, 1 verdict error", q.Stats)
	}
}

func TestVerdictEncoding(t *testing.T) {
	q, k := pair(t)
	if err := q.Verdict(0x01020304, Drop); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 100)
	n, _ := unix.Read(k, got)
	got = got[:n]
	if n != 32 {
		t.Fatalf("verdict message is %d bytes, want 32", n)
	}
	if typ := binary.NativeEndian.Uint16(got[4:]); typ != 3<<8|msgVerdict {
		t.Errorf("type %#x", typ)
	}
	if num := binary.BigEndian.Uint16(got[18:]); num != 3 {
		t.Errorf("queue %d, want 3", num)
	}
	if !bytes.Equal(got[24:], []byte{0, 0, 0, 0, 1, 2, 3, 4}) {
		t.Errorf("verdict header % x", got[24:])
	}

	if err := q.VerdictModified(9, Accept, []byte{0x45, 1, 2}); err != nil {
		t.Fatal(err)
	}
	got = make([]byte, 100)
	n, _ = unix.Read(k, got)
	if l := binary.NativeEndian.Uint32(got); int(l) != n || n != 20+12+8 {
		t.Fatalf("modified verdict length %d read %d", l, n)
	}
	if !bytes.Equal(got[36:39], []byte{0x45, 1, 2}) {
		t.Errorf("payload attribute % x", got[32:n])
	}
}

func TestReadVerdictNoAllocs(t *testing.T) {
	q, k := pair(t)
	msg := packetMsg(1, make([]byte, 64), true)
	var p Packet
	sink := make([]byte, 64)
	allocs := testing.AllocsPerRun(1000, func() {
		unix.Write(k, msg)
		if err := q.Read(&p); err != nil {
			t.Fatal(err)
		}
		if err := q.Verdict(p.ID, Accept); err != nil {
			t.Fatal(err)
		}
		unix.Read(k, sink) // keep the socketpair from filling up
	})
	// The test's own Write allocates nothing either; anything counted is ours.
	if allocs != 0 {
		t.Errorf("Read+Verdict allocate %.1f times per packet", allocs)
	}
}
