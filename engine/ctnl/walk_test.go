package ctnl

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

func nlmsg(typ uint16, seq uint32, body []byte) []byte {
	b := make([]byte, nlmsgHdrLen, nlmsgHdrLen+len(body)+3)
	b = append(b, body...)
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint32(b[8:], seq)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func errMsg(seq uint32, errno int32) []byte {
	return nlmsg(nlmsgError, seq, binary.NativeEndian.AppendUint32(nil, uint32(-errno)))
}

// withMarkCounters is an entry message with a mark and accounting.
func withMarkCounters(t testing.TB) []byte {
	ae := netlink.NewAttributeEncoder()
	ae.Bytes(ctaMark, binary.BigEndian.AppendUint32(nil, 0x4000_0005))
	for _, d := range []uint16{ctaCountersOrig, ctaCountersReply} {
		ae.Nested(d, func(n *netlink.AttributeEncoder) error {
			n.Bytes(ctaCountersPackets, binary.BigEndian.AppendUint64(nil, uint64(d)*10))
			n.Bytes(ctaCountersBytes, binary.BigEndian.AppendUint64(nil, uint64(d)*1000))
			return nil
		})
	}
	extra, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return append(entryMsg(t, protoUDP, "10.20.0.10", "10.10.0.10", 5000, 2222, 0, statusSeenReply), extra...)
}

func TestParseMarkCounters(t *testing.T) {
	e, ok := Parse(withMarkCounters(t))
	if !ok || e.Mark != 0x4000_0005 || !e.HasCounters || e.Packets != [2]uint64{90, 100} || e.Bytes != [2]uint64{9000, 10000} {
		t.Errorf("Parse = %+v, %v", e, ok)
	}
	if e, _ := Parse(entryMsg(t, protoUDP, "10.20.0.10", "10.10.0.10", 5000, 2222, 0, statusSeenReply)); e.HasCounters {
		t.Error("counters without CTA_COUNTERS_*")
	}
}

// TestWalk: answers to the request in hand are read, stale ones skipped,
// and the acknowledgement's errno becomes the error.
func TestWalk(t *testing.T) {
	entry := nlmsg(uint16(unix.NFNL_SUBSYS_CTNETLINK)<<8|msgNew, 7, withMarkCounters(t))
	for _, tc := range []struct {
		name    string
		dgram   []byte
		done    bool
		err     error
		entries int
	}{
		{"ack", errMsg(7, 0), true, nil, 0},
		{"enoent", errMsg(7, int32(unix.ENOENT)), true, ErrNoEntry, 0},
		{"stale ack then entry then ack", append(append(errMsg(6, 0), entry...), errMsg(7, 0)...), true, nil, 1},
		{"dump part", append(append([]byte{}, entry...), entry...), false, nil, 2},
		{"dump end", append(append([]byte{}, entry...), nlmsg(nlmsgDone, 7, []byte{0, 0, 0, 0})...), true, nil, 1},
		{"truncated", entry[:10], false, nil, 0},
		{"length beyond", append([]byte{0xff, 0xff, 0, 0}, entry[4:]...), true, errors.New("x"), 0},
	} {
		n := 0
		done, err := walk(tc.dgram, 7, func(body []byte) {
			if _, ok := Parse(body); ok {
				n++
			}
		})
		if done != tc.done || (err == nil) != (tc.err == nil) || (tc.err == ErrNoEntry && !errors.Is(err, ErrNoEntry)) || n != tc.entries {
			t.Errorf("%s: done %v err %v entries %d; want %v %v %d", tc.name, done, err, n, tc.done, tc.err, tc.entries)
		}
	}
}

func FuzzWalk(f *testing.F) {
	f.Add(errMsg(7, 0))
	f.Add(nlmsg(uint16(unix.NFNL_SUBSYS_CTNETLINK)<<8|msgNew, 7, withMarkCounters(f)))
	f.Add(nlmsg(nlmsgDone, 7, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = walk(b, 7, func(body []byte) { Parse(body) })
	})
}

func TestParseClosed(t *testing.T) {
	for _, tc := range []struct {
		state uint8
		want  uint8
	}{{tcpStateEstablished, ClosedNone}, {tcpFinWait, ClosedOne}, {tcpCloseWait, ClosedOne}, {tcpLastAck, ClosedOne},
		{tcpTimeWait, ClosedBoth}, {tcpClose, ClosedBoth}} {
		if e, ok := Parse(entryMsg(t, protoTCP, "10.20.0.10", "10.10.0.10", 40000, 502, tc.state, 0)); !ok || e.Closed != tc.want {
			t.Errorf("state %d: Closed %d, want %d", tc.state, e.Closed, tc.want)
		}
	}
}
