package modbus

import (
	"log/slog"

	"github.com/conduit-ot/conduit/proto/internal/core"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// The stream adapter: MBAP framing and the condition's check of each
// request, and the ADU's fields in a verdict line.

// KindRequest is the kind of a Modbus request (Judged): Code is the
// function, MEI (function 43) and Unit are set.
const KindRequest core.Kind = 1

type inspector struct {
	core.Sealed
	p PDU
}

// Declared is the ADU's length as its MBAP header declares it.
func (*inspector) Declared(b []byte) int {
	if len(b) >= MBAPLen-1 {
		return ADU(b).Size()
	}
	return 0
}

// PDU judges the ADU at the start of b.
func (in *inspector) PDU(j core.Judge, c core.Cond, s *core.Stream, b []byte, off uint32) (int, core.Status) {
	side := s.Side
	p := &in.p
	n, err := Parse(b, side, p)
	if err != pdu.OK {
		a, n, st := core.Refused(j, n, err, off)
		if a != nil && n > 0 {
			event(a, p) // malformed, but the MBAP fields and the function are set
		}
		return n, st
	}
	if side == pdu.Request {
		f := c.(*Cond).Check(p)
		j.Seen(core.Judged{Kind: KindRequest, Code: uint16(p.Function), MEI: p.MEIType, Unit: p.UnitID,
			Failure: f, Counted: f == core.Pass})
		if f != core.Pass {
			if a := j.Violation(f, off); a != nil {
				event(a, p)
			}
		} else {
			j.Count()
		}
	} else if p.Exception {
		if a := j.Notice(off); a != nil {
			event(a, p)
		}
	}
	return n, core.OK
}

// The ADU's fields in an Event.
const (
	bFn, bUnit, bMEI, bExc                          = 0, 1, 2, 3
	hTID, hReadAddr, hReadQty, hWriteAddr           = 0, 1, 2, 3
	hWriteQty                                       = 4
	hasFn, hasMEI, hasRead, hasWrite, hasExc uint16 = 1, 2, 4, 8, 16
)

// event records an ADU.
func event(a *core.Event, p *PDU) {
	a.B[bFn], a.B[bUnit], a.H[hTID] = p.Function, p.UnitID, p.TransactionID
	a.Has |= hasFn
	if p.Function == EncapsulatedInterface {
		a.B[bMEI], a.Has = p.MEIType, a.Has|hasMEI
	}
	if p.HasRead {
		a.H[hReadAddr], a.H[hReadQty], a.Has = p.ReadAddr, p.ReadQty, a.Has|hasRead
	}
	if p.HasWrite {
		a.H[hWriteAddr], a.H[hWriteQty], a.Has = p.WriteAddr, p.WriteQty, a.Has|hasWrite
	}
	if p.Exception {
		a.B[bExc], a.Has = p.ExceptionCode, a.Has|hasExc
	}
}

// attrs renders an event's ADU fields.
func attrs(a *core.Event, as []slog.Attr) []slog.Attr {
	if a.Has&hasFn != 0 {
		as = core.NameAttrs(as, "function", FunctionName(a.B[bFn]), int(a.B[bFn]))
		as = append(as, slog.Int("unit", int(a.B[bUnit])), slog.Int("transaction", int(a.H[hTID])))
	}
	if a.Has&hasMEI != 0 {
		as = append(as, slog.Int("mei", int(a.B[bMEI])))
	}
	if a.Has&hasRead != 0 {
		as = append(as, slog.Int("read_addr", int(a.H[hReadAddr])), slog.Int("read_qty", int(a.H[hReadQty])))
	}
	if a.Has&hasWrite != 0 {
		as = append(as, slog.Int("write_addr", int(a.H[hWriteAddr])), slog.Int("write_qty", int(a.H[hWriteQty])))
	}
	if a.Has&hasExc != 0 {
		as = core.NameAttrs(as, "exception", ExceptionName(a.B[bExc]), int(a.B[bExc]))
	}
	return as
}
