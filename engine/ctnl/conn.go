package ctnl

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/conduit-ot/conduit/internal/nlsock"
)

// Tuple names a kernel connection by the addresses and ports of either of
// its directions (the kernel finds an entry by its reply tuple too).
type Tuple struct {
	Proto            uint8
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
}

// Tuple is the entry's original-direction tuple.
func (e *Entry) Tuple() Tuple {
	return Tuple{Proto: e.Proto, Src: e.Src, Dst: e.Dst, SrcPort: e.SrcPort, DstPort: e.DstPort}
}

// ErrNoEntry: the kernel has no connection with the tuple (it ended, or
// it is not confirmed yet: its first packet is still on its way).
var ErrNoEntry = errors.New("ctnetlink: no such connection")

const (
	msgNew    = 0 // IPCTNL_MSG_CT_NEW (also an update of an existing entry)
	msgDelete = 2 // IPCTNL_MSG_CT_DELETE

	nlaNested   = 0x8000
	nlmsgError  = 2
	nlmsgDone   = 3
	nlmRequest  = 0x1
	nlmMulti    = 0x2
	nlmAck      = 0x4
	nlmDump     = 0x300
	nlmsgHdrLen = 16
)

// Conn is a ctnetlink socket for single-entry requests that allocate
// nothing: a worker marks a flow's entry with it on the packet path. One
// goroutine uses a Conn at a time.
type Conn struct {
	fd   int
	seq  uint32
	req  [160]byte
	resp []byte
}

