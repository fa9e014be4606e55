package nlsock

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPutAttr(t *testing.T) {
	b := make([]byte, 64)
	for i := range b {
		b[i] = 0xee
	}
	n := PutAttr(b, 7|unix.NLA_F_NESTED, []byte{1, 2, 3})
	n += PutAttr(b[n:], 9, []byte{4, 5, 6, 7})
	var want []byte
	want = binary.NativeEndian.AppendUint16(want, 7)
	want = binary.NativeEndian.AppendUint16(want, 7|unix.NLA_F_NESTED)
	want = append(want, 1, 2, 3, 0) // padded with zero
	want = binary.NativeEndian.AppendUint16(want, 8)
	want = binary.NativeEndian.AppendUint16(want, 9)
	want = append(want, 4, 5, 6, 7)
	if n != 16 || !bytes.Equal(b[:n], want) || b[n] != 0xee {
		t.Fatalf("two attributes: %d bytes % x, want % x", n, b[:n+1], want)
	}
}

// TestNextMsg: a length field shorter than the header or longer than the
// bytes left is refused; the last message's missing padding is not.
func TestNextMsg(t *testing.T) {
	two := make([]byte, 2*BodyOff)
	PutHeader(two, HdrLen+1, 0x0300, 0, 0, 0) // a 17-byte message, padded to 20
	PutHeader(two[BodyOff:], BodyOff, 0x0301, 0, 0, 0)
	for _, c := range []struct {
		name   string
		b      []byte
		ok     bool
		length int
		rest   int
	}{
		{"below its header", append([]byte{15, 0, 0, 0}, make([]byte, 12)...), false, 0, 0},
		{"past the end", append([]byte{17, 0, 0, 0}, make([]byte, 12)...), false, 0, 0},
		{"unpadded at the end", append([]byte{17, 0, 0, 0}, make([]byte, 13)...), true, 17, 0},
		{"padded, then another", two, true, 17, BodyOff},
	} {
		got, _, rest, ok := NextMsg(c.b)
		if ok != c.ok || len(got) != c.length || len(rest) != c.rest {
			t.Errorf("%s: %d bytes, rest %d, ok %v; want %d, %d, %v", c.name, len(got), len(rest), ok, c.length, c.rest, c.ok)
		}
		if c.rest == 0 && rest != nil {
			t.Errorf("%s: rest %v, want none", c.name, rest)
		}
	}
}

func TestPutHeaderErrno(t *testing.T) {
	b := make([]byte, BodyOff+4)
	PutHeader(b, len(b), unix.NFNL_SUBSYS_QUEUE<<8|2, unix.NLM_F_REQUEST|unix.NLM_F_ACK, 7, 0x0102)
	msg, typ, _, ok := NextMsg(b)
	if !ok || len(msg) != BodyOff+4 || typ != 0x0302 ||
		binary.NativeEndian.Uint16(b[6:]) != 5 || binary.NativeEndian.Uint32(b[8:]) != 7 || binary.BigEndian.Uint16(b[18:]) != 0x0102 {
		t.Fatalf("header % x", b[:BodyOff])
	}
	for _, c := range []struct {
		name  string
		code  int32
		short bool
		want  unix.Errno
	}{
		{"ack", 0, false, 0},
		{"refused", -int32(unix.EPERM), false, unix.EPERM},
		{"too short", 0, true, 0},
	} {
		m := make([]byte, HdrLen+4)
		binary.NativeEndian.PutUint32(m[HdrLen:], uint32(c.code))
		if c.short {
			m = m[:HdrLen+3]
		}
		if errno, ok := Errno(m); errno != c.want || ok == c.short {
			t.Errorf("%s: Errno %v ok %v, want %v ok %v", c.name, errno, ok, c.want, !c.short)
		}
	}
}

// errMsg is an NLMSG_ERROR answer to seq with code errno (0: an ack).
func errMsg(seq uint32, errno unix.Errno) []byte {
	m := make([]byte, HdrLen+4)
	PutHeader(m, len(m), unix.NLMSG_ERROR, 0, seq, 0)
	binary.NativeEndian.PutUint32(m[HdrLen:], uint32(-int32(errno)))
	return m
}

func TestAck(t *testing.T) {
	other := make([]byte, BodyOff)
	PutHeader(other, len(other), unix.NFNL_SUBSYS_QUEUE<<8, 0, 0, 3)
	for _, c := range []struct {
		name    string
		dgrams  [][]byte
		refused unix.Errno
		err     error
		others  int
	}{
		{"ack after a packet and another's ack", [][]byte{slices.Concat(other, errMsg(6, 0)), errMsg(7, 0)}, 0, nil, 2},
		// A message after the answer in its datagram still reaches other.
		{"refusal in the same datagram", [][]byte{slices.Concat(other, errMsg(7, unix.EPERM), other)}, unix.EPERM, nil, 2},
		{"no answer", nil, 0, ErrNoAck, 0},
	} {
		a, b := pair(t)
		for _, d := range c.dgrams {
			if err := Send(b, d); err != nil {
				t.Fatal(err)
			}
		}
		others := 0
		refused, err := Ack(a, make([]byte, 256), 7, func(typ uint16, msg []byte) { others++ })
		if refused != c.refused || err != c.err || others != c.others {
			t.Errorf("%s: Ack = %v, %v after %d others; want %v, %v after %d", c.name, refused, err, others, c.refused, c.err, c.others)
		}
	}
}
