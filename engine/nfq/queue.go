package nfq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/conduit-ot/conduit/internal/nlsock"
)

// Config describes how to bind one queue.
type Config struct {
	Num       uint16
	FailOpen  bool   // the kernel accepts packets while the queue is full instead of dropping them
	MaxLen    uint32 // packets the kernel holds for this queue; default 4096
	CopyRange uint32 // bytes of each packet copied to userspace; default 0xffff (whole packet)
	RcvBuf    int    // socket receive buffer in bytes; default 8 MiB
	// ReadTimeout: Read returns ErrTimeout after this long without a
	// packet; default 20ms. A stop drains a queue until one read times
	// out, and a fail-closed stop drops that long before it lets go.
	ReadTimeout time.Duration
	Batch       int // packets ReadBatch takes from the socket in one system call; default 16
}

// ErrTimeout is returned by Read when no packet arrived within ReadTimeout.
// It lets the owner check for shutdown without closing the socket under a
// blocked reader.
var ErrTimeout = errors.New("nfqueue: read timeout")

// ErrBusy means another process already serves the queue.
var ErrBusy = errors.New("queue is already bound by another process")

// Stats are counters kept by the queue's owner goroutine.
type Stats struct {
	Packets       uint64
	VerdictErrors uint64 // kernel rejected a verdict (unknown id, ...)
	Malformed     uint64 // netlink messages that could not be decoded
	// Unanswered are packet messages without a readable id: the packet
	// waits in the kernel with no verdict, so a batch verdict past it
	// would pass it unjudged.
	Unanswered uint64
}

// Queue is one bound NFQUEUE queue.
type Queue struct {
	fd   int
	num  uint16
	seq  uint32
	bufs [][]byte // one receive buffer per datagram of a batch; bufs[0] also for acks
	hdrs []unix.Mmsghdr
	iovs []unix.Iovec
	nd   int                     // datagrams the last recvmmsg returned
	di   int                     // the datagram being decoded
	rest []byte                  // its undecoded remainder
	vbuf [40]byte                // a verdict, with room for NFQA_MARK
	cbuf [ctVerdictMarkSize]byte // a verdict with a conntrack mark (ctmark.go)
	mbuf []byte                  // verdicts that carry a modified packet
	// Stats are written by the reading goroutine only.
	Stats Stats
}

// maxMessage holds the largest packet message: a 64 KiB GSO packet and its
// attributes.
const maxMessage = 0x10000 + 4096

// newQueue allocates the buffers for a socket fd; batch datagrams are
// received per system call.
func newQueue(fd int, num uint16, batch int) *Queue {
	q := &Queue{fd: fd, num: num, mbuf: make([]byte, 0x10000+64)}
	q.bufs = make([][]byte, batch)
	q.hdrs = make([]unix.Mmsghdr, batch)
	q.iovs = make([]unix.Iovec, batch)
	for i := range q.bufs {
		q.bufs[i] = make([]byte, maxMessage)
		q.iovs[i].Base = &q.bufs[i][0]
		q.iovs[i].SetLen(maxMessage)
		q.hdrs[i].Hdr.Iov = &q.iovs[i]
		q.hdrs[i].Hdr.SetIovlen(1)
	}
	return q
}

// FromSocket returns a Queue that reads the messages of queue num from fd,
// a socket its caller has set up (Open does it for a netlink socket bound
// to the kernel; nfqtest passes one end of a socketpair), batch datagrams
// per system call.
func FromSocket(fd int, num uint16, batch int) *Queue { return newQueue(fd, num, max(batch, 1)) }

// Open binds queue cfg.Num with the GSO flag (so the kernel does not segment
// large TCP packets before queueing them) and, when asked, fail-open.
func Open(cfg Config) (*Queue, error) {
	if cfg.MaxLen == 0 {
		cfg.MaxLen = 4096
	}
	if cfg.CopyRange == 0 {
		cfg.CopyRange = 0xffff
	}
	if cfg.RcvBuf == 0 {
		cfg.RcvBuf = 8 << 20
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 20 * time.Millisecond
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 16
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return nil, fmt.Errorf("open netfilter netlink socket: %w", err)
	}
	q := newQueue(fd, cfg.Num, cfg.Batch)
	if err := q.setup(cfg); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind nfqueue %d: %w", cfg.Num, err)
	}
	return q, nil
}

