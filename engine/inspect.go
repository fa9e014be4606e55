package engine

import (
	"encoding/binary"

	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/engine/dnp3"
	"github.com/conduit-ot/conduit/engine/enip"
	"github.com/conduit-ot/conduit/engine/modbus"
	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/engine/s7"
	"github.com/conduit-ot/conduit/modes"
	"github.com/conduit-ot/conduit/rules"
)

// Reasons of the verdicts of industrial-protocol inspection.
const (
	ReasonViolation = "app-violation" // a request the rule's protocol condition refuses
	ReasonStreamGap = "stream-gap"    // a gap, reordering or altered retransmission in the TCP stream
	ReasonException = "app-exception" // a response reporting an error (Modbus exception, CIP or S7 error)
)

var (
	malformedReason = [...]string{rules.AppModbus: "malformed-modbus", rules.AppDNP3: "malformed-dnp3",
		rules.AppENIP: "malformed-enip", rules.AppS7: "malformed-s7"}
	unparsedReason = [...]string{rules.AppModbus: "unparsed-modbus", rules.AppDNP3: "unparsed-dnp3",
		rules.AppENIP: "unparsed-enip", rules.AppS7: "unparsed-s7"}
)

// markStreamShift: a flow's Mark holds, above the engine's low bits, its
// stream slot in the worker's pool plus one (0: none).
const markStreamShift = 8

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
	s7PDU   uint16

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
	in.app = appEvent{proto: in.cond.Proto, side: uint8(in.side)}
	return &in.app
}

func (in *inspection) violation(f rules.Failure, off uint32) *appEvent {
	a := in.record(outViolation, ReasonViolation)
	if a != nil {
		a.violates, a.offset = f, off
	}
	return a
}

func (in *inspection) unparsed(reason, err, detail string, off uint32) *appEvent {
	a := in.record(outUnparsed, reason)
	if a != nil {
		a.err, a.detail, a.offset = err, detail, off
	}
	return a
}

func (in *inspection) notice(off uint32) *appEvent {
	a := in.record(outNotice, ReasonException)
	if a != nil {
		a.offset = off
	}
	return a
}

// pduStatus is how a PDU at the start of a buffer went.
type pduStatus uint8

const (
	pduOK    pduStatus = iota // framed (judged or found malformed): n bytes consumed
	pduShort                  // continues beyond the buffer
	pduLost                   // cannot be framed: the rest of the stream cannot be walked
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
	if in.asm.active {
		in.asm.decided = true // a piece of it goes unseen: it cannot be judged whole
	}
	if total > avail {
		in.skip = uint32(total - avail)
	}
	return 0
}

// declared is the length a PDU's header announces, 0 if b is too short
// to tell.
func (in *inspection) declared(b []byte) int {
	switch in.cond.Proto {
	case rules.AppModbus:
		if len(b) >= 6 {
			return 6 + int(binary.BigEndian.Uint16(b[4:6]))
		}
	case rules.AppDNP3:
		if len(b) >= 3 {
			return dnp3.FrameLen(b[2])
		}
	case rules.AppENIP:
		if len(b) >= 4 {
			return enip.HeaderLen + int(binary.LittleEndian.Uint16(b[2:4]))
		}
	case rules.AppS7:
		if len(b) >= 4 {
			return int(binary.BigEndian.Uint16(b[2:4]))
		}
	}
	return 0
}

func (in *inspection) pdu(b []byte, off uint32) (int, pduStatus) {
	switch in.cond.Proto {
	case rules.AppModbus:
		return in.modbus(b, off)
	case rules.AppDNP3:
		return in.dnp3(b, off)
	case rules.AppENIP:
		return in.enip(b, off)
	case rules.AppS7:
		return in.s7(b, off)
	}
	return 0, pduLost
}

// malformed records a PDU the parser refused; n > 0 means its framing was
// sound, so the walk can go on after it. The event is returned (nil if an
// earlier PDU decided) for the caller to add the PDU's fields.
func (in *inspection) malformed(n int, err string, off uint32) (*appEvent, int, pduStatus) {
	a := in.unparsed(malformedReason[in.cond.Proto], err, "", off)
	if n == 0 {
		in.lost = true
		return a, 0, pduLost
	}
	return a, n, pduOK
}

