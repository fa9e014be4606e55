package engine

import (
	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/engine/inspect"
	"github.com/conduit-ot/conduit/modes"
	"github.com/conduit-ot/conduit/proto"
	"github.com/conduit-ot/conduit/rules"
)

// Reasons of the verdicts of industrial-protocol inspection.
const (
	ReasonViolation = inspect.ReasonViolation // a request the rule's protocol condition refuses
	ReasonStreamGap = inspect.ReasonStreamGap // a gap, reordering or altered retransmission in the TCP stream
	ReasonException = inspect.ReasonException // a response reporting an error (Modbus exception, CIP or S7 error)
)

// inspect judges the payload of a packet of an allowed, evaluated flow
// whose rule has a protocol condition, by the worker's stream follower
// (package inspect), and counts the rule's matched requests. The result
// says whether the packet is refused (the mode then applies) and holds a
// replacement packet, if any; a verdict line that is due is left in app,
// to be written after the shard lock is released. It runs under the shard
// lock (it may take a stream slot for f).
func (w *Worker) inspect(pol *rules.Policy, f *conntrack.Flow, dir conntrack.Dir, c *ruleCounters, mode rules.Mode, b []byte, now int64, app *appLine) *inspect.Result {
	reqDir := conntrack.DirOriginal
	if markOf(f).reversed() {
		reqDir = conntrack.DirReply
	}
	side := inspect.ReqSide
	if dir != reqDir {
		side = inspect.RspSide
	}
	w.watch.flow, w.watch.cov, w.watch.tup, w.watch.now = f, &c.cov, nil, now
	slot := markOf(f).slot()
	r := w.insp.Inspect(&inspect.Packet{Rule: &pol.Rules[f.Rule], Mode: mode, Side: side, Flow: f.ID,
		Packets: f.Packets[0] + f.Packets[1], Slot: slot, B: b, Now: now})
	if r.Slot != slot {
		markOf(f).setSlot(r.Slot)
	}
	if st, rs := w.insp.Covered(); len(rs) > 0 {
		w.watch.Cover(st, rs)
	}
	w.watch.outcome()
	if r.Requests != 0 { // a response, or a refused packet in enforce, counts none: no atomic add
		c.requests.Add(r.Requests)
	}
	w.watch.flow = nil // inspection is over: a panic from here on is not its own
	if r.Line == inspect.LineAlways || r.Line == inspect.LineFirst && w.denied.first(f.Key, now) {
		*app = appLine{due: true, refused: r.Refused, reset: r.Reset, rule: f.Rule, flow: f.ID, key: f.Key}
		if markOf(f).reversed() {
			app.key = app.key.Reverse()
		}
	}
	return r
}

// appLine is a verdict line of an inspected packet that is due: what it
// needs of the flow, taken under the shard lock; the reason and the app
// object are the follower's until its next packet.
type appLine struct {
	due, refused bool
	reset        bool // the line says what conduit did to the flow
	rule         int32
	flow         uint64
	key          conntrack.Key // in the request direction
}

// appVerdict is the verdict line of a.
func (w *Worker) appVerdict(pol *rules.Policy, mode rules.Mode, a *appLine) verdictEvent {
	k := &a.key
	out := modes.Apply(mode, a.refused)
	return verdictEvent{pol: pol, mode: mode, accept: out.Accept, wouldDrop: out.WouldDrop, rule: a.rule,
		from: pol.Zone(k.Src), to: pol.Zone(k.Dst), proto: k.Proto, src: k.Src, dst: k.Dst,
		sport: k.SrcPort, dport: k.DstPort, flow: a.flow, reason: w.insp.Reason, reset: a.reset,
		app: appEvent{proto: pol.Rules[a.rule].App.Proto, Event: w.insp.Event}}
}

// watch is the engine's inspect.Observer for the packet in hand: the
// coverage of the flow's rule and Config.OnRequest.
type watch struct {
	w    *Worker
	flow *conntrack.Flow
	cov  *ruleCoverage // the rule's coverage: what the condition passed
	tup  *tupleCov     // the flow's tuple, once a request was counted
	now  int64
}

var _ inspect.Observer = (*watch)(nil)

// Report hands a judged request to Config.OnRequest.
func (o *watch) Report(r proto.Judged) {
	o.report(RequestSeen{Kind: r.Kind, Code: r.Code, MEI: r.MEI, Unit: r.Unit, Class: r.Class,
		Failure: r.Failure, Counted: r.Counted})
}
