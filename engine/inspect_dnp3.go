package engine

import (
	"github.com/conduit-ot/conduit/proto/dnp3"
	"github.com/conduit-ot/conduit/rules"
)

// DNP3 inspection: link frames, transport reassembly of application
// fragments, and the condition check.

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
			in.asm.Active = false // the outstation drops what it gathered, too
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
		in.asm.Active = false // a FIR starts a new fragment
	case f.FIN():
		in.asm.Active = false
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
	a.B[0], a.H[0], a.H[1], a.B[1] = nextSeq(f.Seq()), f.Source, f.Destination, f.App.Function
	if !linkOK {
		a.Decided = true
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
			a.Decided = true
		}
	default:
		if e := in.violation(fl, off); e != nil {
			e.fromDNP3(f, bad)
		}
		a.Decided = true
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
	case !a.Active || f.Source != a.H[0] || f.Destination != a.H[1]:
		detail = "segment-without-its-first"
	case f.Seq() != a.B[0]:
		detail = "segment-out-of-sequence"
		a.Active = false
	}
	if detail != "" {
		if e := in.unparsed(unparsedReason[rules.AppDNP3], "", detail, off); e != nil {
			e.fromDNP3(f, -1)
		}
		return
	}
	a.B[0] = nextSeq(a.B[0])
	if !linkOK {
		a.Decided = true
	}
	objects := len(in.cond.DNP3.Objects) > 0
	if !a.Decided && objects && a.N == 0 {
		// The first segment was not kept: the condition listed no objects
		// then (a reload changed it). The fragment cannot be seen whole.
		if e := in.unparsed(unparsedReason[rules.AppDNP3], "", "object-headers-not-all-decoded", a.At); e != nil {
			e.fromDNP3(f, -1)
		}
		a.Decided = true
	}
	if !a.Decided && objects {
		if detail := in.asmAppend(f.Segment(), asmMax); detail != "" {
			if e := in.unparsed(unparsedReason[rules.AppDNP3], "", detail, a.At); e != nil {
				e.fromDNP3(f, -1)
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
		in.requests++ // judged by its first segment
		in.seen(KindDNP3, uint16(a.B[1]), rules.Pass, true)
	default:
		// The frame's App is free once its segment is read: decode the
		// whole fragment into it.
		if err := dnp3.ParseApp(in.asmBytes(), &f.App); err != dnp3.OK {
			if e := in.unparsed(malformedReason[rules.AppDNP3], string(err), "", a.At); e != nil {
				e.fromDNP3(f, -1)
			}
			return
		}
		in.dnp3App(f, &f.App, a.At)
	}
}