func (in *inspection) modbus(b []byte, off uint32) (int, pduStatus) {
	p := &in.w.mb
	dir := modbus.Request
	if in.side == rspSide {
		dir = modbus.Response
	}
	n, err := modbus.Parse(b, dir, p)
	switch {
	case err == modbus.ErrShort:
		return 0, pduShort
	case err != modbus.OK:
		a, n, st := in.malformed(n, string(err), off)
		if a != nil && n > 0 {
			a.fromModbus(p) // the MBAP fields and the function are set
		}
		return n, st
	}
	if in.side == reqSide {
		f := in.cond.Modbus.Check(p)
		in.seenModbus(p, f)
		if f != rules.Pass {
			if a := in.violation(f, off); a != nil {
				a.fromModbus(p)
			}
		} else {
			in.requests++
		}
	} else if p.Exception {
		if a := in.notice(off); a != nil {
			a.fromModbus(p)
		}
	}
	return n, pduOK
}

// DNP3 application fragments over several transport segments. A master
// sends a request bigger than one link frame (249 application bytes) as
// transport segments FIR ... FIN of one fragment, numbered in sequence;
// the outstation's transport layer gathers them per link source and acts
// on the fragment only once FIN arrives, and a FIR starts a fragment
// over. The engine does the same for the frames it judges, one fragment
// per side at a time, up to asmMax bytes (DNP3 fragments are 2048 at
// most in practice):
//   - The first segment carries the function, judged at once, and the
//     first object headers, judged as far as they go: a violation drops
//     that segment (the rest of the fragment then means nothing to the
//     outstation and passes unjudged).
//   - Later segments pass while the fragment is gathered, as the start of
//     a Modbus ADU split over TCP segments does: the outstation cannot act
//     on them alone. A segment with no fragment pending, of other link
//     addresses, or out of sequence is unparsed.
//   - The FIN segment completes it: when the condition lists objects the
//     whole fragment is decoded and every object header judged; a
//     violation drops the FIN segment, so the outstation never gets the
//     request. The request is counted then.
func (in *inspection) dnp3(b []byte, off uint32) (int, pduStatus) {
	f := &in.w.dnp
	n, err := dnp3.Parse(b, f)
	switch {
	case err == dnp3.ErrShort:
		return 0, pduShort
	case err != dnp3.OK:
		if f.FIR() {
			in.asm.active = false // the outstation drops what it gathered, too
		}
		_, n, st := in.malformed(n, string(err), off)
		return n, st
	}
	// DNP3 frames say who sent them: the master's frames (DIR set) and
	// any frame carrying an application request are judged, in either TCP
	// direction (an outstation may be the side that connects).
	request := f.HasApp && f.App.Function != dnp3.FuncConfirm && !dnp3.IsResponse(f.App.Function)
	if !request && !f.FromMaster() {
		return n, pduOK
	}
	linkOK := true
	if fl := in.cond.DNP3.CheckLink(f); fl != rules.Pass {
		if a := in.violation(fl, off); a != nil {
			a.fromDNP3(f, -1)
		}
		linkOK = false
	}
	switch {
	case f.LinkOnly:
	case !f.FIR():
		in.dnp3Next(f, off, linkOK)
	case !request:
		in.asm.active = false // a FIR starts a new fragment
	case f.FIN():
		in.asm.active = false
		if linkOK {
			in.dnp3App(f, &f.App, off)
		}
	default:
		in.dnp3First(f, off, linkOK)
	}
	return n, pduOK
}

// dnp3App judges a whole application request, of the frame f or gathered
// from its segments.
func (in *inspection) dnp3App(f *dnp3.Frame, app *dnp3.App, off uint32) {
	fl, bad := in.cond.DNP3.CheckApp(app)
	in.seen(KindDNP3, uint16(app.Function), fl, fl == rules.Pass)
	var a *appEvent
	switch fl {
	case rules.Pass:
		in.requests++
		return
	case rules.FailIncomplete:
		a, bad = in.unparsed(unparsedReason[rules.AppDNP3], "", "object-headers-not-all-decoded", off), -1
	default:
		a = in.violation(fl, off)
	}
	if a != nil {
		a.fromDNP3(f, -1)
		a.fromDNP3App(app, bad)
	}
}

