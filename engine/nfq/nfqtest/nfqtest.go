// Package nfqtest stands in for the kernel's side of an NFQUEUE queue in
// tests: a nfq.Queue on one end of a datagram socketpair, the packet
// messages the kernel would send to it, and the decoding of the verdicts
// it sends back. It encodes the nfnetlink_queue messages on its own, from
// the kernel's headers, so that it checks nfq instead of echoing it.
package nfqtest

import (
	"encoding/binary"
	"errors"
	"time"

	"golang.org/x/sys/unix"

	"github.com/conduit-ot/conduit/engine/nfq"
)

// The nfnetlink_queue messages and attributes of
// linux/netfilter/nfnetlink_queue.h and nfnetlink_conntrack.h that the
// kernel side needs.
const (
	msgPacket, msgVerdict, msgVerdictBatch = 0, 1, 3 // NFQNL_MSG_*

	attrPacketHdr, attrVerdictHdr, attrMark = 1, 2, 3 // NFQA_PACKET_HDR, NFQA_VERDICT_HDR, NFQA_MARK
	attrPhysInDev, attrHWAddr, attrPayload  = 7, 9, 10
	attrCt, attrSkbInfo                     = 11, 14
	ctaMark, ctaMarkMask                    = 8, 21 // CTA_MARK, CTA_MARK_MASK
	skbInfoGSO                              = 0x2   // NFQA_SKB_GSO

	hdrLen = unix.NLMSG_HDRLEN + 4 // nlmsghdr and nfgenmsg
)

// NewFake returns a Queue on one end of a datagram socketpair and the
// other end, which stands in for the kernel: write PacketMessage()s to
// it, read the verdicts back with ParseVerdict.
func NewFake(num uint16, batch int, readTimeout time.Duration) (q *nfq.Queue, kernel int, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, -1, err
	}
	tv := unix.NsecToTimeval(readTimeout.Nanoseconds())
	if err := unix.SetsockoptTimeval(fds[0], unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, -1, err
	}
	return nfq.FromSocket(fds[0], num, batch), fds[1], nil
}

// PacketMessage builds an NFQNL_MSG_PACKET for queue num as the kernel
// sends it: an IPv4 packet header, the payload, and GSO when gso is set.
func PacketMessage(num uint16, id uint32, payload []byte, gso bool) []byte {
	return packetMessage(num, id, payload, gso, 7, nil, 0)
}

// PacketMessageMark is PacketMessage for a packet with a mark (NFQA_MARK,
// which the kernel includes only when it is not 0).
func PacketMessageMark(num uint16, id uint32, payload []byte, gso bool, mark uint32) []byte {
	return packetMessage(num, id, payload, gso, 7, nil, mark)
}

// PacketMessageFrom is PacketMessage for a packet that came in on bridge
// port physIn (ifindex) from the hardware address hw (none when nil).
func PacketMessageFrom(num uint16, id uint32, payload []byte, gso bool, physIn uint32, hw []byte) []byte {
	return packetMessage(num, id, payload, gso, physIn, hw, 0)
}

func packetMessage(num uint16, id uint32, payload []byte, gso bool, physIn uint32, hw []byte, mark uint32) []byte {
	b := make([]byte, hdrLen, 256+len(payload))
	hdr := binary.BigEndian.AppendUint32(nil, id)
	hdr = binary.BigEndian.AppendUint16(hdr, 0x0800)
	hdr = append(hdr, 2) // NF_INET_FORWARD
	b = attr(b, attrPacketHdr, hdr)
	b = attr(b, attrPhysInDev, binary.BigEndian.AppendUint32(nil, physIn))
	if mark != 0 {
		b = attr(b, attrMark, binary.BigEndian.AppendUint32(nil, mark))
	}
	if hw != nil {
		v := make([]byte, 12) // struct nfqnl_msg_packet_hw
		binary.BigEndian.PutUint16(v, uint16(len(hw)))
		copy(v[4:], hw)
		b = attr(b, attrHWAddr, v)
	}
	if gso {
		b = attr(b, attrSkbInfo, binary.BigEndian.AppendUint32(nil, skbInfoGSO))
	}
	b = attr(b, attrPayload, payload)
	// nlmsghdr: length, type, flags, seq, pid; nfgenmsg: family, version, queue.
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	binary.NativeEndian.PutUint16(b[4:], unix.NFNL_SUBSYS_QUEUE<<8|msgPacket)
	b[16], b[17] = unix.AF_UNSPEC, unix.NFNETLINK_V0
	binary.BigEndian.PutUint16(b[18:], num)
	return b
}

