package nfq_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/conduit-ot/conduit/engine/nfq"
	"github.com/conduit-ot/conduit/engine/nfq/nfqtest"
)

// pair returns a Queue reading batches of 4 and the socket standing in for
// the kernel.
func pair(t testing.TB) (*nfq.Queue, int) {
	t.Helper()
	q, k, err := nfqtest.NewFake(3, 4, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close(); unix.Close(k) })
	// A verdict that never comes fails the test instead of hanging it.
	tv := unix.NsecToTimeval(time.Second.Nanoseconds())
	if err := unix.SetsockoptTimeval(k, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	return q, k
}

func packetMsg(id uint32, payload []byte, gso bool) []byte {
	return nfqtest.PacketMessage(3, id, payload, gso)
}

func TestReadDecodesPackets(t *testing.T) {
	q, k := pair(t)
	payload := []byte{0x45, 0, 0, 20, 1, 2, 3}
	// Two messages in one datagram, then one alone.
	dgram := append(packetMsg(10, payload, false), packetMsg(11, payload[:5], true)...)
	unix.Write(k, dgram)
	unix.Write(k, packetMsg(12, nil, false))
	var p nfq.Packet
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
	if err := q.Read(&p); !errors.Is(err, nfq.ErrTimeout) {
		t.Fatalf("Read on empty socket = %v, want ErrTimeout", err)
	}
}