// dnp3First begins a fragment with its first segment; linkOK is false
// when the frame's link addresses were refused.
func (in *inspection) dnp3First(f *dnp3.Frame, off uint32, linkOK bool) {
	in.asmStart(off)
	a := &in.asm
	a.seq, a.src, a.dst, a.fn = nextSeq(f.Seq()), f.Source, f.Destination, f.App.Function
	if !linkOK {
		a.decided = true
		return
	}
	c := in.cond.DNP3
	fl, bad := c.CheckApp(&f.App)
	if fl == rules.FailIncomplete {
		// The function passed; judge the object headers this segment
		// holds, all whole (the walk records a header only once its range
		// is read), the others wait for FIN.
		f.App.ObjectsComplete = true
		fl, bad = c.CheckApp(&f.App)
		f.App.ObjectsComplete = false
		if fl == rules.Pass {
			fl = rules.FailIncomplete
		}
	}
	if fl == rules.FailIncomplete {
		in.seen(KindDNP3, uint16(f.App.Function), rules.Pass, false) // the objects wait for FIN
	} else {
		in.seen(KindDNP3, uint16(f.App.Function), fl, false)
	}
	switch fl {
	case rules.Pass: // judged whole: nothing to keep
	case rules.FailIncomplete:
		if detail := in.asmAppend(f.Segment(), asmMax); detail != "" {
			if e := in.unparsed(unparsedReason[rules.AppDNP3], "", detail, off); e != nil {
				e.fromDNP3(f, -1)
			}
			a.decided = true
		}
	default:
		if e := in.violation(fl, off); e != nil {
			e.fromDNP3(f, bad)
		}
		a.decided = true
	}
}

// nextSeq is the transport sequence number after s.
func nextSeq(s uint8) uint8 { return (s + 1) & 0x3f }

// dnp3Next takes a later segment of a fragment; linkOK is false when the
// frame's link addresses were refused.
func (in *inspection) dnp3Next(f *dnp3.Frame, off uint32, linkOK bool) {
	a := &in.asm
	detail := ""
	switch {
	case !a.active || f.Source != a.src || f.Destination != a.dst:
		detail = "segment-without-its-first"
	case f.Seq() != a.seq:
		detail = "segment-out-of-sequence"
		a.active = false
	}
	if detail != "" {
		if e := in.unparsed(unparsedReason[rules.AppDNP3], "", detail, off); e != nil {
			e.fromDNP3(f, -1)
		}
		return
	}
	a.seq = nextSeq(a.seq)
	if !linkOK {
		a.decided = true
	}
	objects := len(in.cond.DNP3.Objects) > 0
	if !a.decided && objects && a.n == 0 {
		// The first segment was not kept: the condition listed no objects
		// then (a reload changed it). The fragment cannot be seen whole.
		if e := in.unparsed(unparsedReason[rules.AppDNP3], "", "object-headers-not-all-decoded", a.at); e != nil {
			e.fromDNP3(f, -1)
		}
		a.decided = true
	}
	if !a.decided && objects {
		if detail := in.asmAppend(f.Segment(), asmMax); detail != "" {
			if e := in.unparsed(unparsedReason[rules.AppDNP3], "", detail, a.at); e != nil {
				e.fromDNP3(f, -1)
			}
			a.decided = true
		}
	}
	if !f.FIN() {
		return
	}
	a.active = false
	switch {
	case a.decided:
	case !objects:
		in.requests++ // judged by its first segment
		in.seen(KindDNP3, uint16(a.fn), rules.Pass, true)
	default:
		// The frame's App is free once its segment is read: decode the
		// whole fragment into it.
		if err := dnp3.ParseApp(in.asmBytes(), &f.App); err != dnp3.OK {
			if e := in.unparsed(malformedReason[rules.AppDNP3], string(err), "", a.at); e != nil {
				e.fromDNP3(f, -1)
			}
			return
		}
		in.dnp3App(f, &f.App, a.at)
	}
}

