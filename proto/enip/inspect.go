package enip

import (
	"encoding/binary"
	"log/slog"

	"github.com/conduit-ot/conduit/proto/internal/core"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// The stream adapter: encapsulation framing and the CIP requests it
// carries, judged by the condition, and their fields in a verdict line.

// The kinds of request (Judged): an encapsulation command (Code), and a
// CIP request it carries (Code the service, Class the class it
// addresses), counted by the command carrying it.
const (
	KindCommand core.Kind = 3
	KindCIP     core.Kind = 4
)

type inspector struct {
	core.Sealed
	p PDU
}

// Declared is the message's length as its encapsulation header declares
// it.
func (*inspector) Declared(b []byte) int {
	if len(b) >= 4 {
		return HeaderLen + int(binary.LittleEndian.Uint16(b[2:4]))
	}
	return 0
}

// PDU judges the encapsulation message at the start of b.
func (in *inspector) PDU(j core.Judge, c core.Cond, s *core.Stream, b []byte, off uint32) (int, core.Status) {
	side := s.Side
	p := &in.p
	n, err := Parse(b, side, p)
	if err != pdu.OK {
		_, n, st := core.Refused(j, n, err, off)
		return n, st
	}
	if side == pdu.Response {
		if p.Encap.Status != 0 {
			if a := j.Notice(off); a != nil {
				event(a, p, nil)
			}
			return n, core.OK
		}
		for i := range p.NumMsgs() {
			if m := &p.Msgs[i]; m.Response && m.Status != 0 {
				if a := j.Notice(off); a != nil {
					event(a, p, m)
				}
				break
			}
		}
		return n, core.OK
	}
	cond := c.(*Cond)
	fl := cond.CheckCommand(p.Encap.Command)
	j.Seen(core.Judged{Kind: KindCommand, Code: p.Encap.Command, Failure: fl})
	if fl != core.Pass {
		if a := j.Violation(fl, off); a != nil {
			event(a, p, nil)
		}
		return n, core.OK
	}
	if p.Truncated() {
		if a := j.Unparsed("more-cip-messages-than-recorded", off); a != nil {
			event(a, p, nil)
		}
		return n, core.OK
	}
	for i := range p.NumMsgs() {
		m := &p.Msgs[i]
		if m.Response || Envelope(m) {
			continue
		}
		fl := cond.CheckCIP(m)
		j.Seen(core.Judged{Kind: KindCIP, Code: uint16(m.Service), Class: m.Class, Failure: fl})
		if fl != core.Pass {
			if a := j.Violation(fl, off); a != nil {
				event(a, p, m)
			}
			return n, core.OK
		}
	}
	j.Count()
	j.Seen(core.Judged{Kind: KindCommand, Code: p.Encap.Command, Failure: core.Pass, Counted: true})
	return n, core.OK
}

// The message's fields in an Event.
const (
	bService, bStatus             = 0, 1
	hCommand                      = 0
	wEncStatus, wClass, wInstance = 0, 1, 2

	hasCmd, hasEncStatus, hasService, hasPath, hasStatus, hasTag uint16 = 1, 2, 4, 8, 16, 32
)

// event records an encapsulation message and, when m is not nil, one CIP
// message of it.
func event(a *core.Event, p *PDU, m *Msg) {
	a.H[hCommand], a.Has = p.Encap.Command, a.Has|hasCmd
	if p.Encap.Status != 0 {
		a.W[wEncStatus], a.Has = p.Encap.Status, a.Has|hasEncStatus
	}
	if m == nil {
		return
	}
	a.B[bService], a.W[wClass], a.W[wInstance], a.Has = m.Service, m.Class, m.Instance, a.Has|hasService|hasPath
	if m.Response {
		a.B[bStatus], a.Has = m.Status, a.Has|hasStatus
	}
	if len(m.Symbol) > 0 {
		a.SetText(m.Symbol)
		a.Has |= hasTag
	}
}

// attrs renders an event's message fields.
func attrs(a *core.Event, as []slog.Attr) []slog.Attr {
	if a.Has&hasCmd != 0 {
		as = core.NameAttrs(as, "command", CommandName(a.H[hCommand]), int(a.H[hCommand]))
	}
	if a.Has&hasEncStatus != 0 {
		as = append(as, slog.Uint64("encap_status", uint64(a.W[wEncStatus])))
	}
	if a.Has&hasService != 0 {
		as = core.NameAttrs(as, "service", ServiceName(a.B[bService], a.W[wClass]), int(a.B[bService]))
	}
	if a.Has&hasPath != 0 {
		as = core.NameAttrs(as, "class", ClassName(a.W[wClass]), int(a.W[wClass]))
		as = append(as, slog.Uint64("instance", uint64(a.W[wInstance])))
	}
	if a.Has&hasStatus != 0 {
		as = append(as, slog.Int("status", int(a.B[bStatus])))
	}
	if a.Has&hasTag != 0 {
		as = append(as, slog.String("tag", a.TextString()))
	}
	return as
}