// Open opens a ctnetlink socket in the caller's network namespace.
func Open() (*Conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("open ctnetlink: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind ctnetlink: %w", err)
	}
	// An answer that never comes must not stall a worker.
	tv := unix.NsecToTimeval((time.Second).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("ctnetlink: set SO_RCVTIMEO: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_NO_ENOBUFS, 1)
	return &Conn{fd: fd, resp: make([]byte, 1<<16)}, nil
}

// Close releases the socket.
func (c *Conn) Close() error { return unix.Close(c.fd) }

// SetMark changes the connection mark of the entry with tuple t: the bits
// in mask take mark's value, the others stay (other software's marks).
func (c *Conn) SetMark(t Tuple, mark, mask uint32) error {
	n := c.header(msgNew, nlmRequest|nlmAck, t)
	n = putAttr32(c.req[:], n, ctaMark, mark&mask)
	n = putAttr32(c.req[:], n, ctaMarkMask, mask)
	return c.exchange(n, nil)
}

// Delete removes the entry with tuple t: the kernel treats the
// connection's next packet as a new one.
func (c *Conn) Delete(t Tuple) error {
	n := c.header(msgDelete, nlmRequest|nlmAck, t)
	return c.exchange(n, nil)
}

// Get reads the entry with tuple t.
func (c *Conn) Get(t Tuple) (Entry, error) {
	n := c.header(msgGet, nlmRequest|nlmAck, t)
	var e Entry
	found := false
	err := c.exchange(n, func(body []byte) {
		e, found = Parse(body)
	})
	if err == nil && !found {
		err = ErrNoEntry
	}
	return e, err
}

// DumpMarked lists the entries whose mark has every bit of mask set, IPv4
// and IPv6 (the kernel filters them).
func (c *Conn) DumpMarked(mask uint32) ([]Entry, error) {
	binary.NativeEndian.PutUint32(c.req[0:], 0)
	n := nlmsgHdrLen
	c.req[n], c.req[n+1], c.req[n+2], c.req[n+3] = unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0
	n += 4
	n = putAttr32(c.req[:], n, ctaMark, mask)
	n = putAttr32(c.req[:], n, ctaMarkMask, mask)
	c.seq++
	putNlHeader(c.req[:], n, msgGet, nlmRequest|nlmDump, c.seq)
	var out []Entry
	err := c.exchange(n, func(body []byte) {
		if e, ok := Parse(body); ok {
			out = append(out, e)
		}
	})
	return out, err
}

// header writes the netlink and nfgen headers and t as CTA_TUPLE_ORIG,
// returning the length so far; the caller's attributes follow.
func (c *Conn) header(typ uint8, flags uint16, t Tuple) int {
	b := c.req[:]
	clear(b)
	c.seq++
	putNlHeader(b, 0, typ, flags, c.seq)
	n := nlmsgHdrLen
	b[n] = unix.AF_INET
	if t.Src.Is6() {
		b[n] = unix.AF_INET6
	}
	b[n+1] = unix.NFNETLINK_V0
	n += 4
	tuple := n
	n += 4
	ip := n
	n += 4
	srcT, dstT := uint16(ctaIPv4Src), uint16(ctaIPv4Dst)
	if t.Src.Is6() {
		srcT, dstT = ctaIPv6Src, ctaIPv6Dst
	}
	n = putAddr(b, n, srcT, t.Src)
	n = putAddr(b, n, dstT, t.Dst)
	putNla(b, ip, n-ip, ctaTupleIP|nlaNested)
	proto := n
	n += 4
	putNla(b, n, 5, ctaProtoNum)
	b[n+4] = t.Proto
	n += 8
	putNla(b, n, 6, ctaProtoSrcPort)
	binary.BigEndian.PutUint16(b[n+4:], t.SrcPort)
	n += 8
	putNla(b, n, 6, ctaProtoDstPort)
	binary.BigEndian.PutUint16(b[n+4:], t.DstPort)
	n += 8
	putNla(b, proto, n-proto, ctaTupleProto|nlaNested)
	putNla(b, tuple, n-tuple, ctaTupleOrig|nlaNested)
	return n
}

func putNlHeader(b []byte, length int, typ uint8, flags uint16, seq uint32) {
	binary.NativeEndian.PutUint32(b[0:], uint32(length))
	binary.NativeEndian.PutUint16(b[4:], uint16(unix.NFNL_SUBSYS_CTNETLINK)<<8|uint16(typ))
	binary.NativeEndian.PutUint16(b[6:], flags)
	binary.NativeEndian.PutUint32(b[8:], seq)
	binary.NativeEndian.PutUint32(b[12:], 0)
}

func putNla(b []byte, at, length int, typ uint16) {
	binary.NativeEndian.PutUint16(b[at:], uint16(length))
	binary.NativeEndian.PutUint16(b[at+2:], typ)
}

func putAttr32(b []byte, n int, typ uint16, v uint32) int {
	putNla(b, n, 8, typ)
	binary.BigEndian.PutUint32(b[n+4:], v)
	return n + 8
}

func putAddr(b []byte, n int, typ uint16, a netip.Addr) int {
	if a.Is4() {
		putNla(b, n, 8, typ)
		v := a.As4()
		copy(b[n+4:], v[:])
		return n + 8
	}
	putNla(b, n, 20, typ)
	v := a.As16()
	copy(b[n+4:], v[:])
	return n + 20
}

// exchange sends the n-byte request in c.req and reads until the kernel
// acknowledges it (or ends its dump), passing each entry message body to
// fn.
func (c *Conn) exchange(n int, fn func(body []byte)) error {
	binary.NativeEndian.PutUint32(c.req[0:], uint32(n))
	if err := c.send(c.req[:n]); err != nil {
		return err
	}
	for {
		m, err := c.recv()
		if err != nil {
			return err
		}
		if done, err := walk(c.resp[:m], c.seq, fn); done || err != nil {
			return err
		}
	}
}

// walk reads one datagram of answers to request seq (others are stale:
// a request that timed out), passing each entry message body to fn. done
// is true once the kernel acknowledged the request or ended its dump; err
// is what the acknowledgement said, or a malformed datagram.
func walk(b []byte, seq uint32, fn func(body []byte)) (done bool, err error) {
	for len(b) >= nlmsgHdrLen {
		l := int(binary.NativeEndian.Uint32(b[0:]))
		typ := binary.NativeEndian.Uint16(b[4:])
		mseq := binary.NativeEndian.Uint32(b[8:])
		if l < nlmsgHdrLen || l > len(b) {
			return true, errors.New("ctnetlink: truncated answer")
		}
		if mseq == seq {
			switch {
			case typ == nlmsgError:
				if l < nlmsgHdrLen+4 {
					return true, errors.New("ctnetlink: truncated error")
				}
				switch errno := -int32(binary.NativeEndian.Uint32(b[nlmsgHdrLen:])); errno {
				case 0:
					return true, nil
				case int32(unix.ENOENT):
					return true, ErrNoEntry
				default:
					return true, fmt.Errorf("ctnetlink: %w", syscall.Errno(errno))
				}
			case typ == nlmsgDone:
				return true, nil
			case typ&0xff00 == uint16(unix.NFNL_SUBSYS_CTNETLINK)<<8 && fn != nil:
				fn(b[nlmsgHdrLen:l])
			}
		}
		a := (l + 3) &^ 3
		if a >= len(b) {
			break
		}
		b = b[a:]
	}
	return false, nil
}

func (c *Conn) send(b []byte) error {
	if err := nlsock.Send(c.fd, b); err != nil {
		return fmt.Errorf("ctnetlink send: %w", err)
	}
	return nil
}

// errNoAnswer: the read timeout ran out before the kernel replied.
var errNoAnswer = errors.New("ctnetlink: no answer from the kernel")

// recv reads one datagram of the conversation; ENOBUFS is an error here,
// as a lost reply would leave the exchange waiting.
func (c *Conn) recv() (int, error) {
	n, err := nlsock.RecvFrom(c.fd, c.resp, errNoAnswer, false)
	if err != nil && err != errNoAnswer {
		return 0, fmt.Errorf("ctnetlink recv: %w", err)
	}
	return n, err
}