func (in *inspection) enip(b []byte, off uint32) (int, pduStatus) {
	p := &in.w.enip
	dir := enip.Request
	if in.side == rspSide {
		dir = enip.Response
	}
	n, err := enip.Parse(b, dir, p)
	switch {
	case err == enip.ErrShort:
		return 0, pduShort
	case err != enip.OK:
		_, n, st := in.malformed(n, string(err), off)
		return n, st
	}
	if in.side == rspSide {
		if p.Encap.Status != 0 {
			if a := in.notice(off); a != nil {
				a.fromENIP(p, nil)
			}
			return n, pduOK
		}
		for i := range p.NumMsgs() {
			if m := &p.Msgs[i]; m.Response && m.Status != 0 {
				if a := in.notice(off); a != nil {
					a.fromENIP(p, m)
				}
				break
			}
		}
		return n, pduOK
	}
	c := in.cond.ENIP
	fl := c.CheckCommand(p.Encap.Command)
	in.seen(KindENIP, p.Encap.Command, fl, false)
	if fl != rules.Pass {
		if a := in.violation(fl, off); a != nil {
			a.fromENIP(p, nil)
		}
		return n, pduOK
	}
	if p.Truncated() {
		if a := in.unparsed(unparsedReason[rules.AppENIP], "", "more-cip-messages-than-recorded", off); a != nil {
			a.fromENIP(p, nil)
		}
		return n, pduOK
	}
	for i := range p.NumMsgs() {
		m := &p.Msgs[i]
		if m.Response || rules.Envelope(m) {
			continue
		}
		fl := c.CheckCIP(m)
		in.seenCIP(m, fl)
		if fl != rules.Pass {
			if a := in.violation(fl, off); a != nil {
				a.fromENIP(p, m)
			}
			return n, pduOK
		}
	}
	in.requests++
	in.seen(KindENIP, p.Encap.Command, rules.Pass, true)
	return n, pduOK
}

// S7 PDUs over several COTP DT TPDUs. COTP may cut an S7 PDU into DT
// TPDUs, all but the last without the end-of-TSDU mark; the PLC's
// transport gathers them and acts on the PDU only once the last arrives.
// Holding the pieces back until then is not an option (a queued packet
// must get its verdict now), so the engine follows the policy of a Modbus
// ADU split over TCP segments: what cannot be acted on yet passes, and
// the piece that completes the PDU carries its verdict.
//   - The first piece holds the S7 header and the parameter's first
//     bytes: a job's function, a userdata request's group. When it shows
//     them it is judged at once, and a violation (or S7comm-plus, or not
//     S7 at all) drops it: the PDU is decided, the pieces after it pass
//     unjudged and unkept (without the first one they mean nothing to the
//     PLC; in enforce they never come, as the stream stalls on the
//     refused piece).
//   - Otherwise the pieces are gathered (in a large buffer, up to the PDU
//     size setup communication negotiated, at most asmMax) and pass.
//   - The last piece completes the PDU, which is decoded whole and judged
//     as an unsplit one: a function the first piece already let through
//     is judged the same, so what can still change the outcome is a PDU
//     that does not decode (malformed-s7) or outgrows the negotiated size
//     or the buffer (unparsed-s7), which then drops the last piece, and
//     the PLC never gets the PDU. The request is counted then.
//
// Responses are gathered the same way to report their errors; one that
// cannot be kept (no large buffer free) is passed unparsed.
func (in *inspection) s7(b []byte, off uint32) (int, pduStatus) {
	p := &in.w.s7
	dir := s7.Request
	if in.side == rspSide {
		dir = s7.Response
	}
	var n int
	var err s7.Error
	if in.asm.active {
		n, err = s7.ParseTPKT(b, dir, p)
	} else {
		n, err = s7.Parse(b, dir, p)
	}
	switch {
	case err == s7.ErrShort:
		return 0, pduShort
	case err != s7.OK:
		_, n, st := in.malformed(n, string(err), off)
		return n, st
	}
	switch {
	case in.asm.active:
		if p.COTP.Type == s7.COTPData {
			in.s7Piece(p.COTP.Data, p.COTP.EOT)
		}
	case p.Kind == s7.KindFragment:
		in.asmStart(off)
		if in.side == reqSide {
			in.asm.decided = in.s7FirstPiece(p.COTP.Data, off)
		}
		in.s7Piece(p.COTP.Data, false)
	case p.Kind == s7.KindS7Plus || p.Kind == s7.KindS7:
		in.s7Whole(p, off)
	}
	return n, pduOK
}

