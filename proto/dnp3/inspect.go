package dnp3

import (
	"log/slog"
	"strconv"

	"github.com/conduit-ot/conduit/proto/internal/core"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// The stream adapter: link frames, transport reassembly of application
// fragments, the condition's check, and the frame's fields in a verdict
// line.

// KindRequest is the kind of a DNP3 request (Judged): Code is the
// application function.
const KindRequest core.Kind = 2

type inspector struct {
	core.Sealed
	f Frame
}

// Declared is the frame's length as its link header declares it.
func (*inspector) Declared(b []byte) int {
	if len(b) >= 3 {
		return FrameLen(b[2])
	}
	return 0
}

// The pending fragment's words in core.Asm.
const (
	asmSeq, asmFn  = 0, 1 // B: the transport sequence number the next segment must carry; the function, judged by the first segment
	asmSrc, asmDst = 0, 1 // H: the link addresses of the fragment
)

// DNP3 application fragments over several transport segments. A master
// sends a request bigger than one link frame (249 application bytes) as
// transport segments FIR ... FIN of one fragment, numbered in sequence;
// the outstation's transport layer gathers them per link source and acts
// on the fragment only once FIN arrives, and a FIR starts a fragment
// over. The inspector does the same for the frames it judges, one
// fragment per side at a time, up to core.AsmMax bytes (DNP3 fragments
// are 2048 at most in practice):
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
func (in *inspector) PDU(j core.Judge, c core.Cond, s *core.Stream, b []byte, off uint32) (int, core.Status) {
	f := &in.f
	n, err := Parse(b, f)
	if err != pdu.OK && err != pdu.ErrShort && f.FIR() {
		s.Asm.Active = false // the outstation drops what it gathered, too
	}
	if err != pdu.OK {
		_, n, st := core.Refused(j, n, err, off)
		return n, st
	}
	// DNP3 frames say who sent them: the master's frames (DIR set) and
	// any frame carrying an application request are judged, in either TCP
	// direction (an outstation may be the side that connects).
	request := f.HasApp && f.App.Function != FuncConfirm && !IsResponse(f.App.Function)
	if !request && !f.FromMaster() {
		return n, core.OK
	}
	cond := c.(*Cond)
	linkOK := true
	if fl := cond.CheckLink(f); fl != core.Pass {
		if a := j.Violation(fl, off); a != nil {
			event(a, f, -1)
		}
		linkOK = false
	}
	switch {
	case f.LinkOnly:
	case !f.FIR():
		next(j, &s.Asm, cond, f, off, linkOK)
	case !request:
		s.Asm.Active = false // a FIR starts a new fragment
	case f.FIN():
		s.Asm.Active = false
		if linkOK {
			judgeApp(j, cond, f, &f.App, off)
		}
	default:
		first(j, &s.Asm, cond, f, off, linkOK)
	}
	return n, core.OK
}

func seen(j core.Judge, fn uint8, f core.Failure, counted bool) {
	j.Seen(core.Judged{Kind: KindRequest, Code: uint16(fn), Failure: f, Counted: counted})
}

// judgeApp judges a whole application request, of the frame f or
// gathered from its segments.
func judgeApp(j core.Judge, c *Cond, f *Frame, app *App, off uint32) {
	fl, bad := c.CheckApp(app)
	seen(j, app.Function, fl, fl == core.Pass)
	var a *core.Event
	switch fl {
	case core.Pass:
		j.Count()
		return
	case core.FailIncomplete:
		a, bad = j.Unparsed("object-headers-not-all-decoded", off), -1
	default:
		a = j.Violation(fl, off)
	}
	if a != nil {
		event(a, f, -1)
		appEvent(a, app, bad)
	}
}

// first begins a fragment (the direction's reassembly a) with its first
// segment; linkOK is false when the frame's link addresses were refused.
func first(j core.Judge, a *core.Asm, c *Cond, f *Frame, off uint32, linkOK bool) {
	j.AsmStart(off)
	a.B[asmSeq], a.H[asmSrc], a.H[asmDst], a.B[asmFn] = nextSeq(f.Seq()), f.Source, f.Destination, f.App.Function
	if !linkOK {
		a.Decided = true
		return
	}
	fl, bad := c.CheckApp(&f.App)
	if fl == core.FailIncomplete {
		// The function passed; judge the object headers this segment
		// holds, all whole (the walk records a header only once its range
		// is read), the others wait for FIN.
		f.App.ObjectsComplete = true
		fl, bad = c.CheckApp(&f.App)
		f.App.ObjectsComplete = false
		if fl == core.Pass {
			fl = core.FailIncomplete
		}
	}
	if fl == core.FailIncomplete {
		seen(j, f.App.Function, core.Pass, false) // the objects wait for FIN
	} else {
		seen(j, f.App.Function, fl, false)
	}
	switch fl {
	case core.Pass: // judged whole: nothing to keep
	case core.FailIncomplete:
		if detail := j.AsmAppend(f.Segment(), core.AsmMax); detail != "" {
			if e := j.Unparsed(detail, off); e != nil {
				event(e, f, -1)
			}
			a.Decided = true
		}
	default:
		if e := j.Violation(fl, off); e != nil {
			event(e, f, bad)
		}
		a.Decided = true
	}
}

// nextSeq is the transport sequence number after s.
func nextSeq(s uint8) uint8 { return (s + 1) & 0x3f }

// next takes a later segment of the fragment a; linkOK is false when the
// frame's link addresses were refused.
func next(j core.Judge, a *core.Asm, c *Cond, f *Frame, off uint32, linkOK bool) {
	detail := ""
	switch {
	case !a.Active || f.Source != a.H[asmSrc] || f.Destination != a.H[asmDst]:
		detail = "segment-without-its-first"
	case f.Seq() != a.B[asmSeq]:
		detail = "segment-out-of-sequence"
		a.Active = false
	}
	if detail != "" {
		if e := j.Unparsed(detail, off); e != nil {
			event(e, f, -1)
		}
		return
	}
	a.B[asmSeq] = nextSeq(a.B[asmSeq])
	if !linkOK {
		a.Decided = true
	}
	objects := len(c.Objects) > 0
	if !a.Decided && objects && a.N == 0 {
		// The first segment was not kept: the condition listed no objects
		// then (a reload changed it). The fragment cannot be seen whole.
		if e := j.Unparsed("object-headers-not-all-decoded", a.At); e != nil {
			event(e, f, -1)
		}
		a.Decided = true
	}
	if !a.Decided && objects {
		if detail := j.AsmAppend(f.Segment(), core.AsmMax); detail != "" {
			if e := j.Unparsed(detail, a.At); e != nil {
				event(e, f, -1)
			}
			a.Decided = true
		}
	}
	if !f.FIN() {
		return
	}
	a.Active = false
	switch {
	case a.Decided:
	case !objects:
		j.Count() // judged by its first segment
		seen(j, a.B[asmFn], core.Pass, true)
	default:
		// The frame's App is free once its segment is read: decode the
		// whole fragment into it.
		if err := ParseApp(j.AsmBytes(), &f.App); err != pdu.OK {
			if e := j.Malformed(string(err), "", a.At); e != nil {
				event(e, f, -1)
			}
			return
		}
		judgeApp(j, c, f, &f.App, a.At)
	}
}

// The frame's fields in an Event.
const (
	bFn, bGroup, bVariation          = 0, 1, 2
	hSrc, hDst                       = 0, 1
	hasFn, hasLink, hasObject uint16 = 1, 2, 4
)

// event records a frame; obj is the index of an object header of its
// application request to name, or -1.
func event(a *core.Event, f *Frame, obj int) {
	a.H[hSrc], a.H[hDst], a.Has = f.Source, f.Destination, a.Has|hasLink
	if f.HasApp {
		appEvent(a, &f.App, obj)
	}
}

// appEvent records an application request (of a frame, or a fragment
// gathered from several) and its object header obj (-1: none).
func appEvent(a *core.Event, app *App, obj int) {
	a.B[bFn], a.Has = app.Function, a.Has|hasFn
	if obj >= 0 && obj < app.NumObjects {
		h := &app.Objects[obj]
		a.B[bGroup], a.B[bVariation], a.Has = h.Group, h.Variation, a.Has|hasObject
	}
}

// attrs renders an event's frame fields.
func attrs(a *core.Event, as []slog.Attr) []slog.Attr {
	if a.Has&hasFn != 0 {
		as = core.NameAttrs(as, "function", FunctionName(a.B[bFn]), int(a.B[bFn]))
	}
	if a.Has&hasLink != 0 {
		as = append(as, slog.Int("source", int(a.H[hSrc])), slog.Int("destination", int(a.H[hDst])))
	}
	if a.Has&hasObject != 0 {
		as = append(as, slog.String("object", strconv.Itoa(int(a.B[bGroup]))+":"+strconv.Itoa(int(a.B[bVariation]))))
	}
	return as
}