func (q *Queue) setup(cfg Config) error {
	if err := unix.Bind(q.fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("bind netlink: %w", err)
	}
	// A large buffer absorbs bursts; SO_RCVBUFFORCE ignores rmem_max as root.
	if err := unix.SetsockoptInt(q.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, cfg.RcvBuf); err != nil {
		_ = unix.SetsockoptInt(q.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, cfg.RcvBuf)
	}
	// Overload shows as counted kernel-side drops, not as ENOBUFS errors that
	// would otherwise interrupt the read loop.
	if err := unix.SetsockoptInt(q.fd, unix.SOL_NETLINK, unix.NETLINK_NO_ENOBUFS, 1); err != nil {
		return fmt.Errorf("set NETLINK_NO_ENOBUFS: %w", err)
	}
	tv := unix.NsecToTimeval(cfg.ReadTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(q.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("set SO_RCVTIMEO: %w", err)
	}

	// One message binds and configures the queue: the kernel applies the
	// command, then copy parameters, length and flags, so no packet is ever
	// delivered with the default metadata-only copy mode.
	var msg [128]byte
	n := nlmsgHdrLen + nfgenHdrLen
	n += putAttr(msg[n:], cfgCmd, []byte{cmdBind, 0, 0, 0})
	var params [5]byte
	binary.BigEndian.PutUint32(params[0:], cfg.CopyRange)
	params[4] = copyPacket
	n += putAttr(msg[n:], cfgParams, params[:])
	n += putAttr(msg[n:], cfgMaxLen, binary.BigEndian.AppendUint32(nil, cfg.MaxLen))
	flags := flagGSO
	if cfg.FailOpen {
		flags |= flagFailOpen
	}
	n += putAttr(msg[n:], cfgMask, binary.BigEndian.AppendUint32(nil, flagGSO|flagFailOpen))
	n += putAttr(msg[n:], cfgFlags, binary.BigEndian.AppendUint32(nil, flags))
	q.seq++
	putHeader(msg[:], n, msgConfig, nlmFRequest|nlmFAck, q.seq, q.num)
	if err := q.send(msg[:n]); err != nil {
		return err
	}
	return q.waitAck(q.seq)
}

// waitAck reads until the kernel acknowledges seq. A packet that races the
// acknowledgement is handed back to the hook with NF_REPEAT, so it is queued
// again once the caller is ready, instead of being judged before it is.
func (q *Queue) waitAck(seq uint32) error {
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		n, err := q.recv()
		if errors.Is(err, ErrTimeout) {
			continue
		}
		if err != nil {
			return err
		}
		b := q.bufs[0][:n]
		for len(b) >= nlmsgHdrLen {
			l := int(binary.NativeEndian.Uint32(b[0:]))
			typ := binary.NativeEndian.Uint16(b[4:])
			mseq := binary.NativeEndian.Uint32(b[8:])
			if l < nlmsgHdrLen || l > len(b) {
				break
			}
			switch {
			case typ == nlmsgError && mseq == seq && l >= nlmsgHdrLen+4:
				errno := int32(binary.NativeEndian.Uint32(b[nlmsgHdrLen:]))
				switch {
				case errno == 0:
					return nil
				case syscall.Errno(-errno) == unix.EPERM, syscall.Errno(-errno) == unix.EBUSY:
					// The kernel answers EPERM when another socket owns the
					// queue (we are root, so it is not about privileges).
					return fmt.Errorf("%w (%v)", ErrBusy, syscall.Errno(-errno))
				default:
					return fmt.Errorf("kernel refused queue config: %w", syscall.Errno(-errno))
				}
			case typ == uint16(subsysQueue)<<8|msgPacket:
				var p Packet
				if parsePacket(b[nlmsgHdrLen:l], &p) == nil {
					_ = q.Verdict(p.ID, repeat)
				}
			}
			if align4(l) >= len(b) {
				break
			}
			b = b[align4(l):]
		}
	}
	return errors.New("no acknowledgement from the kernel for the queue config")
}

