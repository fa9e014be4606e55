package nlsock

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The framing of every nfnetlink message: a netlink header, the
// nfnetlink header (struct nfgenmsg), then attributes, each 4-byte aligned.
const (
	HdrLen      = unix.NLMSG_HDRLEN
	NfgenHdrLen = 4
	AttrHdrLen  = unix.NLA_HDRLEN
	// BodyOff is where a message's attributes start.
	BodyOff = HdrLen + NfgenHdrLen
)

// Align rounds n up to netlink's 4-byte alignment.
func Align(n int) int { return (n + unix.NLMSG_ALIGNTO - 1) &^ (unix.NLMSG_ALIGNTO - 1) }

// Open returns a bound netfilter netlink socket whose reads time out after
// timeout, with a receive buffer of rcvBuf bytes (SO_RCVBUFFORCE passes
// rmem_max as root) and NETLINK_NO_ENOBUFS: a queue or log group counts
// what a full buffer drops, instead of failing the read loop with ENOBUFS.
func Open(rcvBuf int, timeout time.Duration) (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return -1, fmt.Errorf("open netfilter netlink socket: %w", err)
	}
	if err := setup(fd, rcvBuf, timeout); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

func setup(fd, rcvBuf int, timeout time.Duration) error {
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("bind netlink: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBuf); err != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBuf)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_NO_ENOBUFS, 1); err != nil {
		return fmt.Errorf("set NETLINK_NO_ENOBUFS: %w", err)
	}
	tv := unix.NsecToTimeval(timeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("set SO_RCVTIMEO: %w", err)
	}
	return nil
}

// PutHeader writes at b[0:BodyOff] the headers of a message of length
// bytes to the kernel: type typ (subsystem<<8 | message), flags, seq, and
// an nfgenmsg of family AF_UNSPEC, version 0 and resource res (the queue
// or log group number).
func PutHeader(b []byte, length int, typ, flags uint16, seq uint32, res uint16) {
	binary.NativeEndian.PutUint32(b[0:], uint32(length))
	binary.NativeEndian.PutUint16(b[4:], typ)
	binary.NativeEndian.PutUint16(b[6:], flags)
	binary.NativeEndian.PutUint32(b[8:], seq)
	binary.NativeEndian.PutUint32(b[12:], 0) // port id: the kernel
	b[16] = unix.AF_UNSPEC
	b[17] = unix.NFNETLINK_V0
	binary.BigEndian.PutUint16(b[18:], res)
}

// PutAttr writes one attribute at b and returns its aligned length.
func PutAttr(b []byte, typ uint16, v []byte) int {
	l := AttrHdrLen + len(v)
	binary.NativeEndian.PutUint16(b[0:], uint16(l))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[AttrHdrLen:], v)
	n := Align(l)
	clear(b[l:n])
	return n
}

// NextMsg splits b, which holds at least a netlink header, into its first
// message (headers included) and type, and the messages after it. ok is
// false when the message's length does not fit in b.
func NextMsg(b []byte) (msg []byte, typ uint16, rest []byte, ok bool) {
	l := int(binary.NativeEndian.Uint32(b))
	if l < HdrLen || l > len(b) {
		return nil, 0, nil, false
	}
	return b[:l], binary.NativeEndian.Uint16(b[4:]), rest4(b, l), true
}

// rest4 is what follows the first l bytes of b, aligned; nil at the end.
func rest4(b []byte, l int) []byte {
	if a := Align(l); a < len(b) {
		return b[a:]
	}
	return nil
}

// Errno reads the error code of an NLMSG_ERROR message msg (headers
// included): 0 for an acknowledgement. ok is false when msg is too short
// to hold one.
func Errno(msg []byte) (errno syscall.Errno, ok bool) {
	if len(msg) < HdrLen+4 {
		return 0, false
	}
	return syscall.Errno(-int32(binary.NativeEndian.Uint32(msg[HdrLen:]))), true
}

// ErrNoAck: the kernel did not answer a request within AckTimeout.
var ErrNoAck = errors.New("no acknowledgement from the kernel")

// AckTimeout bounds how long Ack waits for the kernel's answer.
const AckTimeout = 2 * time.Second

// errAgain is Ack's read timeout: one read of fd timed out, read again.
var errAgain = errors.New("nlsock: read timeout")

// Ack reads fd into buf until the kernel answers request seq, for up to
// AckTimeout, and returns its answer: 0 for an acknowledgement, else the
// errno with which it refused the request; err is a failed read or
// ErrNoAck. Every other message read on the way goes to other, when not
// nil (for a queue, a packet that raced the acknowledgement).
func Ack(fd int, buf []byte, seq uint32, other func(typ uint16, msg []byte)) (refused syscall.Errno, err error) {
	deadline := time.Now().Add(AckTimeout)
	for time.Now().Before(deadline) {
		n, err := RecvFrom(fd, buf, errAgain, true)
		if err == errAgain {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("recv: %w", err)
		}
		// The whole datagram is read, so that a message after the answer
		// still reaches other.
		answered := false
		for b := buf[:n]; len(b) >= HdrLen; {
			m, typ, rest, ok := NextMsg(b)
			if !ok {
				break
			}
			b = rest
			if errno, ok := Errno(m); ok && !answered && typ == unix.NLMSG_ERROR && binary.NativeEndian.Uint32(m[8:]) == seq {
				refused, answered = errno, true
				continue
			}
			if other != nil {
				other(typ, m)
			}
		}
		if answered {
			return refused, nil
		}
	}
	return 0, ErrNoAck
}
