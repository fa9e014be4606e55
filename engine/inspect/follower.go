package inspect

import (
	"github.com/conduit-ot/conduit/engine/packet"
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

// Sides of a flow, by role: requests go from the rule's client (ReqSide)
// to its server.
const (
	ReqSide = 0
	RspSide = 1
)

// Observer is the engine's side of the requests the follower's
// inspectors judge: the rule's coverage, and an offline tool's reports.
type Observer interface {
	// Cover records requests the condition passed (ones the rule counts,
	// or of a kind counted by its carrier). st is the flow's stream slot
	// (nil for none), whose Cov the observer may keep the flow's state in.
	// The follower calls it only when a packet holds more than coverMax;
	// the engine covers the rest once Inspect returns (Covered).
	Cover(st *Stream, rs []proto.Judged)
	// Report hands any judged request to the offline observer (only with
	// Config.Report).
	Report(r proto.Judged)
}

// Config is what a worker's follower is built with.
type Config struct {
	Pkt          *packet.Parsed // where the worker decodes the packet in hand
	Observer     Observer
	Report       bool // Observer.Report wants every judged request
	LargeBuffers int  // large buffers the follower may lend at once
	// LineWindow: a flow's accepted lines (exceptions, allowed unparsed
	// traffic) come at most one per window (clock ns).
	LineWindow int64
}

// Follower is one worker's stream follower: the stream slots of its
// flows, the protocols' inspectors, scratch space, and the inspection of
// the packet in hand. It is used by the worker's goroutine only, except
// Release.
type Follower struct {
	packetState
	// Reason is the verdict's reason, Event the PDU that made it (the
	// verdict line's app object), once an outcome is recorded: set then
	// whole, not cleared for every packet.
	Reason string
	Event  proto.Event
	// The packet's requests the condition passed, covered in one go
	// (Covered): one call and one lock per packet, not per request.
	covered [coverMax]proto.Judged
	pool    pool
	insps   [proto.Count]proto.Inspector // each protocol's parser state, by the table
	obs     Observer
	report  bool
	window  int64
	pkt     *packet.Parsed
	join    [PDUMax]byte
	out     [ipv6Len + tcpLen]byte
}

// Init readies a follower; the inspectors come from proto's table.
func (f *Follower) Init(cfg Config) {
	f.pkt, f.obs, f.report, f.window = cfg.Pkt, cfg.Observer, cfg.Report, cfg.LineWindow
	f.pool.maxLarge = cfg.LargeBuffers
	for _, id := range proto.All() {
		if p := proto.Table[id].Protocol; p != nil {
			f.insps[id] = p.NewInspector()
		}
	}
}

// packetState is the inspection of one packet's payload of one direction
// of a flow.
type packetState struct {
	cond     *rules.AppCond
	ins      proto.Inspector // the protocol's, of the worker
	side     int
	off      uint32 // stream offset of the payload's first new byte
	requests uint64 // requests the condition matched
	st       *Stream
	dir      *streamDir // the TCP direction (nil for a datagram)
	large    uint16     // a large buffer borrowed for dir's unfinished PDU

	// Working copies of the flow's protocol state as the inspector sees
	// it, stored only if the packet passes (settle). cur.Asm's bytes from
	// asmOff on are this packet's: a reassembly that begins in it is
	// gathered behind the asmBase bytes the stored one holds, which a
	// refused packet leaves as they were.
	cur     proto.Stream
	asmOff  uint16
	asmBase uint16

	what outcome
	res  Result
	ncov int    // covered[:ncov] are the packet's requests the observer has yet to cover
	lost bool   // a PDU could not be framed: the boundary is lost
	gap  bool   // the outcome is a stream gap (dropped, never reset)
	skip uint32 // bytes of an oversized PDU left for later segments
}

// coverMax bounds the requests of a packet kept for one Observer.Cover.
const coverMax = 8

// Covered returns the packet's requests the condition passed that the
// observer has not covered yet, and the flow's stream slot (nil: none).
func (in *Follower) Covered() (*Stream, []proto.Judged) { return in.st, in.covered[:in.ncov] }

// Unjudged reports whether the packet in hand could not be judged
// (an unparsed or malformed PDU, a stream gap).
func (in *Follower) Unjudged() bool { return in.what == outUnparsed }

func (in *Follower) record(what outcome, reason string) *proto.Event {
	if in.what >= outViolation || what <= in.what {
		return nil
	}
	in.what, in.Reason = what, reason
	in.Event = proto.Event{Side: proto.Side(in.side)}
	return &in.Event
}

func (in *Follower) violation(f proto.Failure, off uint32) *proto.Event {
	a := in.record(outViolation, ReasonViolation)
	if a != nil {
		a.Violates, a.Offset = f, off
	}
	return a
}

func (in *Follower) unparsed(reason, err, detail string, off uint32) *proto.Event {
	a := in.record(outUnparsed, reason)
	if a != nil {
		a.Err, a.Detail, a.Offset = err, detail, off
	}
	return a
}

func (in *Follower) notice(off uint32) *proto.Event {
	a := in.record(outNotice, ReasonException)
	if a != nil {
		a.Offset = off
	}
	return a
}

// walk judges the PDUs of part ++ data, where part is the unfinished PDU
// kept from earlier segments, and returns the length of the unfinished
// PDU at the end (to keep).
func (in *Follower) walk(part, data []byte) int {
	pos := 0
	if len(part) > 0 {
		j := in.join[:]
		k := copy(j, part)
		k += copy(j[k:], data)
		start := in.off - uint32(len(part))
		n, st := in.pdu(j[:k], start)
		switch st {
		case proto.Short:
			return in.keep(j[:k], start, len(part)+len(data), k == len(j))
		case proto.Lost:
			return 0
		}
		pos = n - len(part)
	}
	for pos < len(data) {
		n, st := in.pdu(data[pos:], in.off+uint32(pos))
		switch st {
		case proto.Short:
			rest := data[pos:]
			return in.keep(rest, in.off+uint32(pos), len(rest), len(rest) >= PDUMax)
		case proto.Lost:
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
// bytes of it so far, full if b reached PDUMax): it is kept whole, in a
// large buffer if it outgrows StreamBuf, or passed over (oversize).
func (in *Follower) keep(b []byte, off uint32, avail int, full bool) int {
	switch {
	case full || in.ins.Declared(b) > PDUMax:
		return in.oversize(b, off, avail, "pdu-larger-than-stream-buffer")
	case avail <= StreamBuf || in.dir == nil || in.dir.large != 0:
	default:
		if in.large = in.pool.borrow(); in.large == 0 {
			return in.oversize(b, off, avail, "no-large-buffer-free")
		}
	}
	return avail
}

// oversize handles a PDU the stream cannot keep: a request cannot be
// judged (unparsed); either way its bytes are passed over unparsed (skip)
// if the packet passes, so the stream stays in step.
func (in *Follower) oversize(b []byte, off uint32, avail int, detail string) int {
	total := in.ins.Declared(b)
	if in.side == ReqSide {
		in.unparsed(unparsedReason[in.cond.Proto], "", detail, off)
	}
	if in.cur.Asm.Active {
		in.cur.Asm.Decided = true // a piece of it goes unseen: it cannot be judged whole
	}
	if total > avail {
		in.skip = uint32(total - avail)
	}
	return 0
}

// pdu judges the PDU at the start of b (stream offset off) by the
// protocol's inspector.
func (in *Follower) pdu(b []byte, off uint32) (int, proto.Status) {
	n, st := in.ins.PDU(in, in.cond.Cond, &in.cur, b, off)
	if st == proto.Lost {
		in.lost = true // the boundary is lost
	}
	return n, st
}