// Read blocks until the next packet and decodes it into p. It returns
// ErrTimeout when nothing arrived within the read timeout. Payload is only
// valid until the next Read or ReadBatch.
func (q *Queue) Read(p *Packet) error {
	_, err := q.ReadBatch(unsafe.Slice(p, 1))
	return err
}

// ReadBatch blocks until at least one packet is queued, then decodes into
// ps the packets already waiting, up to len(ps), taking up to Config.Batch
// of them from the socket in one system call. It returns how many it
// decoded, or ErrTimeout when nothing arrived within the read timeout. The
// payloads are valid until the datagrams they point into are all decoded
// and the next system call reuses the buffers: keep them only until the
// next call.
func (q *Queue) ReadBatch(ps []Packet) (int, error) {
	k := 0
	for k == 0 && len(ps) > 0 {
		if q.di >= q.nd {
			n, err := q.recvBatch()
			if err != nil {
				return 0, err
			}
			q.nd, q.di = n, 0
			q.rest = q.bufs[0][:q.hdrs[0].Len]
		}
		for k < len(ps) && q.di < q.nd {
			if len(q.rest) < nlmsgHdrLen {
				if q.di++; q.di < q.nd {
					q.rest = q.bufs[q.di][:q.hdrs[q.di].Len]
				}
				continue
			}
			if q.next(&ps[k]) {
				k++
			}
		}
	}
	return k, nil
}

// next decodes one netlink message from q.rest and reports whether it was a
// packet, now in p.
func (q *Queue) next(p *Packet) bool {
	b := q.rest
	l := int(binary.NativeEndian.Uint32(b[0:]))
	typ := binary.NativeEndian.Uint16(b[4:])
	if l < nlmsgHdrLen || l > len(b) {
		q.rest = nil
		q.Stats.Malformed++
		return false
	}
	if a := align4(l); a < len(b) {
		q.rest = b[a:]
	} else {
		q.rest = nil
	}
	switch typ {
	case uint16(subsysQueue)<<8 | msgPacket:
		if err := parsePacket(b[nlmsgHdrLen:l], p); err != nil {
			q.Stats.Malformed++
			if p.hasHeader {
				// The id is known: the packet still gets its one verdict,
				// and what could not be read does not pass.
				_ = q.Verdict(p.ID, Drop)
			} else {
				q.Stats.Unanswered++
			}
			return false
		}
		q.Stats.Packets++
		return true
	case nlmsgError:
		// Only failed verdicts are answered: we never ask for acks on them.
		if l >= nlmsgHdrLen+4 && binary.NativeEndian.Uint32(b[nlmsgHdrLen:]) != 0 {
			q.Stats.VerdictErrors++
		}
	}
	return false
}

// Verdict tells the kernel what to do with packet id.
func (q *Queue) Verdict(id, verdict uint32) error {
	return q.send(q.verdictMsg(msgVerdict, id, verdict, 0, false))
}

// VerdictMark is Verdict that also sets the packet's mark (skb->mark) to
// mark. The packet message carries the mark the packet had (Packet.Mark),
// so a caller that sets one bit keeps the others.
func (q *Queue) VerdictMark(id, verdict, mark uint32) error {
	return q.send(q.verdictMsg(msgVerdict, id, verdict, mark, true))
}

// VerdictBatch gives verdict to every packet still waiting in the queue
// whose id is not after id: one message for a run of packets. Packets are
// queued and delivered in id order, so these are exactly the packets read
// so far that have no verdict yet.
func (q *Queue) VerdictBatch(id, verdict uint32) error {
	return q.send(q.verdictMsg(msgVerdictBatch, id, verdict, 0, false))
}