// attr appends one netlink attribute, padded to four bytes.
func attr(b []byte, typ uint16, v []byte) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(unix.NLA_HDRLEN+len(v)))
	b = binary.NativeEndian.AppendUint16(b, typ)
	b = append(b, v...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// SentVerdict is a verdict message as the kernel receives it.
type SentVerdict struct {
	Batch    bool // NFQNL_MSG_VERDICT_BATCH: every waiting packet up to ID
	Verdict  uint32
	ID       uint32
	Modified []byte // the replacement packet, if any
	Mark     uint32 // the mark it sets, when HasMark
	HasMark  bool
	// CtMark and CtMask are the conntrack mark change of NFQA_CT
	// (CTA_MARK, CTA_MARK_MASK), HasCt when the message carries one.
	HasCt          bool
	CtMark, CtMask uint32
}

var errShort = errors.New("nfqtest: truncated netlink message")

// ParseVerdict decodes one verdict message.
func ParseVerdict(b []byte) (SentVerdict, error) {
	var v SentVerdict
	if len(b) < hdrLen || int(binary.NativeEndian.Uint32(b)) != len(b) {
		return v, errShort
	}
	switch binary.NativeEndian.Uint16(b[4:]) {
	case unix.NFNL_SUBSYS_QUEUE<<8 | msgVerdict:
	case unix.NFNL_SUBSYS_QUEUE<<8 | msgVerdictBatch:
		v.Batch = true
	default:
		return v, errors.New("nfqtest: not a verdict message")
	}
	seen := false
	err := attrs(b[hdrLen:], func(typ uint16, val []byte) error {
		switch typ {
		case attrVerdictHdr:
			if len(val) != 8 {
				return errShort
			}
			v.Verdict, v.ID, seen = binary.BigEndian.Uint32(val), binary.BigEndian.Uint32(val[4:]), true
		case attrPayload:
			v.Modified = val
		case attrMark:
			if len(val) != 4 {
				return errShort
			}
			v.Mark, v.HasMark = binary.BigEndian.Uint32(val), true
		case attrCt, attrCt | unix.NLA_F_NESTED:
			v.HasCt = true
			return attrs(val, func(typ uint16, cv []byte) error {
				if len(cv) == 4 && typ == ctaMark {
					v.CtMark = binary.BigEndian.Uint32(cv)
				} else if len(cv) == 4 && typ == ctaMarkMask {
					v.CtMask = binary.BigEndian.Uint32(cv)
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return v, err
	}
	if !seen {
		return v, errors.New("nfqtest: verdict message without a verdict header")
	}
	return v, nil
}

// attrs calls fn with the type and value of each attribute in a.
func attrs(a []byte, fn func(typ uint16, val []byte) error) error {
	for len(a) >= unix.NLA_HDRLEN {
		l := int(binary.NativeEndian.Uint16(a))
		if l < unix.NLA_HDRLEN || l > len(a) {
			return errShort
		}
		if err := fn(binary.NativeEndian.Uint16(a[2:]), a[unix.NLA_HDRLEN:l]); err != nil {
			return err
		}
		a = a[min((l+3)&^3, len(a)):]
	}
	return nil
}
