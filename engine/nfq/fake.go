package nfq

import (
	"encoding/binary"
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// NewFake returns a Queue on one end of a datagram socketpair and the
// other end, which stands in for the kernel in tests: write
// PacketMessage()s to it, read the verdicts back with ParseVerdict.
func NewFake(num uint16, batch int, readTimeout time.Duration) (q *Queue, kernel int, err error) {
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
	return newQueue(fds[0], num, batch), fds[1], nil
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
	b := make([]byte, 256+len(payload))
	n := nlmsgHdrLen + nfgenHdrLen
	hdr := make([]byte, 7)
	binary.BigEndian.PutUint32(hdr, id)
	binary.BigEndian.PutUint16(hdr[4:], 0x0800)
	hdr[6] = 2 // NF_INET_FORWARD
	n += putAttr(b[n:], attrPacketHdr, hdr)
	n += putAttr(b[n:], attrPhysInDev, binary.BigEndian.AppendUint32(nil, physIn))
	if mark != 0 {
		n += putAttr(b[n:], attrMark, binary.BigEndian.AppendUint32(nil, mark))
	}
	if hw != nil {
		v := make([]byte, 12) // struct nfqnl_msg_packet_hw
		binary.BigEndian.PutUint16(v, uint16(len(hw)))
		copy(v[4:], hw)
		n += putAttr(b[n:], attrHWAddr, v)
	}
	if gso {
		n += putAttr(b[n:], attrSkbInfo, binary.BigEndian.AppendUint32(nil, skbInfoGSO))
	}
	n += putAttr(b[n:], attrPayload, payload)
	putHeader(b, n, msgPacket, 0, 0, num)
	return b[:n]
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

// ParseVerdict decodes one verdict message.
func ParseVerdict(b []byte) (SentVerdict, error) {
	var v SentVerdict
	if len(b) < nlmsgHdrLen+nfgenHdrLen || int(binary.NativeEndian.Uint32(b)) != len(b) {
		return v, errShort
	}
	switch binary.NativeEndian.Uint16(b[4:]) {
	case uint16(subsysQueue)<<8 | msgVerdict:
	case uint16(subsysQueue)<<8 | msgVerdictBatch:
		v.Batch = true
	default:
		return v, errors.New("nfqueue: not a verdict message")
	}
	seen := false
	a := b[nlmsgHdrLen+nfgenHdrLen:]
	for len(a) >= nlaHdrLen {
		l := int(binary.NativeEndian.Uint16(a))
		if l < nlaHdrLen || l > len(a) {
			return v, errShort
		}
		switch val := a[nlaHdrLen:l]; binary.NativeEndian.Uint16(a[2:]) {
		case attrVerdictHdr:
			if len(val) != 8 {
				return v, errShort
			}
			v.Verdict, v.ID, seen = binary.BigEndian.Uint32(val), binary.BigEndian.Uint32(val[4:]), true
		case attrPayload:
			v.Modified = val
		case attrMark:
			if len(val) != 4 {
				return v, errShort
			}
			v.Mark, v.HasMark = binary.BigEndian.Uint32(val), true
		case attrCt, attrCt | nlaFNested:
			v.HasCt = true
			for c := val; len(c) >= nlaHdrLen; {
				cl := int(binary.NativeEndian.Uint16(c))
				if cl < nlaHdrLen || cl > len(c) {
					return v, errShort
				}
				if cv := c[nlaHdrLen:cl]; len(cv) == 4 {
					switch binary.NativeEndian.Uint16(c[2:]) {
					case ctaMark:
						v.CtMark = binary.BigEndian.Uint32(cv)
					case ctaMarkMask:
						v.CtMask = binary.BigEndian.Uint32(cv)
					}
				}
				c = c[min(align4(cl), len(c)):]
			}
		}
		a = a[min(align4(l), len(a)):]
	}
	if !seen {
		return v, errors.New("nfqueue: verdict message without a verdict header")
	}
	return v, nil
}