// s7Piece adds a DT's data to the pending PDU; eot completes it.
func (in *inspection) s7Piece(d []byte, eot bool) {
	a := &in.asm
	if !a.decided {
		limit := asmMax
		if in.s7PDU != 0 {
			limit = min(limit, int(in.s7PDU))
		}
		if detail := in.asmAppend(d, limit); detail != "" {
			switch {
			case in.side == rspSide && detail == detailNoLarge:
			case detail == detailTooLarge && limit < asmMax:
				in.unparsed(unparsedReason[rules.AppS7], "", "pdu-larger-than-negotiated", a.at)
			default:
				in.unparsed(unparsedReason[rules.AppS7], "", detail, a.at)
			}
			a.decided = true
		}
	}
	if !eot {
		return
	}
	a.active = false
	if a.decided {
		return
	}
	p := &in.w.s7
	dir := s7.Request
	if in.side == rspSide {
		dir = s7.Response
	}
	if err := s7.ParseS7(in.asmBytes(), dir, p); err != s7.OK {
		if e := in.unparsed(malformedReason[rules.AppS7], string(err), "", a.at); e != nil {
			e.fromS7(p)
		}
		return
	}
	in.s7Whole(p, a.at)
}

// s7PlusDetail names S7comm-plus (protocol id 0x72) in the verdict line:
// recognised, not parsed further, so left to on_unparsed.
const s7PlusDetail = "s7plus"

// s7Whole judges a whole S7 or S7comm-plus PDU of the client, or looks at
// one of the server's for errors.
func (in *inspection) s7Whole(p *s7.PDU, off uint32) {
	if p.Kind == s7.KindS7Plus {
		if in.side == reqSide {
			in.unparsed(unparsedReason[rules.AppS7], "", s7PlusDetail, off)
		}
		return
	}
	if p.HasFunction && p.Function == s7.FuncSetupCommunication && p.PDUSize != 0 {
		in.s7PDU = p.PDUSize // asked for by the client, then granted by the server
	}
	if in.side == rspSide {
		if p.ErrorClass != 0 || p.ErrorCode != 0 {
			if a := in.notice(off); a != nil {
				a.fromS7(p)
			}
		}
		return
	}
	switch f, req := in.s7Judge(p.ROSCTR, p.Function, p.HasFunction, p.UserdataType, p.Group, true); {
	case !req:
	case f == rules.Pass:
		in.requests++
	default:
		if a := in.violation(f, off); a != nil {
			a.fromS7(p)
		}
	}
}

// s7Judge judges a client's job (by function) or userdata request (by
// group), whole or by its first piece; other message types are not
// requests (req false).
func (in *inspection) s7Judge(rosctr, function uint8, hasFunction bool, udType, group uint8, whole bool) (f rules.Failure, req bool) {
	c := in.cond.S7
	switch {
	case rosctr == s7.ROSCTRJob && hasFunction:
		f = c.CheckJob(function)
		in.seen(KindS7Job, uint16(function), f, whole && f == rules.Pass)
		return f, true
	case rosctr == s7.ROSCTRUserdata && udType == s7.UserdataRequest:
		f = c.CheckUserdata(group)
		in.seen(KindS7Userdata, uint16(group), f, whole && f == rules.Pass)
		return f, true
	}
	return rules.Pass, false
}

// s7FirstPiece judges an S7 PDU split over COTP DT TPDUs by its first
// piece, when that holds the header and the parameter's first bytes: the
// job function, or the userdata type and group. It returns whether that
// decided the PDU: refused (a violation, S7comm-plus, not S7), or not a
// request. A piece that passes is judged again whole.
func (in *inspection) s7FirstPiece(d []byte, off uint32) bool {
	const hdr = s7.HeaderLen
	switch {
	case len(d) > 0 && d[0] == s7.ProtocolS7Plus:
		in.unparsed(unparsedReason[rules.AppS7], "", s7PlusDetail, off)
		return true
	case len(d) > 0 && d[0] != s7.ProtocolS7:
		in.unparsed(malformedReason[rules.AppS7], string(s7.ErrProtocolID), "", off)
		return true
	case len(d) < hdr:
		return false // judged whole
	}
	h := s7.Header(d)
	switch rosctr := h.ROSCTR(); {
	case rosctr == s7.ROSCTRJob && h.ParamLen() >= 1 && len(d) > hdr:
		if f, _ := in.s7Judge(rosctr, d[hdr], true, 0, 0, false); f != rules.Pass {
			if a := in.violation(f, off); a != nil {
				a.rosctr, a.fn, a.has = rosctr, d[hdr], hasROSCTR|hasFn
			}
			return true
		}
	case rosctr == s7.ROSCTRUserdata && h.ParamLen() >= 8 && len(d) > hdr+5:
		t, g := d[hdr+5]>>4, d[hdr+5]&0x0f
		if f, req := in.s7Judge(rosctr, 0, false, t, g, false); req && f != rules.Pass {
			if a := in.violation(f, off); a != nil {
				a.rosctr, a.group, a.has = rosctr, g, hasROSCTR|hasGroup
			}
			return true
		}
	}
	return false
}

