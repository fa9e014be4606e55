// Package nlsock makes the system calls of conduit's raw netlink sockets
// (NFQUEUE, NFLOG, ctnetlink) the way their readers need them: straight
// syscalls on a socket the caller owns, so that a blocked reader parks its
// own thread instead of Go's poller, and no allocation on the way. It also
// holds what the NFQUEUE and NFLOG readers share of nfnetlink (msg.go):
// the socket's setup, the message and attribute framing, and the wait for
// the kernel's acknowledgement of a configuration request.
package nlsock

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Recv makes the receive system call trap (SYS_RECVFROM or SYS_RECVMMSG)
// on fd with arguments a1 to a3 until it returns data or a real error. An
// interrupt is retried; so is ENOBUFS when dropsCounted says the kernel
// counts the messages it dropped for a full buffer itself (a queue or log
// group), where for a request-reply conversation it is an error. When the
// socket's read timeout runs out (EAGAIN) Recv returns timeout; any other
// error is the unix.Errno, for the caller to wrap.
func Recv(fd int, trap, a1, a2, a3 uintptr, timeout error, dropsCounted bool) (int, error) {
	for {
		n, _, e := syscall.Syscall6(trap, uintptr(fd), a1, a2, a3, 0, 0)
		switch {
		case e == 0:
			return int(n), nil
		case e == unix.EINTR, e == unix.ENOBUFS && dropsCounted:
			continue
		case e == unix.EAGAIN:
			return 0, timeout
		default:
			return 0, e
		}
	}
}

// RecvFrom is Recv with recvfrom(2) into buf, without the allocation
// unix.Recvfrom makes for the source address.
func RecvFrom(fd int, buf []byte, timeout error, dropsCounted bool) (int, error) {
	return Recv(fd, unix.SYS_RECVFROM, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, timeout, dropsCounted)
}

// Send writes the message b to fd in one sendto, retrying interrupts; an
// error is the unix.Errno, for the caller to wrap.
func Send(fd int, b []byte) error {
	for {
		_, _, e := syscall.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0)
		switch e {
		case 0:
			return nil
		case unix.EINTR:
			continue
		default:
			return e
		}
	}
}
