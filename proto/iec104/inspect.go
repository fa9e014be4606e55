package iec104

import (
	"log/slog"

	"github.com/conduit-ot/conduit/proto/internal/core"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// The stream adapter: APCI framing and the condition's check of each
// APDU of the controlling station, and the APDU's fields in a verdict line.

// Request kinds (Judged): an I frame of the controlling station (Code is
// its type id), and the common address it addresses (Code), which learn
// drafts common_addresses from.
const (
	KindRequest    core.Kind = 10
	KindCommonAddr core.Kind = 11
)

type inspector struct {
	core.Sealed
	a APDU
}

// Declared is the APDU's length as its length octet declares it.
func (*inspector) Declared(b []byte) int { return Size(b) }

// PDU judges the APDU at the start of b.
func (in *inspector) PDU(j core.Judge, c core.Cond, s *core.Stream, b []byte, off uint32) (int, core.Status) {
	side := s.Side
	a := &in.a
	n, err := Parse(b, a)
	if err != pdu.OK {
		e, n, st := core.Refused(j, n, err, off)
		if e != nil && n > 0 {
			event(e, a)
		}
		return n, st
	}
	if a.Format != FormatI {
		return n, core.OK // link control: no command to judge
	}
	if side == core.Request {
		f := c.(*Cond).Check(a)
		j.Seen(core.Judged{Kind: KindRequest, Code: uint16(a.TypeID), Failure: f, Counted: f == core.Pass})
		j.Seen(core.Judged{Kind: KindCommonAddr, Code: a.CommonAddr, Failure: f})
		if f != core.Pass {
			if e := j.Violation(f, off); e != nil {
				event(e, a)
			}
		} else {
			j.Count()
		}
	} else if a.Negative || a.Cause >= CauseUnknownType && a.Cause <= CauseUnknownIOA {
		// The outstation refused a command, or did not know its type,
		// cause, common address or object.
		if e := j.Notice(off); e != nil {
			event(e, a)
		}
	}
	return n, core.OK
}

// The APDU's fields in an Event.
const (
	bFormat, bUFunc, bType, bCause, bObjects        = 0, 1, 2, 3, 4
	hCommon                                         = 0
	wIOA                                            = 0
	hasASDU, hasIOA, hasNeg, hasTest, hasSQ  uint16 = 1, 2, 4, 8, 16
)

// event records an APDU: of a malformed I frame, the data unit
// identifier and address as far as the frame holds them.
func event(e *core.Event, a *APDU) {
	e.B[bFormat], e.B[bUFunc] = uint8(a.Format), uint8(a.UFunc)
	if a.Format != FormatI || int(a.Length) < MinLength+HeaderLen {
		return
	}
	e.B[bType], e.B[bCause], e.B[bObjects], e.H[hCommon] = a.TypeID, a.Cause, a.Objects, a.CommonAddr
	e.Has |= hasASDU
	if int(a.Length) >= MinLength+HeaderLen+IOALen {
		e.W[wIOA], e.Has = a.IOA, e.Has|hasIOA
	}
	if a.Negative {
		e.Has |= hasNeg
	}
	if a.Test {
		e.Has |= hasTest
	}
	if a.SQ {
		e.Has |= hasSQ
	}
}

// attrs renders an event's APDU fields.
func attrs(e *core.Event, as []slog.Attr) []slog.Attr {
	f := Format(e.B[bFormat])
	if f == FormatNone {
		return as
	}
	as = append(as, slog.String("format", f.String()))
	if f == FormatU {
		if u := UFunc(e.B[bUFunc]); u.String() != "" {
			as = append(as, slog.String("u_function", u.String()))
		} else {
			as = append(as, slog.Int("u_function_code", int(u)))
		}
	}
	if e.Has&hasASDU == 0 {
		return as
	}
	as = core.NameAttrs(as, "type_id", TypeName(e.B[bType]), int(e.B[bType]))
	as = core.NameAttrs(as, "cause", CauseName(e.B[bCause]), int(e.B[bCause]))
	if e.Has&hasNeg != 0 {
		as = append(as, slog.Bool("negative", true))
	}
	if e.Has&hasTest != 0 {
		as = append(as, slog.Bool("test", true))
	}
	as = append(as, slog.Int("common_address", int(e.H[hCommon])))
	if e.Has&hasIOA != 0 {
		as = append(as, slog.Int("ioa", int(e.W[wIOA])))
	}
	as = append(as, slog.Int("objects", int(e.B[bObjects])))
	if e.Has&hasSQ != 0 {
		as = append(as, slog.Bool("sequence", true))
	}
	return as
}