// Why an application-layer reassembly could not go on (asmAppend).
const (
	detailTooLarge = "pdu-larger-than-reassembly-buffer"
	detailNoLarge  = "no-large-buffer-free"
)

// asmStart begins a reassembly at stream offset off, behind the bytes the
// stored one keeps.
func (in *inspection) asmStart(off uint32) {
	in.asm = assembly{large: in.asm.large, active: true, at: off}
	in.asmOff = in.asmBase
}

// asmAppend adds b to the reassembly, up to limit bytes in all, borrowing
// a large buffer for the first bytes; it returns why it could not ("").
func (in *inspection) asmAppend(b []byte, limit int) string {
	a := &in.asm
	if int(a.n)+len(b) > limit {
		return detailTooLarge
	}
	if len(b) == 0 {
		return ""
	}
	if a.large == 0 {
		if a.large = in.w.streams.borrow(); a.large == 0 {
			return detailNoLarge
		}
	}
	copy(in.w.streams.lend(a.large)[int(in.asmOff)+int(a.n):], b)
	a.n += uint16(len(b))
	return ""
}

// asmBytes returns the bytes gathered.
func (in *inspection) asmBytes() []byte {
	if in.asm.large == 0 {
		return nil
	}
	return in.w.streams.lend(in.asm.large)[in.asmOff : in.asmOff+in.asm.n]
}

// loadAsm takes the working copies of st's state for the packet's side.
func (in *inspection) loadAsm(st *flowStream) {
	in.asm, in.s7PDU = st.asm[in.side], st.s7PDU
	in.asmBase = in.asm.n
}

// settle stores the working copies when the packet passes (keep), and
// gives back the large buffers it borrowed and no longer needs.
func (w *Worker) settle(st *flowStream, keep bool) {
	in := &w.insp
	a := &in.asm
	if st != nil && *a == st.asm[in.side] && in.asmOff == 0 && in.s7PDU == st.s7PDU {
		return // unchanged (a protocol without reassembly, or a whole PDU)
	}
	var held uint16
	if st != nil {
		held = st.asm[in.side].large
	}
	if !keep || st == nil {
		if a.large != held {
			w.streams.release(&a.large)
		}
		return
	}
	if !a.active || a.decided {
		a.n = 0
		w.streams.release(&a.large)
	} else if in.asmOff != 0 && a.n > 0 {
		buf := w.streams.lend(a.large)
		copy(buf, buf[in.asmOff:in.asmOff+a.n])
	}
	st.asm[in.side], st.s7PDU = *a, in.s7PDU
}

// stream returns the inspection state of f, taking a slot for it if it
// has none (or a stale one), or nil when the pool is exhausted.
func (w *Worker) stream(f *conntrack.Flow, proto rules.AppProto) *flowStream {
	if i := int32(f.Mark>>markStreamShift) - 1; i >= 0 {
		st := w.streams.at(i)
		if st.owner == f.ID {
			if st.proto != proto { // a reload gave the flow another protocol's rule
				w.streams.reinit(st, f.ID, proto)
			}
			return st
		}
	}
	i, st := w.streams.get(f.ID, proto)
	if st == nil {
		return nil
	}
	f.Mark = f.Mark&(1<<markStreamShift-1) | uint32(i+1)<<markStreamShift
	return st
}

// releaseStream returns the slot of a flow that ended.
func (e *Engine) releaseStream(f *conntrack.Flow) {
	i := int32(f.Mark>>markStreamShift) - 1
	if i < 0 || f.ID == 0 {
		return
	}
	e.workers[(f.ID-1)%uint64(len(e.workers))].streams.put(i)
}

