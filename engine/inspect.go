package engine

import (
	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/proto"
	"github.com/conduit-ot/conduit/rules"
)

// Reasons of the verdicts of industrial-protocol inspection.
const (
	ReasonViolation = "app-violation" // a request the rule's protocol condition refuses
	ReasonStreamGap = "stream-gap"    // a gap, reordering or altered retransmission in the TCP stream
	ReasonException = "app-exception" // a response reporting an error (Modbus exception, CIP or S7 error)
)

// The reasons of a protocol's PDUs that cannot be judged:
// "malformed-modbus", "unparsed-s7", ...
var malformedReason, unparsedReason = reasons("malformed-"), reasons("unparsed-")

func reasons(prefix string) (r [proto.Count]string) {
	for _, id := range proto.All() {
		r[id] = prefix + id.String()
	}
	return r
}

// outcome orders what inspection found in a packet: the first violation or
// unparsed PDU decides; a notice (an exception response) is only logged.
type outcome uint8

const (
	outNone outcome = iota
	outNotice
	outViolation
	outUnparsed
)

// inspection judges one packet's payload of one direction of a flow.
type inspection struct {
	w        *Worker
	flow     *conntrack.Flow
	cond     *rules.AppCond
	ins      proto.Inspector // the protocol's, of the worker
	side     int
	off      uint32        // stream offset of the payload's first new byte
	requests uint64        // requests the condition matched
	cov      *ruleCoverage // the rule's coverage: what the condition passed
	covSt    *flowStream   // where the flow's tuple is kept, if it has a slot
	tup      *tupleCov     // the flow's tuple, once a request was counted
	now      int64

	dir   *streamDir // the TCP direction (nil for a datagram)
	large uint16     // a large buffer borrowed for dir's unfinished PDU

	// Working copies of the flow's protocol state, stored only if the
	// packet passes (settle). asm's bytes from asmOff on are this packet's:
	// a reassembly that begins in it is gathered behind the asmBase bytes
	// the stored one holds, which a refused packet leaves as they were.
	asm     assembly
	asmOff  uint16
	asmBase uint16
	word    uint16 // the flow's protocol word (proto.Judge.Word)

	what   outcome
	reason string
	app    appEvent
	lost   bool   // a PDU could not be framed: the boundary is lost
	gap    bool   // the outcome is a stream gap (dropped, never reset)
	skip   uint32 // bytes of an oversized PDU left for later segments
}

func (in *inspection) record(what outcome, reason string) *appEvent {
	if in.what >= outViolation || what <= in.what {
		return nil
	}
	in.what, in.reason = what, reason
	in.app = appEvent{proto: in.cond.Proto, Event: proto.Event{Side: proto.Side(in.side)}}
	return &in.app
}

func (in *inspection) violation(f proto.Failure, off uint32) *appEvent {
	a := in.record(outViolation, ReasonViolation)
	if a != nil {
		a.Violates, a.Offset = f, off
	}
	return a
}

func (in *inspection) unparsed(reason, err, detail string, off uint32) *appEvent {
	a := in.record(outUnparsed, reason)
	if a != nil {
		a.Err, a.Detail, a.Offset = err, detail, off
	}
	return a
}

func (in *inspection) notice(off uint32) *appEvent {
	a := in.record(outNotice, ReasonException)
	if a != nil {
		a.Offset = off
	}
	return a
}

// pduStatus is how a PDU at the start of a buffer went (proto.Status).
type pduStatus = proto.Status

const (
	pduOK    = proto.OK    // framed (judged or found malformed): n bytes consumed
	pduShort = proto.Short // continues beyond the buffer
	pduLost  = proto.Lost  // cannot be framed: the rest of the stream cannot be walked
)

// walk judges the PDUs of part ++ data, where part is the unfinished PDU
// kept from earlier segments, and returns the length of the unfinished
// PDU at the end (to keep).
func (in *inspection) walk(part, data []byte) int {
	pos := 0
	if len(part) > 0 {
		j := in.w.join[:]
		k := copy(j, part)
		k += copy(j[k:], data)
		start := in.off - uint32(len(part))
		n, st := in.pdu(j[:k], start)
		switch st {
		case pduShort:
			return in.keep(j[:k], start, len(part)+len(data), k == len(j))
		case pduLost:
			return 0
		}
		pos = n - len(part)
	}
	for pos < len(data) {
		n, st := in.pdu(data[pos:], in.off+uint32(pos))
		switch st {
		case pduShort:
			rest := data[pos:]
			return in.keep(rest, in.off+uint32(pos), len(rest), len(rest) >= pduMax)
		case pduLost:
			return 0
		}
		pos += n
	}
	if pos > len(data) {
		// A PDU judged from its first bytes (OPC UA): the rest of it is
		// passed over as it comes.
		in.skip = uint32(pos - len(data))
	}
	return 0
}

// keep decides about the unfinished PDU b at the end of the stream (avail
// bytes of it so far, full if b reached pduMax): it is kept whole, in a
// large buffer if it outgrows streamBuf, or passed over (oversize).
func (in *inspection) keep(b []byte, off uint32, avail int, full bool) int {
	switch {
	case full || in.declared(b) > pduMax:
		return in.oversize(b, off, avail, "pdu-larger-than-stream-buffer")
	case avail <= streamBuf || in.dir == nil || in.dir.large != 0:
	default:
		if in.large = in.w.streams.borrow(); in.large == 0 {
			return in.oversize(b, off, avail, "no-large-buffer-free")
		}
	}
	return avail
}

// oversize handles a PDU the stream cannot keep: a request cannot be
// judged (unparsed); either way its bytes are passed over unparsed (skip)
// if the packet passes, so the stream stays in step.
func (in *inspection) oversize(b []byte, off uint32, avail int, detail string) int {
	total := in.declared(b)
	if in.side == reqSide {
		in.unparsed(unparsedReason[in.cond.Proto], "", detail, off)
	}
	if in.asm.Active {
		in.asm.Decided = true // a piece of it goes unseen: it cannot be judged whole
	}
	if total > avail {
		in.skip = uint32(total - avail)
	}
	return 0
}

// declared is the length a PDU's header announces, 0 if b is too short
// to tell.
func (in *inspection) declared(b []byte) int { return in.ins.Declared(b) }

// pdu judges the PDU at the start of b (stream offset off) by the
// protocol's inspector.
func (in *inspection) pdu(b []byte, off uint32) (int, pduStatus) {
	n, st := in.ins.PDU(in, in.cond.Cond, proto.Side(in.side), b, off)
	if st == proto.Lost {
		in.lost = true // the boundary is lost
	}
	return n, st
}