func TestReadSkipsGarbage(t *testing.T) {
	q, k := pair(t)
	unix.Write(k, []byte{1, 2, 3})                                              // shorter than a header
	unix.Write(k, []byte{0xff, 0xff, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // length beyond datagram
	bad := packetMsg(5, nil, false)
	bad[unix.NLMSG_HDRLEN+4+2] = 3 // NFQA_MARK: the packet header attribute is gone
	unix.Write(k, bad)
	errMsg := make([]byte, unix.NLMSG_HDRLEN+4)
	binary.NativeEndian.PutUint32(errMsg, uint32(len(errMsg)))
	binary.NativeEndian.PutUint16(errMsg[4:], unix.NLMSG_ERROR)
	binary.NativeEndian.PutUint32(errMsg[16:], uint32(0xfffffffe)) // -ENOENT
	unix.Write(k, errMsg)
	unix.Write(k, packetMsg(6, []byte{0x60}, false))
	var p nfq.Packet
	if err := q.Read(&p); err != nil || p.ID != 6 {
		t.Fatalf("Read = id %d, %v; want the one good packet (6)", p.ID, err)
	}
	if q.Stats.Malformed != 2 || q.Stats.VerdictErrors != 1 {
		t.Errorf("stats = %+v, want 2 malformed, 1 verdict error", q.Stats)
	}
}

// sent returns the next message the queue sent to the kernel's end k.
func sent(t testing.TB, k int) []byte {
	t.Helper()
	buf := make([]byte, 256)
	n, err := unix.Read(k, buf)
	if err != nil {
		t.Fatalf("read what the queue sent: %v", err)
	}
	return buf[:n]
}

// TestVerdictEncoding: a single and a batch verdict are each one 32-byte
// message of their type to queue 3 with the verdict header (verdict and
// id, big-endian); a modified verdict carries the new payload.
func TestVerdictEncoding(t *testing.T) {
	q, k := pair(t)
	for _, tc := range []struct {
		send    func(id, verdict uint32) error
		verdict uint32
		typ     uint16
		batch   bool
	}{
		{q.Verdict, nfq.Drop, 3<<8 | 1, false},       // NFQNL_MSG_VERDICT
		{q.VerdictBatch, nfq.Accept, 3<<8 | 3, true}, // NFQNL_MSG_VERDICT_BATCH
	} {
		if err := tc.send(0x01020304, tc.verdict); err != nil {
			t.Fatal(err)
		}
		got := sent(t, k)
		if len(got) != 32 {
			t.Fatalf("verdict message is %d bytes, want 32", len(got))
		}
		if typ := binary.NativeEndian.Uint16(got[4:]); typ != tc.typ {
			t.Errorf("type %#x, want %#x", typ, tc.typ)
		}
		if num := binary.BigEndian.Uint16(got[18:]); num != 3 {
			t.Errorf("queue %d, want 3", num)
		}
		if want := binary.BigEndian.AppendUint32(nil, tc.verdict); !bytes.Equal(got[24:], append(want, 1, 2, 3, 4)) {
			t.Errorf("verdict header % x", got[24:])
		}
		v, err := nfqtest.ParseVerdict(got)
		if err != nil || v.Batch != tc.batch || v.ID != 0x01020304 || v.Verdict != tc.verdict {
			t.Errorf("verdict = %+v, %v", v, err)
		}
	}

	if err := q.VerdictModified(9, nfq.Accept, []byte{0x45, 1, 2}); err != nil {
		t.Fatal(err)
	}
	got := sent(t, k)
	if l, n := binary.NativeEndian.Uint32(got), len(got); int(l) != n || n != 20+12+8 {
		t.Fatalf("modified verdict length %d read %d", l, n)
	}
	if !bytes.Equal(got[36:39], []byte{0x45, 1, 2}) {
		t.Errorf("payload attribute % x", got[32:])
	}
}

// readVerdictAllocs counts the allocations of one Read and its verdict
// per packet. The test's own Write allocates nothing either; anything
// counted is the queue's.
func readVerdictAllocs(t *testing.T, gso bool, verdict func(q *nfq.Queue, id uint32) error) float64 {
	t.Helper()
	q, k := pair(t)
	msg := packetMsg(1, make([]byte, 64), gso)
	var p nfq.Packet
	sink := make([]byte, 64)
	return testing.AllocsPerRun(1000, func() {
		unix.Write(k, msg)
		if err := q.Read(&p); err != nil {
			t.Fatal(err)
		}
		if err := verdict(q, p.ID); err != nil {
			t.Fatal(err)
		}
		unix.Read(k, sink) // keep the socketpair from filling up
	})
}

func TestReadVerdictNoAllocs(t *testing.T) {
	allocs := readVerdictAllocs(t, true, func(q *nfq.Queue, id uint32) error { return q.Verdict(id, nfq.Accept) })
	if allocs != 0 {
		t.Errorf("Read+Verdict allocate %.1f times per packet", allocs)
	}
}

// TestReadBatch: one system call takes up to Batch datagrams; a datagram
// that holds more packets than the caller has room for is finished by the
// next call before the socket is read again, and no packet is lost.
func TestReadBatch(t *testing.T) {
	q, k := pair(t) // batches of 4 datagrams
	payload := []byte{0x45, 0, 0, 20}
	unix.Write(k, packetMsg(1, payload, false))
	unix.Write(k, append(packetMsg(2, payload, false), packetMsg(3, payload, false)...))
	unix.Write(k, packetMsg(4, payload, false))
	unix.Write(k, packetMsg(5, payload, false))
	unix.Write(k, packetMsg(6, payload, false)) // beyond the first batch
	ps := make([]nfq.Packet, 3)
	var got [][]uint32
	for {
		n, err := q.ReadBatch(ps)
		if errors.Is(err, nfq.ErrTimeout) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var ids []uint32
		for _, p := range ps[:n] {
			ids = append(ids, p.ID)
			if len(p.Payload) != 4 || p.Payload[0] != 0x45 {
				t.Errorf("packet %d payload % x", p.ID, p.Payload)
			}
		}
		got = append(got, ids)
	}
	want := [][]uint32{{1, 2, 3}, {4, 5}, {6}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("batches %v, want %v", got, want)
	}
	if q.Stats.Packets != 6 {
		t.Errorf("%d packets counted, want 6", q.Stats.Packets)
	}
}

// TestMalformedPacketWithIDIsDropped: a packet message whose id is readable
// but whose attributes are not still gets a verdict, and it is drop.
func TestMalformedPacketWithIDIsDropped(t *testing.T) {
	q, k := pair(t)
	bad := packetMsg(42, []byte{0x45, 1, 2, 3}, false)
	// Make the last attribute (the payload) claim more than the message holds.
	binary.NativeEndian.PutUint16(bad[len(bad)-8:], 200)
	unix.Write(k, bad)
	unix.Write(k, packetMsg(43, []byte{0x45}, false))
	var p nfq.Packet
	if err := q.Read(&p); err != nil || p.ID != 43 {
		t.Fatalf("Read = id %d, %v; want 43", p.ID, err)
	}
	buf := make([]byte, 64)
	n, err := unix.Read(k, buf)
	if err != nil {
		t.Fatal(err)
	}
	v, err := nfqtest.ParseVerdict(buf[:n])
	if err != nil || v.ID != 42 || v.Verdict != nfq.Drop || v.Batch {
		t.Errorf("verdict for the malformed packet = %+v, %v; want drop of 42", v, err)
	}
	if q.Stats.Malformed != 1 {
		t.Errorf("malformed = %d, want 1", q.Stats.Malformed)
	}
}

func TestReadBatchVerdictBatchNoAllocs(t *testing.T) {
	q, k := pair(t)
	msg := packetMsg(1, make([]byte, 64), true)
	ps := make([]nfq.Packet, 16)
	sink := make([]byte, 64)
	allocs := testing.AllocsPerRun(500, func() {
		for range 4 {
			unix.Write(k, msg)
		}
		n, err := q.ReadBatch(ps)
		if err != nil || n == 0 {
			t.Fatal(n, err)
		}
		if err := q.VerdictBatch(ps[n-1].ID, nfq.Accept); err != nil {
			t.Fatal(err)
		}
		unix.Read(k, sink)
		for range 4 - n { // anything the batch did not take
			q.ReadBatch(ps)
		}
	})
	if allocs != 0 {
		t.Errorf("ReadBatch+VerdictBatch allocate %.1f times per batch", allocs)
	}
}

// TestVerdictCtMarkEncoding: one NFQNL_MSG_VERDICT with the verdict header
// and a nested NFQA_CT holding CTA_MARK and CTA_MARK_MASK, so that the
// kernel sets only the masked bits of the entry's mark.
func TestVerdictCtMarkEncoding(t *testing.T) {
	q, k := pair(t)
	for _, tc := range []struct{ mark, mask, wantMark uint32 }{
		{0x4000_0000, 0x4000_0000, 0x4000_0000},
		{0, 0x4000_0000, 0},              // clear the bit
		{0xffff_ffff, 0x0000_00f0, 0xf0}, // a mark beyond the mask is cut to it
	} {
		if err := q.VerdictCtMark(77, nfq.Accept, tc.mark, tc.mask); err != nil {
			t.Fatal(err)
		}
		got := sent(t, k)
		n := len(got)
		if n != nfq.CtVerdictSize || int(binary.NativeEndian.Uint32(got)) != n {
			t.Fatalf("message is %d bytes (header says %d), want %d", n, binary.NativeEndian.Uint32(got), nfq.CtVerdictSize)
		}
		v, err := nfqtest.ParseVerdict(got)
		if err != nil {
			t.Fatal(err)
		}
		if v.Batch || v.ID != 77 || v.Verdict != nfq.Accept || !v.HasCt || v.CtMark != tc.wantMark || v.CtMask != tc.mask {
			t.Errorf("mark %#x mask %#x: sent %+v", tc.mark, tc.mask, v)
		}
		// The nested attribute is flagged as such and spans both marks.
		if typ := binary.NativeEndian.Uint16(got[34:]); typ != 11|unix.NLA_F_NESTED { // NFQA_CT
			t.Errorf("attribute type %#x, want NFQA_CT|NLA_F_NESTED", typ)
		}
		if l := binary.NativeEndian.Uint16(got[32:]); l != 20 {
			t.Errorf("NFQA_CT length %d, want 20", l)
		}
	}
}

func TestVerdictCtMarkNoAllocs(t *testing.T) {
	allocs := readVerdictAllocs(t, false, func(q *nfq.Queue, id uint32) error {
		return q.VerdictCtMark(id, nfq.Accept, 0x4000_0000, 0x4000_0000)
	})
	if allocs != 0 {
		t.Errorf("Read+VerdictCtMark allocate %.1f times per packet", allocs)
	}
}

// TestVerdictMark: the mark rides on single, batch and modified verdicts
// as NFQA_MARK, and a packet's own mark is read from its message; setting
// it costs no allocation.
func TestVerdictMark(t *testing.T) {
	q, k := pair(t)
	unix.Write(k, nfqtest.PacketMessageMark(3, 5, make([]byte, 20), false, 0x0000_00aa))
	var p nfq.Packet
	if err := q.Read(&p); err != nil || p.Mark != 0xaa {
		t.Fatalf("read mark %#x, %v", p.Mark, err)
	}
	buf := make([]byte, 200)
	for _, tc := range []struct {
		send  func() error
		batch bool
	}{
		{func() error { return q.VerdictMark(5, nfq.Accept, p.Mark|0x8000_0000) }, false},
		{func() error { return q.VerdictBatchMark(5, nfq.Accept, p.Mark|0x8000_0000) }, true},
		{func() error { return q.VerdictModifiedMark(5, nfq.Accept, []byte{0x45, 0, 0, 20}, p.Mark|0x8000_0000) }, false},
	} {
		if err := tc.send(); err != nil {
			t.Fatal(err)
		}
		n, _ := unix.Read(k, buf)
		v, err := nfqtest.ParseVerdict(buf[:n])
		if err != nil || !v.HasMark || v.Mark != 0x8000_00aa || v.ID != 5 || v.Batch != tc.batch {
			t.Errorf("verdict %+v, %v", v, err)
		}
	}
	q.Verdict(5, nfq.Accept)
	n, _ := unix.Read(k, buf)
	if v, _ := nfqtest.ParseVerdict(buf[:n]); v.HasMark {
		t.Error("a plain verdict carries a mark")
	}
	allocs := testing.AllocsPerRun(1000, func() {
		q.VerdictMark(5, nfq.Accept, 0x8000_0000)
		unix.Read(k, buf)
	})
	if allocs != 0 {
		t.Errorf("VerdictMark allocates %.1f times", allocs)
	}
}

// TestReadHWAddr decodes the source MAC (NFQA_HWADDR) and the bridge port
// a packet came in on, and refuses a hardware address longer than the
// kernel's array.
func TestReadHWAddr(t *testing.T) {
	mac := []byte{0x02, 0, 0, 0, 0x40, 0x10}
	cases := []struct {
		name   string
		msg    []byte
		physIn uint32
		n      uint8
		ok     bool
	}{
		{"ethernet", nfqtest.PacketMessageFrom(3, 1, []byte{0x45}, false, 9, mac), 9, 6, true},
		{"none", nfqtest.PacketMessageFrom(3, 2, []byte{0x45}, false, 0, nil), 0, 0, false},
		{"eight bytes", nfqtest.PacketMessageFrom(3, 3, []byte{0x45}, false, 4, []byte{1, 2, 3, 4, 5, 6, 7, 8}), 4, 8, false},
	}
	bad := nfqtest.PacketMessageFrom(3, 4, []byte{0x45}, false, 5, mac)
	i := bytes.Index(bad, []byte{0, 6, 0, 0, 0x02, 0, 0, 0, 0x40, 0x10})
	bad[i+1] = 9 // hw_addrlen 9: beyond hw_addr[8]
	cases = append(cases, struct {
		name   string
		msg    []byte
		physIn uint32
		n      uint8
		ok     bool
	}{"length beyond the array", bad, 5, 0, false})
	for _, c := range cases {
		var p nfq.Packet
		if err := nfq.ParsePacket(c.msg[unix.NLMSG_HDRLEN:], &p); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		m, ok := p.MAC()
		if p.PhysIn != c.physIn || p.HWAddrLen != c.n || ok != c.ok || ok && !bytes.Equal(m[:], mac) {
			t.Errorf("%s: physin %d hwlen %d mac %x %v", c.name, p.PhysIn, p.HWAddrLen, m, ok)
		}
	}
	msg := nfqtest.PacketMessageFrom(3, 1, []byte{0x45}, false, 9, mac)
	var p nfq.Packet
	if n := testing.AllocsPerRun(100, func() { nfq.ParsePacket(msg[unix.NLMSG_HDRLEN:], &p) }); n != 0 {
		t.Errorf("parsePacket allocates %v", n)
	}
}

// TestVerdictCtMarkMark: the conntrack mark and the packet's judged mark
// in one verdict.
func TestVerdictCtMarkMark(t *testing.T) {
	q, k := pair(t)
	if err := q.VerdictCtMarkMark(5, nfq.Accept, 0x4000_0000, 0x4000_0000, 0x8000_0007); err != nil {
		t.Fatal(err)
	}
	got := sent(t, k)
	v, err := nfqtest.ParseVerdict(got)
	if n := len(got); err != nil || n != nfq.CtVerdictMarkSize || !v.HasCt || v.CtMark != 0x4000_0000 || !v.HasMark || v.Mark != 0x8000_0007 || v.ID != 5 {
		t.Errorf("sent %d bytes %+v, %v", n, v, err)
	}
}
