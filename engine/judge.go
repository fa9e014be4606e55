package engine

import "github.com/conduit-ot/conduit/proto"

// The inspection as a protocol's inspector sees it (proto.Judge): what
// the stream follower offers the adapter judging one packet's PDUs.

var _ proto.Judge = (*inspection)(nil)

func (in *inspection) Violation(f proto.Failure, off uint32) *proto.Event {
	return protoEvent(in.violation(f, off))
}

func (in *inspection) Unparsed(detail string, off uint32) *proto.Event {
	return protoEvent(in.unparsed(unparsedReason[in.cond.Proto], "", detail, off))
}

func (in *inspection) Malformed(err, detail string, off uint32) *proto.Event {
	return protoEvent(in.unparsed(malformedReason[in.cond.Proto], err, detail, off))
}

func (in *inspection) Notice(off uint32) *proto.Event { return protoEvent(in.notice(off)) }

// protoEvent is the protocol's part of a, nil for none.
func protoEvent(a *appEvent) *proto.Event {
	if a == nil {
		return nil
	}
	return &a.Event
}

func (in *inspection) Count() { in.requests++ }

// Seen covers a request the condition passed (one the rule counts, or of
// a kind counted by its carrier) and reports it to Config.OnRequest.
func (in *inspection) Seen(r proto.Judged) {
	if r.Failure == proto.Pass && (r.Counted || proto.Uncounted(r.Kind)) {
		in.cover(funcKey{kind: r.Kind, code: r.Code, mei: r.MEI, class: r.Class}, r.Unit)
	}
	if in.w.onRequest != nil {
		in.reportJudged(r)
	}
}

// reportJudged is out of line so that Seen stays small: without an
// observer, a report costs the nil check only.
//
//go:noinline
func (in *inspection) reportJudged(r proto.Judged) {
	in.report(RequestSeen{Kind: r.Kind, Code: r.Code, MEI: r.MEI, Unit: r.Unit, Class: r.Class,
		Failure: r.Failure, Counted: r.Counted})
}

func (in *inspection) Asm() *proto.Asm { return &in.asm }

func (in *inspection) Word() *uint16 { return &in.word }