// inspect judges the payload of a packet of an allowed, evaluated flow
// whose rule has a protocol condition. It returns whether the packet is
// refused (the mode then applies), counts the rule's matched requests, and
// may leave a verdict line in w.appEv and a replacement packet in w.replace.
// It runs under the shard lock (it may take a stream slot for f).
func (w *Worker) inspect(pol *rules.Policy, f *conntrack.Flow, dir conntrack.Dir, c *ruleCounters, mode rules.Mode, b []byte, now int64) bool {
	rule := &pol.Rules[f.Rule]
	p := &w.pkt
	reqDir := conntrack.DirOriginal
	if f.Mark&markReversed != 0 {
		reqDir = conntrack.DirReply
	}
	side := reqSide
	if dir != reqDir {
		side = rspSide
	}
	in := &w.insp
	*in = inspection{w: w, flow: f, cond: rule.App, side: side, cov: &c.cov, now: now}

	if p.Fragment != packet.NotFragment {
		// The first piece of a datagram the kernel did not reassemble.
		in.unparsed(unparsedReason[rule.App.Proto], "", "ip-fragment", 0)
		return w.conclude(pol, f, rule, c, nil, mode, b, now)
	}
	if p.Proto != packet.ProtoTCP {
		return w.inspectDatagram(pol, f, rule, c, mode, b, now)
	}

	st := w.stream(f, rule.App.Proto)
	in.covSt = st
	if st == nil {
		if len(p.Payload) == 0 {
			return false
		}
		in.unparsed(unparsedReason[rule.App.Proto], "", "no-stream-buffer-free", 0)
		return w.conclude(pol, f, rule, c, nil, mode, b, now)
	}
	w.resume(st, f)
	if p.TCPFlags&packet.TCPAck != 0 {
		st.dir[1-side].ack(p.Ack)
	}
	if st.reset.active && mode == rules.ModeEnforce {
		return w.resetStep(st, side, b)
	}
	sd := &st.dir[side]
	seq := p.Seq
	if p.TCPFlags&packet.TCPSyn != 0 {
		w.streams.sync(sd, p.Seq+1)
		seq++
		w.streams.release(&st.asm[side].large) // a new connection: nothing pending
		st.asm[side] = assembly{}
	}
	in.dir = sd
	in.loadAsm(st)
	if len(p.Payload) == 0 || p.TCPFlags&packet.TCPRst != 0 {
		return false
	}
	if !sd.synced {
		sd.sync(seq) // picked up mid-stream: inspection starts here
	}
	kind, data := sd.locate(w.streams.store(sd), seq, p.Payload)
	switch kind {
	case segOld:
		return false // passed before: the same verdict
	case segGap, segMismatch:
		detail := "data-before-it-is-missing"
		if kind == segMismatch {
			detail = "retransmission-differs-or-unverifiable"
		}
		in.gap = true
		a := in.record(outUnparsed, ReasonStreamGap)
		a.detail, a.offset = detail, seq-sd.base
		if rule.OnUnparsed != rules.UnparsedAllow && mode == rules.ModeEnforce {
			// Refused: the sender retransmits, in order this time.
			refused := w.conclude(pol, f, rule, c, st, mode, b, now)
			w.dedupRefused(sd, seq)
			return refused
		}
		// Passed (allowed, or monitored): inspection starts over at this
		// segment as if the flow had been picked up here, a PDU being
		// gathered given up.
		w.streams.sync(sd, seq)
		data = p.Payload
		in.asm.active = false
	}
	in.off = seq + uint32(len(p.Payload)-len(data)) - sd.base
	skip := sd.skip
	walked := data
	if skip > 0 {
		k := min(skip, uint32(len(walked)))
		walked, skip = walked[k:], skip-k
		in.off += k
	}
	var rest int
	if sd.lost || skip > 0 {
		rest = in.walk(nil, walked)
	} else {
		rest = in.walk(sd.unfinished(w.streams.store(sd)), walked)
	}
	if in.skip > 0 {
		skip = in.skip
	}
	if in.lost {
		rest = 0
		in.asm.active = false // its pieces cannot be told apart any more
	}
	refused := w.conclude(pol, f, rule, c, st, mode, b, now)
	if refused && mode == rules.ModeEnforce {
		w.streams.release(&in.large)
		w.settle(st, false)
		w.dedupRefused(sd, seq)
		return true
	}
	// Passed (or monitored): the receiver has these bytes now.
	sd.refSet = false
	sd.lost = in.lost
	w.streams.commit(sd, in.large, data, rest)
	sd.skip = skip
	w.settle(st, true)
	return refused
}

