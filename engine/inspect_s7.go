package engine

import (
	"github.com/conduit-ot/conduit/proto/s7"
	"github.com/conduit-ot/conduit/rules"
)

// S7comm inspection: TPKT/COTP framing, reassembly of COTP pieces, and
// the condition check.

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
	if in.asm.Active {
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
	case in.asm.Active:
		if p.COTP.Type == s7.COTPData {
			in.s7Piece(p.COTP.Data, p.COTP.EOT)
		}
	case p.Kind == s7.KindFragment:
		in.asmStart(off)
		if in.side == reqSide {
			in.asm.Decided = in.s7FirstPiece(p.COTP.Data, off)
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
	if !a.Decided {
		limit := asmMax
		if in.s7PDU != 0 {
			limit = min(limit, int(in.s7PDU))
		}
		if detail := in.asmAppend(d, limit); detail != "" {
			switch {
			case in.side == rspSide && detail == detailNoLarge:
			case detail == detailTooLarge && limit < asmMax:
				in.unparsed(unparsedReason[rules.AppS7], "", "pdu-larger-than-negotiated", a.At)
			default:
				in.unparsed(unparsedReason[rules.AppS7], "", detail, a.At)
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
	p := &in.w.s7
	dir := s7.Request
	if in.side == rspSide {
		dir = s7.Response
	}
	if err := s7.ParseS7(in.asmBytes(), dir, p); err != s7.OK {
		if e := in.unparsed(malformedReason[rules.AppS7], string(err), "", a.At); e != nil {
			e.fromS7(p)
		}
		return
	}
	in.s7Whole(p, a.At)
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
