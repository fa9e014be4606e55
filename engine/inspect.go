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
	cond     *rules.AppCond
	side     int
	off      uint32 // stream offset of the payload's first new byte
	requests uint64 // requests the condition matched

	dnp3Cont bool // working copies of the flow's protocol state,
	s7Frag   bool // stored only if the packet passes

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
			if k == len(j) || in.declared(j[:k]) > streamBuf {
				return in.oversize(j[:k], start, len(part)+len(data))
			}
			return k // k == len(part)+len(data): everything is kept
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
			if len(rest) >= streamBuf || in.declared(rest) > streamBuf {
				return in.oversize(rest, in.off+uint32(pos), len(rest))
			}
			return len(rest)
		case pduLost:
			return 0
		}
		pos += n
	}
	return 0
}

// oversize handles a PDU declaring more bytes than the stream keeps: a
// request cannot be judged (unparsed); either way its bytes are passed
// over unparsed (skip) if the packet passes, so the stream stays in step.
func (in *inspection) oversize(b []byte, off uint32, avail int) int {
	total := in.declared(b)
	if in.side == reqSide {
		in.unparsed(unparsedReason[in.cond.Proto], "", "pdu-larger-than-stream-buffer", off)
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
		if f := in.cond.Modbus.Check(p); f != rules.Pass {
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

func (in *inspection) dnp3(b []byte, off uint32) (int, pduStatus) {
	f := &in.w.dnp
	n, err := dnp3.Parse(b, f)
	switch {
	case err == dnp3.ErrShort:
		return 0, pduShort
	case err != dnp3.OK:
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
	c := in.cond.DNP3
	if fl := c.CheckLink(f); fl != rules.Pass {
		if a := in.violation(fl, off); a != nil {
			a.fromDNP3(f, -1)
		}
		return n, pduOK
	}
	switch {
	case f.LinkOnly:
	case !f.FIR():
		// A later segment of a request split over transport segments:
		// it passes if its first segment did.
		if !in.dnp3Cont {
			if a := in.unparsed(unparsedReason[rules.AppDNP3], "", "segment-without-its-first", off); a != nil {
				a.fromDNP3(f, -1)
			}
		}
		if f.FIN() {
			in.dnp3Cont = false
		}
	case request:
		in.dnp3Cont = false
		fl, bad := c.CheckApp(&f.App)
		switch fl {
		case rules.Pass:
			in.requests++
			in.dnp3Cont = !f.FIN()
		case rules.FailIncomplete:
			if a := in.unparsed(unparsedReason[rules.AppDNP3], "", "object-headers-not-all-decoded", off); a != nil {
				a.fromDNP3(f, -1)
			}
		default:
			if a := in.violation(fl, off); a != nil {
				a.fromDNP3(f, bad)
			}
		}
	}
	return n, pduOK
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
	if fl := c.CheckCommand(p.Encap.Command); fl != rules.Pass {
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
		if fl := c.CheckCIP(m); fl != rules.Pass {
			if a := in.violation(fl, off); a != nil {
				a.fromENIP(p, m)
			}
			return n, pduOK
		}
	}
	in.requests++
	return n, pduOK
}

func (in *inspection) s7(b []byte, off uint32) (int, pduStatus) {
	p := &in.w.s7
	dir := s7.Request
	if in.side == rspSide {
		dir = s7.Response
	}
	var n int
	var err s7.Error
	if in.s7Frag {
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
	if in.s7Frag {
		// The rest of a PDU split over DT TPDUs: judged by its first piece.
		if p.COTP.Type == s7.COTPData && p.COTP.EOT {
			in.s7Frag = false
		}
		return n, pduOK
	}
	switch p.Kind {
	case s7.KindCOTP:
	case s7.KindFragment:
		in.s7Frag = true
		if in.side == reqSide {
			in.s7FirstPiece(p.COTP.Data, off)
		}
	case s7.KindS7Plus:
		if in.side == reqSide {
			in.unparsed(unparsedReason[rules.AppS7], "", "s7comm-plus", off)
		}
	case s7.KindS7:
		if in.side == rspSide {
			if p.ErrorClass != 0 || p.ErrorCode != 0 {
				if a := in.notice(off); a != nil {
					a.fromS7(p)
				}
			}
			break
		}
		if a := in.s7Judge(p.ROSCTR, p.Function, p.HasFunction, p.UserdataType, p.Group, off); a != nil {
			a.fromS7(p)
		}
	}
	return n, pduOK
}

// s7Judge judges a client's job (by function) or userdata request (by
// group); other message types are not requests. It returns the violation's
// event for the caller to fill, or nil.
func (in *inspection) s7Judge(rosctr, function uint8, hasFunction bool, udType, group uint8, off uint32) *appEvent {
	c := in.cond.S7
	var f rules.Failure
	switch {
	case rosctr == s7.ROSCTRJob && hasFunction:
		f = c.CheckJob(function)
	case rosctr == s7.ROSCTRUserdata && udType == s7.UserdataRequest:
		f = c.CheckUserdata(group)
	default:
		return nil
	}
	if f != rules.Pass {
		return in.violation(f, off)
	}
	in.requests++
	return nil
}

// s7FirstPiece judges an S7 PDU split over COTP DT TPDUs by its first
// piece, which holds the header and the parameter's first bytes: the job
// function, or the userdata type and group.
func (in *inspection) s7FirstPiece(d []byte, off uint32) {
	const hdr = s7.HeaderLen
	switch {
	case len(d) > 0 && d[0] == s7.ProtocolS7Plus:
		in.unparsed(unparsedReason[rules.AppS7], "", "s7comm-plus", off)
	case len(d) < 2 || d[0] != s7.ProtocolS7:
		in.unparsed(malformedReason[rules.AppS7], string(s7.ErrProtocolID), "", off)
	case d[1] == s7.ROSCTRJob && len(d) > hdr:
		if a := in.s7Judge(s7.ROSCTRJob, d[hdr], true, 0, 0, off); a != nil {
			a.rosctr, a.fn, a.has = s7.ROSCTRJob, d[hdr], hasROSCTR|hasFn
		}
	case d[1] == s7.ROSCTRUserdata && len(d) > hdr+5:
		t, g := d[hdr+5]>>4, d[hdr+5]&0x0f
		if a := in.s7Judge(s7.ROSCTRUserdata, 0, false, t, g, off); a != nil {
			a.rosctr, a.group, a.has = s7.ROSCTRUserdata, g, hasROSCTR|hasGroup
		}
	case d[1] == s7.ROSCTRJob || d[1] == s7.ROSCTRUserdata:
		in.unparsed(unparsedReason[rules.AppS7], "", "first-piece-too-short", off)
	}
}

// stream returns the inspection state of f, taking a slot for it if it
// has none (or a stale one), or nil when the pool is exhausted.
func (w *Worker) stream(f *conntrack.Flow, proto rules.AppProto) *flowStream {
	if i := int32(f.Mark>>markStreamShift) - 1; i >= 0 {
		st := w.streams.at(i)
		if st.owner == f.ID {
			if st.proto != proto { // a reload gave the flow another protocol's rule
				st.reinit(f.ID, proto)
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
	*in = inspection{w: w, cond: rule.App, side: side}

	if p.Fragment != packet.NotFragment {
		// The first piece of a datagram the kernel did not reassemble.
		in.unparsed(unparsedReason[rule.App.Proto], "", "ip-fragment", 0)
		return w.conclude(pol, f, rule, c, nil, mode, b, now)
	}
	if p.Proto != packet.ProtoTCP {
		// A datagram stands alone: whole PDUs only.
		if len(p.Payload) == 0 {
			return false
		}
		if rest := in.walk(nil, p.Payload); rest > 0 && in.what < outViolation {
			in.unparsed(malformedReason[rule.App.Proto], "short", "datagram-ends-inside-a-pdu", uint32(len(p.Payload)-rest))
		}
		return w.conclude(pol, f, rule, c, nil, mode, b, now)
	}

	st := w.stream(f, rule.App.Proto)
	if st == nil {
		if len(p.Payload) == 0 {
			return false
		}
		in.unparsed(unparsedReason[rule.App.Proto], "", "no-stream-buffer-free", 0)
		return w.conclude(pol, f, rule, c, nil, mode, b, now)
	}
	// Packets that passed uninspected (passthrough, or a policy whose rule
	// had no condition) leave the stream state behind: start over as if
	// the flow had been picked up now.
	total := f.Packets[0] + f.Packets[1]
	if st.pkts != 0 && st.pkts+1 != total {
		st.reinit(f.ID, rule.App.Proto)
	}
	st.pkts = total
	if p.TCPFlags&packet.TCPAck != 0 {
		st.dir[1-side].ack(p.Ack)
	}
	if st.reset.active && mode == rules.ModeEnforce {
		return w.resetStep(st, side, b)
	}
	sd := &st.dir[side]
	seq := p.Seq
	if p.TCPFlags&packet.TCPSyn != 0 {
		sd.sync(p.Seq + 1)
		seq++
	}
	if len(p.Payload) == 0 || p.TCPFlags&packet.TCPRst != 0 {
		return false
	}
	if !sd.synced {
		sd.sync(seq) // picked up mid-stream: inspection starts here
	}
	kind, data := sd.locate(seq, p.Payload)
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
		// segment as if the flow had been picked up here.
		sd.sync(seq)
		data = p.Payload
	}
	in.off = seq + uint32(len(p.Payload)-len(data)) - sd.base
	in.dnp3Cont, in.s7Frag = st.dnp3Cont, st.s7Frag[side]
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
		rest = in.walk(sd.unfinished(), walked)
	}
	if in.skip > 0 {
		skip = in.skip
	}
	refused := w.conclude(pol, f, rule, c, st, mode, b, now)
	if refused && mode == rules.ModeEnforce {
		w.dedupRefused(sd, seq)
		return true
	}
	// Passed (or monitored): the receiver has these bytes now.
	sd.refSet = false
	sd.lost = in.lost
	if in.lost {
		rest = 0
	}
	sd.commit(data, rest)
	sd.skip = skip
	st.dnp3Cont, st.s7Frag[side] = in.dnp3Cont, in.s7Frag
	return refused
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
