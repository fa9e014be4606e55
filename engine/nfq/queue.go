package nfq

import (
	"encoding/binary"
	"errors"
	"fmt"
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
	// A large buffer absorbs bursts; overload shows as counted
	// kernel-side drops, not as errors that interrupt the read loop.
	fd, err := nlsock.Open(cfg.RcvBuf, cfg.ReadTimeout)
	if err != nil {
		return nil, fmt.Errorf("nfqueue %d: %w", cfg.Num, err)
	}
	q := newQueue(fd, cfg.Num, cfg.Batch)
	if err := q.setup(cfg); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind nfqueue %d: %w", cfg.Num, err)
	}
	return q, nil
}

func (q *Queue) setup(cfg Config) error {
	// One message binds and configures the queue: the kernel applies the
	// command, then copy parameters, length and flags, so no packet is ever
	// delivered with the default metadata-only copy mode.
	var msg [128]byte
	n := nlsock.BodyOff
	n += nlsock.PutAttr(msg[n:], cfgCmd, []byte{cmdBind, 0, 0, 0})
	var params [5]byte
	binary.BigEndian.PutUint32(params[0:], cfg.CopyRange)
	params[4] = copyPacket
	n += nlsock.PutAttr(msg[n:], cfgParams, params[:])
	n += nlsock.PutAttr(msg[n:], cfgMaxLen, binary.BigEndian.AppendUint32(nil, cfg.MaxLen))
	flags := flagGSO
	if cfg.FailOpen {
		flags |= flagFailOpen
	}
	n += nlsock.PutAttr(msg[n:], cfgMask, binary.BigEndian.AppendUint32(nil, flagGSO|flagFailOpen))
	n += nlsock.PutAttr(msg[n:], cfgFlags, binary.BigEndian.AppendUint32(nil, flags))
	q.seq++
	putHeader(msg[:], n, msgConfig, unix.NLM_F_REQUEST|unix.NLM_F_ACK, q.seq, q.num)
	if err := q.send(msg[:n]); err != nil {
		return err
	}
	return q.waitAck(q.seq)
}

// waitAck reads until the kernel acknowledges seq. A packet that races the
// acknowledgement is handed back to the hook with NF_REPEAT, so it is queued
// again once the caller is ready, instead of being judged before it is.
func (q *Queue) waitAck(seq uint32) error {
	refused, err := nlsock.Ack(q.fd, q.bufs[0], seq, func(typ uint16, m []byte) {
		// Even a packet that does not parse whole is repeated when its id
		// is known: held unanswered, it would stall the queue.
		var p Packet
		if typ == subsysQueue<<8|msgPacket {
			_ = parsePacket(m[nlsock.HdrLen:], &p)
			if p.hasHeader {
				_ = q.Verdict(p.ID, repeat)
			}
		}
	})
	switch {
	case err != nil:
		return fmt.Errorf("queue config: %w", err)
	case refused == 0:
		return nil
	case refused == unix.EPERM, refused == unix.EBUSY:
		// The kernel answers EPERM when another socket owns the queue (we
		// are root, so it is not about privileges).
		return fmt.Errorf("%w (%v)", ErrBusy, refused)
	default:
		return fmt.Errorf("kernel refused queue config: %w", refused)
	}
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
			if len(q.rest) < nlsock.HdrLen {
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
	b, typ, rest, ok := nlsock.NextMsg(q.rest)
	q.rest = rest
	if !ok {
		q.Stats.Malformed++
		return false
	}
	switch typ {
	case subsysQueue<<8 | msgPacket:
		if err := parsePacket(b[nlsock.HdrLen:], p); err != nil {
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
	case unix.NLMSG_ERROR:
		// Only failed verdicts are answered: we never ask for acks on them.
		if errno, ok := nlsock.Errno(b); ok && errno != 0 {
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
	putHeader(b, n, typ, unix.NLM_F_REQUEST, 0, q.num)
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
	n := nlsock.BodyOff
	var vh [8]byte
	binary.BigEndian.PutUint32(vh[0:], verdict)
	binary.BigEndian.PutUint32(vh[4:], id)
	n += nlsock.PutAttr(b[n:], attrVerdictHdr, vh[:])
	if withMark {
		n += nlsock.PutAttr(b[n:], attrMark, binary.BigEndian.AppendUint32(vh[:0], mark))
	}
	n += nlsock.PutAttr(b[n:], attrPayload, payload)
	putHeader(b, n, msgVerdict, unix.NLM_F_REQUEST, 0, q.num)
	return q.send(b[:n])
}

// Close releases the socket; the kernel unbinds the queue and, for packets
// still waiting in it, applies the default of a queue without a reader.
func (q *Queue) Close() error { return unix.Close(q.fd) }

// recvBatch waits for one datagram, then takes those already waiting, up to
// len(q.bufs), in one recvmmsg; the read timeout (ErrTimeout) applies to
// the first. An interrupt is retried, and so is ENOBUFS (the kernel
// dropped messages; it counts them per queue).
func (q *Queue) recvBatch() (int, error) {
	n, err := nlsock.Recv(q.fd, unix.SYS_RECVMMSG, uintptr(unsafe.Pointer(&q.hdrs[0])), uintptr(len(q.hdrs)), unix.MSG_WAITFORONE, ErrTimeout, true)
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
