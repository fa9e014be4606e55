package nfq

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/conduit-ot/conduit/internal/nlsock"
)

// nfnetlink_queue and ctnetlink attributes a verdict carrying a
// connection mark needs (linux/netfilter/nfnetlink_queue.h,
// nfnetlink_conntrack.h).
const (
	attrCt        = 11 // NFQA_CT: nested ctnetlink attributes applied to the packet's conntrack entry
	ctaMark       = 8  // CTA_MARK
	ctaMarkMask   = 21 // CTA_MARK_MASK
	ctVerdictSize = nlsock.BodyOff + 12 + 4 + 8 + 8
	// ctVerdictMarkSize: the same with NFQA_MARK.
	ctVerdictMarkSize = ctVerdictSize + 8
)

// VerdictCtMark gives packet id its verdict and, in the same message,
// changes the mark of the packet's conntrack entry: the bits in mask take
// the value of mark, the others are kept (the kernel computes
// (old &^ mask) ^ mark, so mark must lie within mask). It is always a
// single-packet verdict: the batch verdict cannot carry NFQA_CT.
//
// The kernel applies NFQA_CT only when built with
// CONFIG_NETFILTER_NETLINK_GLUE_CT and ctnetlink is loaded; otherwise it
// ignores the attribute and still applies the verdict.
func (q *Queue) VerdictCtMark(id, verdict, mark, mask uint32) error {
	return q.send(q.ctVerdict(id, verdict, mark, mask, 0, false))
}

// VerdictCtMarkMark is VerdictCtMark that also sets the packet's mark
// (skb->mark) to pktMark, as VerdictMark does.
func (q *Queue) VerdictCtMarkMark(id, verdict, mark, mask, pktMark uint32) error {
	return q.send(q.ctVerdict(id, verdict, mark, mask, pktMark, true))
}

func (q *Queue) ctVerdict(id, verdict, mark, mask, pktMark uint32, withMark bool) []byte {
	b := q.cbuf[:ctVerdictSize]
	if withMark {
		b = q.cbuf[:ctVerdictMarkSize]
	}
	putHeader(b, len(b), msgVerdict, unix.NLM_F_REQUEST, 0, q.num)
	n := nlsock.BodyOff
	binary.NativeEndian.PutUint16(b[n:], 12)
	binary.NativeEndian.PutUint16(b[n+2:], attrVerdictHdr)
	binary.BigEndian.PutUint32(b[n+4:], verdict)
	binary.BigEndian.PutUint32(b[n+8:], id)
	n += 12
	binary.NativeEndian.PutUint16(b[n:], 4+8+8)
	binary.NativeEndian.PutUint16(b[n+2:], attrCt|unix.NLA_F_NESTED)
	n += 4
	binary.NativeEndian.PutUint16(b[n:], 8)
	binary.NativeEndian.PutUint16(b[n+2:], ctaMark)
	binary.BigEndian.PutUint32(b[n+4:], mark&mask)
	n += 8
	binary.NativeEndian.PutUint16(b[n:], 8)
	binary.NativeEndian.PutUint16(b[n+2:], ctaMarkMask)
	binary.BigEndian.PutUint32(b[n+4:], mask)
	if withMark {
		n += 8
		binary.NativeEndian.PutUint16(b[n:], 8)
		binary.NativeEndian.PutUint16(b[n+2:], attrMark)
		binary.BigEndian.PutUint32(b[n+4:], pktMark)
	}
	return b
}