// inspectDatagram judges a UDP datagram: whole PDUs only. A DNP3 flow
// keeps the fragment its master's segments build across datagrams; other
// protocols need no state between datagrams.
func (w *Worker) inspectDatagram(pol *rules.Policy, f *conntrack.Flow, rule *rules.Rule, c *ruleCounters, mode rules.Mode, b []byte, now int64) bool {
	p, in := &w.pkt, &w.insp
	if len(p.Payload) == 0 {
		return false
	}
	var st *flowStream
	if rule.App.Proto == rules.AppDNP3 {
		if st = w.stream(f, rules.AppDNP3); st != nil {
			in.covSt = st
			w.resume(st, f)
			in.loadAsm(st)
		}
	}
	if rest := in.walk(nil, p.Payload); rest > 0 && in.what < outViolation {
		in.unparsed(malformedReason[rule.App.Proto], "short", "datagram-ends-inside-a-pdu", uint32(len(p.Payload)-rest))
	}
	if in.asm.active && !in.asm.decided && st == nil {
		in.unparsed(unparsedReason[rule.App.Proto], "", "no-stream-buffer-free", in.asm.at)
	}
	// The flow's stream, if any, keeps only the fragment: no line limit
	// by it, and never a TCP reset.
	refused := w.conclude(pol, f, rule, c, nil, mode, b, now)
	w.settle(st, !refused || mode != rules.ModeEnforce)
	return refused
}

// resume starts st over when packets of its flow passed uninspected
// (passthrough, or a policy whose rule had no condition): they left its
// state behind, so inspection goes on as if the flow had been picked up
// now.
func (w *Worker) resume(st *flowStream, f *conntrack.Flow) {
	total := f.Packets[0] + f.Packets[1]
	if st.pkts != 0 && st.pkts+1 != total {
		w.streams.reinit(st, f.ID, st.proto)
	}
	st.pkts = total
}

// dedupRefused logs a refused segment once: its retransmissions get the
// same verdict without another line.
func (w *Worker) dedupRefused(sd *streamDir, seq uint32) {
	if sd.refSet && sd.refused == seq {
		w.appPending = false
		return
	}
	sd.refused, sd.refSet = seq, true
}

// conclude turns the inspection's outcome into the packet's fate: counts,
// the verdict line and, for a reset, the replacement packet. It returns
// whether the packet is refused.
func (w *Worker) conclude(pol *rules.Policy, f *conntrack.Flow, rule *rules.Rule, c *ruleCounters, st *flowStream, mode rules.Mode, b []byte, now int64) bool {
	in := &w.insp
	in.seenOutcome()
	refused := in.what == outViolation || in.what == outUnparsed && rule.OnUnparsed != rules.UnparsedAllow
	if !refused || mode != rules.ModeEnforce {
		c.requests.Add(in.requests)
	}
	logIt := false
	switch {
	case refused:
		logIt = true
	case in.what != outNone:
		// Accepted lines (exceptions, allowed unparsed traffic): at most
		// one per flow per window, as the flow's first line is.
		if st == nil {
			logIt = w.denied.first(f.Key, now)
		} else if st.logAt == 0 || now-st.logAt >= deniedWindow {
			logIt, st.logAt = true, now
		}
	}
	if logIt {
		w.queueApp(pol, f, mode, refused, now)
	}
	if refused && mode == rules.ModeEnforce && st != nil && !in.gap &&
		rule.OnViolation == rules.ViolationReset {
		w.startReset(st, in.side, b)
		w.appEv.reset = logIt // the line says what conduit did to the flow
	}
	return refused
}

// queueApp prepares the verdict line of an inspected packet, written after
// the shard lock is released.
func (w *Worker) queueApp(pol *rules.Policy, f *conntrack.Flow, mode rules.Mode, refused bool, now int64) {
	k := f.Key
	if f.Mark&markReversed != 0 {
		k = k.Reverse()
	}
	out := modes.Apply(mode, action(!refused))
	w.appEv = verdictEvent{pol: pol, mode: mode, accept: out.Accept, wouldDrop: out.WouldDrop, rule: f.Rule,
		from: pol.Zone(k.Src), to: pol.Zone(k.Dst), proto: k.Proto, src: k.Src, dst: k.Dst,
		sport: k.SrcPort, dport: k.DstPort, flow: f.ID, reason: w.insp.reason, app: w.insp.app}
	w.appPending = true
}
