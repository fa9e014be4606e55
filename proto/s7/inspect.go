package s7

import (
	"log/slog"

	"github.com/conduit-ot/conduit/proto/internal/core"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// The stream adapter: TPKT/COTP framing, reassembly of COTP pieces, the
// condition's check, and the PDU's fields in a verdict line.

// The kinds of request (Judged): a job (Code the function) and a
// userdata request (Code the function group).
const (
	RequestJob      core.Kind = 5
	RequestUserdata core.Kind = 6
)

type inspector struct {
	core.Sealed
	p PDU
}

// Declared is the TPKT's length as its header declares it.
func (*inspector) Declared(b []byte) int {
	if len(b) >= 4 {
		return int(TPKT(b).Length())
	}
	return 0
}

// S7 PDUs over several COTP DT TPDUs. COTP may cut an S7 PDU into DT
// TPDUs, all but the last without the end-of-TSDU mark; the PLC's
// transport gathers them and acts on the PDU only once the last arrives.
// Holding the pieces back until then is not an option (a queued packet
// must get its verdict now), so the inspector follows the policy of a
// Modbus ADU split over TCP segments: what cannot be acted on yet passes,
// and the piece that completes the PDU carries its verdict.
//   - The first piece holds the S7 header and the parameter's first
//     bytes: a job's function, a userdata request's group. When it shows
//     them it is judged at once, and a violation (or S7comm-plus, or not
//     S7 at all) drops it: the PDU is decided, the pieces after it pass
//     unjudged and unkept (without the first one they mean nothing to the
//     PLC; in enforce they never come, as the stream stalls on the
//     refused piece).
//   - Otherwise the pieces are gathered (in a large buffer, up to the PDU
//     size setup communication negotiated, at most core.AsmMax) and pass.
//   - The last piece completes the PDU, which is decoded whole and judged
//     as an unsplit one: a function the first piece already let through
//     is judged the same, so what can still change the outcome is a PDU
//     that does not decode (malformed-s7) or outgrows the negotiated size
//     or the buffer (unparsed-s7), which then drops the last piece, and
//     the PLC never gets the PDU. The request is counted then.
//
// Responses are gathered the same way to report their errors; one that
// cannot be kept (no large buffer free) is passed unparsed.
func (in *inspector) PDU(j core.Judge, c core.Cond, s *core.Stream, b []byte, off uint32) (int, core.Status) {
	side := s.Side
	p := &in.p
	a := &s.Asm
	var n int
	var err pdu.Error
	if a.Active {
		n, err = ParseTPKT(b, side, p)
	} else {
		n, err = Parse(b, side, p)
	}
	if err != pdu.OK {
		_, n, st := core.Refused(j, n, err, off)
		return n, st
	}
	cond := c.(*Cond)
	switch {
	case a.Active:
		if p.COTP.Type == COTPData {
			in.piece(j, cond, s, p.COTP.Data, p.COTP.EOT)
		}
	case p.Kind == KindFragment:
		j.AsmStart(off)
		if side == pdu.Request {
			a.Decided = firstPiece(j, cond, p.COTP.Data, off)
		}
		in.piece(j, cond, s, p.COTP.Data, false)
	case p.Kind == KindS7Plus || p.Kind == KindS7:
		whole(j, cond, s, p, off)
	}
	return n, core.OK
}

// piece adds a DT's data to the direction's pending PDU; eot completes
// it.
func (in *inspector) piece(j core.Judge, c *Cond, s *core.Stream, d []byte, eot bool) {
	a, side := &s.Asm, s.Side
	if !a.Decided {
		limit := core.AsmMax
		if w := s.Word; w != 0 {
			limit = min(limit, int(w))
		}
		if detail := j.AsmAppend(d, limit); detail != "" {
			switch {
			case side == pdu.Response && detail == core.DetailNoLarge:
			case detail == core.DetailTooLarge && limit < core.AsmMax:
				j.Unparsed("pdu-larger-than-negotiated", a.At)
			default:
				j.Unparsed(detail, a.At)
			}
			a.Decided = true
		}
	}
	if !eot {
		return
	}
	a.Active = false
	if a.Decided {
		return
	}
	p := &in.p
	if err := ParseS7(j.AsmBytes(), side, p); err != pdu.OK {
		if e := j.Malformed(string(err), "", a.At); e != nil {
			event(e, p)
		}
		return
	}
	whole(j, c, s, p, a.At)
}

// plusDetail names S7comm-plus (protocol id 0x72) in the verdict line:
// recognised, not parsed further, so left to on_unparsed.
const plusDetail = "s7plus"

// whole judges a whole S7 or S7comm-plus PDU of the client, or looks at
// one of the server's for errors.
func whole(j core.Judge, c *Cond, s *core.Stream, p *PDU, off uint32) {
	side := s.Side
	if p.Kind == KindS7Plus {
		if side == pdu.Request {
			j.Unparsed(plusDetail, off)
		}
		return
	}
	if p.HasFunction && p.Function == FuncSetupCommunication && p.PDUSize != 0 {
		s.Word = p.PDUSize // asked for by the client, then granted by the server
	}
	if side == pdu.Response {
		if p.ErrorClass != 0 || p.ErrorCode != 0 {
			if a := j.Notice(off); a != nil {
				event(a, p)
			}
		}
		return
	}
	switch f, req := judge(j, c, p.ROSCTR, p.Function, p.HasFunction, p.UserdataType, p.Group, true); {
	case !req:
	case f == core.Pass:
		j.Count()
	default:
		if a := j.Violation(f, off); a != nil {
			event(a, p)
		}
	}
}

// judge judges a client's job (by function) or userdata request (by
// group), whole or by its first piece; other message types are not
// requests (req false).
func judge(j core.Judge, c *Cond, rosctr, function uint8, hasFunction bool, udType, group uint8, whole bool) (f core.Failure, req bool) {
	switch {
	case rosctr == ROSCTRJob && hasFunction:
		f = c.CheckJob(function)
		j.Seen(core.Judged{Kind: RequestJob, Code: uint16(function), Failure: f, Counted: whole && f == core.Pass})
		return f, true
	case rosctr == ROSCTRUserdata && udType == UserdataRequest:
		f = c.CheckUserdata(group)
		j.Seen(core.Judged{Kind: RequestUserdata, Code: uint16(group), Failure: f, Counted: whole && f == core.Pass})
		return f, true
	}
	return core.Pass, false
}

// firstPiece judges an S7 PDU split over COTP DT TPDUs by its first
// piece, when that holds the header and the parameter's first bytes: the
// job function, or the userdata type and group. It returns whether that
// decided the PDU: refused (a violation, S7comm-plus, not S7), or not a
// request. A piece that passes is judged again whole.
func firstPiece(j core.Judge, c *Cond, d []byte, off uint32) bool {
	const hdr = HeaderLen
	switch {
	case len(d) > 0 && d[0] == ProtocolS7Plus:
		j.Unparsed(plusDetail, off)
		return true
	case len(d) > 0 && d[0] != ProtocolS7:
		j.Malformed(string(ErrProtocolID), "", off)
		return true
	case len(d) < hdr:
		return false // judged whole
	}
	h := Header(d)
	switch rosctr := h.ROSCTR(); {
	case rosctr == ROSCTRJob && h.ParamLen() >= 1 && len(d) > hdr:
		if f, _ := judge(j, c, rosctr, d[hdr], true, 0, 0, false); f != core.Pass {
			if a := j.Violation(f, off); a != nil {
				a.B[bROSCTR], a.B[bFn], a.Has = rosctr, d[hdr], hasROSCTR|hasFn
			}
			return true
		}
	case rosctr == ROSCTRUserdata && h.ParamLen() >= 8 && len(d) > hdr+5:
		t, g := d[hdr+5]>>4, d[hdr+5]&0x0f
		if f, req := judge(j, c, rosctr, 0, false, t, g, false); req && f != core.Pass {
			if a := j.Violation(f, off); a != nil {
				a.B[bROSCTR], a.B[bGroup], a.Has = rosctr, g, hasROSCTR|hasGroup
			}
			return true
		}
	}
	return false
}

// The PDU's fields in an Event.
const (
	bROSCTR, bFn, bGroup, bSub, bErrClass, bErrCode = 0, 1, 2, 3, 4, 5

	hasROSCTR, hasFn, hasGroup, hasExc, hasText uint16 = 1, 2, 4, 8, 16
)

// event records an S7 PDU.
func event(a *core.Event, p *PDU) {
	a.B[bROSCTR], a.Has = p.ROSCTR, a.Has|hasROSCTR
	switch {
	case p.ROSCTR == ROSCTRUserdata:
		a.B[bGroup], a.B[bSub], a.Has = p.Group, p.Subfunction, a.Has|hasGroup
	case p.HasFunction:
		a.B[bFn], a.Has = p.Function, a.Has|hasFn
	}
	if p.ROSCTR == ROSCTRAck || p.ROSCTR == ROSCTRAckData {
		if p.ErrorClass != 0 || p.ErrorCode != 0 {
			a.B[bErrClass], a.B[bErrCode], a.Has = p.ErrorClass, p.ErrorCode, a.Has|hasExc
		}
	}
	switch {
	case len(p.PIService) > 0:
		a.SetText(p.PIService)
		a.Has |= hasText
	case len(p.Filename) > 0:
		a.SetText(p.Filename)
		a.Has |= hasText
	}
}

// attrs renders an event's PDU fields.
func attrs(a *core.Event, as []slog.Attr) []slog.Attr {
	if a.Has&hasROSCTR != 0 {
		as = append(as, slog.String("rosctr", ROSCTRName(a.B[bROSCTR])))
	}
	if a.Has&hasFn != 0 {
		as = core.NameAttrs(as, "function", FunctionName(a.B[bFn]), int(a.B[bFn]))
	}
	if a.Has&hasGroup != 0 {
		as = core.NameAttrs(as, "group", GroupName(a.B[bGroup]), int(a.B[bGroup]))
		as = core.NameAttrs(as, "subfunction", SubfunctionName(a.B[bGroup], a.B[bSub]), int(a.B[bSub]))
	}
	if a.Has&hasExc != 0 {
		as = append(as, slog.Int("error_class", int(a.B[bErrClass])), slog.Int("error_code", int(a.B[bErrCode])))
	}
	if a.Has&hasText != 0 {
		as = append(as, slog.String("name", a.TextString()))
	}
	return as
}