// VerdictBatchMark is VerdictBatch that sets every packet's mark to mark:
// the caller batches only packets that get the same one.
func (q *Queue) VerdictBatchMark(id, verdict, mark uint32) error {
	return q.send(q.verdictMsg(msgVerdictBatch, id, verdict, mark, true))
}

func (q *Queue) verdictMsg(typ uint8, id, verdict, mark uint32, withMark bool) []byte {
	n := 32
	if withMark {
		n = 40
	}
	b := q.vbuf[:n]
	putHeader(b, n, typ, nlmFRequest, 0, q.num)
	binary.NativeEndian.PutUint16(b[20:], 12)
	binary.NativeEndian.PutUint16(b[22:], attrVerdictHdr)
	binary.BigEndian.PutUint32(b[24:], verdict)
	binary.BigEndian.PutUint32(b[28:], id)
	if withMark {
		binary.NativeEndian.PutUint16(b[32:], 8)
		binary.NativeEndian.PutUint16(b[34:], attrMark)
		binary.BigEndian.PutUint32(b[36:], mark)
	}
	return b
}

// VerdictModified accepts or drops packet id after replacing its content
// with payload (for example a TCP reset in place of a refused segment).
func (q *Queue) VerdictModified(id, verdict uint32, payload []byte) error {
	return q.verdictModified(id, verdict, payload, 0, false)
}

// VerdictModifiedMark is VerdictModified that also sets the packet's mark.
func (q *Queue) VerdictModifiedMark(id, verdict uint32, payload []byte, mark uint32) error {
	return q.verdictModified(id, verdict, payload, mark, true)
}

func (q *Queue) verdictModified(id, verdict uint32, payload []byte, mark uint32, withMark bool) error {
	if len(payload) > len(q.mbuf)-64 {
		return fmt.Errorf("nfqueue: modified packet of %d bytes is too large", len(payload))
	}
	b := q.mbuf
	n := nlmsgHdrLen + nfgenHdrLen
	var vh [8]byte
	binary.BigEndian.PutUint32(vh[0:], verdict)
	binary.BigEndian.PutUint32(vh[4:], id)
	n += putAttr(b[n:], attrVerdictHdr, vh[:])
	if withMark {
		n += putAttr(b[n:], attrMark, binary.BigEndian.AppendUint32(vh[:0], mark))
	}
	n += putAttr(b[n:], attrPayload, payload)
	putHeader(b, n, msgVerdict, nlmFRequest, 0, q.num)
	return q.send(b[:n])
}

// Close releases the socket; the kernel unbinds the queue and, for packets
// still waiting in it, applies the default of a queue without a reader.
func (q *Queue) Close() error { return unix.Close(q.fd) }

// recv is a blocking recvfrom into bufs[0], without the allocation
// unix.Recvfrom makes for the source address.
func (q *Queue) recv() (int, error) {
	return q.retry(unix.SYS_RECVFROM, uintptr(unsafe.Pointer(&q.bufs[0][0])), uintptr(len(q.bufs[0])), 0)
}

// recvBatch waits for one datagram, then takes those already waiting, up to
// len(q.bufs), in one recvmmsg; the read timeout applies to the first.
func (q *Queue) recvBatch() (int, error) {
	return q.retry(unix.SYS_RECVMMSG, uintptr(unsafe.Pointer(&q.hdrs[0])), uintptr(len(q.hdrs)), unix.MSG_WAITFORONE)
}

// retry makes a receive system call on the socket until it returns data
// or a real error: an interrupt is retried, and so is ENOBUFS (the kernel
// dropped messages; it counts them per queue). The read timeout is
// ErrTimeout.
func (q *Queue) retry(trap, a1, a2, a3 uintptr) (int, error) {
	n, err := nlsock.Recv(q.fd, trap, a1, a2, a3, ErrTimeout, true)
	if err != nil && err != ErrTimeout {
		return 0, fmt.Errorf("nfqueue %d recv: %w", q.num, err)
	}
	return n, err
}

func (q *Queue) send(b []byte) error {
	if err := nlsock.Send(q.fd, b); err != nil {
		return fmt.Errorf("nfqueue %d send: %w", q.num, err)
	}
	return nil
}
