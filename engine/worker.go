package engine

import (
	"fmt"
	"sync/atomic"

	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/engine/inspect"
	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/modes"
	"github.com/conduit-ot/conduit/rules"
)

// Reasons a verdict gives, beyond the decoder's malformed-packet reasons.
const (
	ReasonNewFlow     = "new-flow"     // first packet of a flow, decided by the rules
	ReasonPickup      = "pickup"       // a flow met mid-stream (restart, eviction, first insertion), adopted as a rule allows (orient.go)
	ReasonNoFlow      = "no-flow"      // mid-stream TCP with pickup off: the default rule, in the stricter mode of both orientations
	ReasonReevaluated = "reevaluated"  // a new policy generation changed a tracked flow's decision
	ReasonPassthrough = "passthrough"  // the mode accepts without evaluating rules
	ReasonFragment    = "fragment"     // a non-first fragment that escaped reassembly
	ReasonPanic       = "engine-panic" // the engine failed on this packet
)

// Worker decides the packets of one queue. It is used by one goroutine.
type Worker struct {
	e      *Engine
	idx    int
	shard  *conntrack.Shard
	pkt    packet.Parsed
	q      rules.Query
	locked bool // the shard lock is held (for the panic path)
	// decoded: the packet in hand decoded cleanly, so its addresses are
	// its own (the panic path looks up its conduit's mode by them).
	decoded bool
	denied  deniedCache
	// in is where the packet in hand came in (zero: unknown); flagged: its
	// source address is forged and monitor passes it (spoof.go).
	in      Ingress
	flagged bool
	admit   admitted
	stats   workerStats
	hits    hitTable
	byMode  modeCounters // verdicts by effective mode (stats.go)
	lat     latencyHist  // sampled receipt-to-verdict time (latency.go), timed by Serve

	// Counters by zone pair (pairs.go), and the pair of a packet flagged
	// as forged, charged its would-drop once it is decided.
	pairs     pairTable
	spoofPair *pairCounters

	// testPanic, when set by a test, runs inside the decision to provoke
	// the failure path.
	testPanic func()

	// flowLine is where a decision builds the line of a new or
	// reevaluated flow, written once the shard lock is released: scratch
	// of one decision, so that a packet of a known flow does not clear a
	// whole verdictEvent.
	flowLine verdictEvent

	// Industrial-protocol inspection (inspect.go): the stream follower
	// of this worker's flows and what it reports to.
	insp      inspect.Follower
	watch     watch
	onRequest func(RequestSeen) // Config.OnRequest, at hand where requests are judged

	// The fast path (fastpath.go): this worker's kernel connection (nil:
	// off) and the batch bracket a reload waits on.
	fp    KernelConntrack
	epoch atomic.Uint64
}

type workerStats struct {
	packets, accepted, dropped, wouldDrop atomic.Uint64
	malformed, panics, pickups            atomic.Uint64
	linkControl                           atomic.Uint64
	spoofed                               atomic.Uint64
}

// Decide returns whether to accept the IP packet b, and never panics: a
// failure inside the engine is recovered, counted and logged, and the packet
// gets the verdict the operator chose for failures (accept, unless its
// conduit enforces with fail_open false). Where b came in is not known
// (replay), so zone bindings are not checked.
func (w *Worker) Decide(b []byte) bool { return w.DecideIn(b, Ingress{}) }

// DecideIn is Decide for a packet that came in at in: a packet whose
// source address belongs to a zone bound elsewhere is refused as forged.
func (w *Worker) DecideIn(b []byte, in Ingress) bool { return w.decideIn(b, in).accept }

// verdict is what deciding one packet comes to. decide returns it by
// value: nothing of one packet's decision is left on the worker for the
// next.
type verdict struct {
	accept bool
	ctMark bool // the verdict hands the flow to the kernel's fast path
	// replaced: a packet is to be sent in place of this one (a reset):
	// Verdict.Packet, the inspection's Result.Replace.
	replaced bool
	mode     rules.Mode // the packet's effective mode (the counters by mode)
}

// decideIn decides b and counts the verdict; a panic is recovered into the
// verdict for failures.
func (w *Worker) decideIn(b []byte, in Ingress) (v verdict) {
	defer func() {
		if r := recover(); r != nil {
			v = w.recovered(r)
		}
	}()
	w.stats.packets.Add(1)
	w.in, w.flagged = in, false
	wd := w.stats.wouldDrop.Load() // this worker is its only writer
	v = w.decide(b, w.e.now())
	if w.flagged && w.stats.wouldDrop.Load() == wd {
		w.stats.wouldDrop.Add(1)
		w.spoofPair.wouldDrop.Add(1)
	}
	if v.accept {
		w.stats.accepted.Add(1)
	} else {
		w.stats.dropped.Add(1)
	}
	w.byMode.count(v.mode, v.accept, w.stats.wouldDrop.Load() != wd)
	return v
}

// recovered is the verdict of a packet whose decision panicked: accept,
// unless its mode is enforce with fail_open false.
func (w *Worker) recovered(r any) verdict {
	if f := w.watch.flow; f != nil && w.locked {
		// The panic came inside inspection: what it borrowed goes back,
		// and a slot it took stays the flow's, to be freed with it.
		if s := w.insp.Abort(); s != markOf(f).slot() {
			markOf(f).setSlot(s)
		}
	}
	w.watch.flow = nil
	if w.locked {
		w.locked = false
		w.shard.Unlock()
	}
	w.stats.panics.Add(1)
	act := w.e.store.Load()
	mode := act.Policy.Mode
	if w.decoded {
		// What the decision knew went with it: the flow's mode may not
		// have been known yet. A conduit can override the global mode in
		// either direction, and the packet may be a reply: enforce in
		// either orientation means enforce; in neither, the flow is not
		// enforced whatever the global mode.
		pol := act.Policy
		from, to := pol.Zone(w.pkt.Src), pol.Zone(w.pkt.Dst)
		if m, r := pol.ModeFor(from, to), pol.ModeFor(to, from); m == rules.ModeEnforce || r == rules.ModeEnforce {
			mode = rules.ModeEnforce
		} else {
			mode = m
		}
	}
	accept := !(mode == rules.ModeEnforce && !act.Policy.Queue.FailOpen)
	if accept {
		w.stats.accepted.Add(1)
	} else {
		w.stats.dropped.Add(1)
	}
	w.byMode.count(mode, accept, false)
	// A panic is rare and worth an allocation.
	w.emit(event{kind: evPanic, at: w.e.now(), text: fmt.Sprint(r), v: verdictEvent{
		pol: act.Policy, mode: mode, accept: accept, rule: -1, reason: ReasonPanic,
		src: w.pkt.Src, dst: w.pkt.Dst, proto: w.pkt.Proto, sport: w.pkt.SrcPort, dport: w.pkt.DstPort,
	}})
	return verdict{accept: accept, mode: mode}
}

func (w *Worker) decide(b []byte, now int64) verdict {
	act := w.e.store.Load()
	pol := act.Policy
	w.decoded = false
	p := &w.pkt
	if r := p.Decode(b); r != packet.ReasonOK {
		return w.malformed(pol, string(r), now)
	}
	w.decoded = true
	if p.Fragment == packet.LaterFragment {
		return w.malformed(pol, ReasonFragment, now)
	}
	if linkControl(p) {
		w.stats.linkControl.Add(1)
		return verdict{accept: true, mode: pol.Mode}
	}
	if w.in.Port != 0 && pol.Binds() {
		if refused, mode := w.spoofed(pol, now); refused {
			return verdict{mode: mode}
		}
	}
	key := keyOf(p)
	hits := w.hits.forGen(act)

	w.shard.Lock()
	w.locked = true
	if w.testPanic != nil {
		w.testPanic()
	}
	f, dir := w.shard.Lookup(key, now)
	ev := &w.flowLine // set whole by newFlow and reevaluate when they log
	logIt := false
	switch {
	case synPayload(p):
		// Data on a SYN opens nothing, tracked or not: conduit refuses the
		// SYN data TCP Fast Open would send, so no server answers with data
		// on its SYN-ACK. A SYN-ACK's orientation is unproven.
		w.locked = false
		w.shard.Unlock()
		return w.refuse(pol, ReasonSynPayload, p.TCPFlags&packet.TCPAck != 0, now)
	case f == nil:
		f, dir, logIt = w.newFlow(act, key, now, ev)
		if f == nil { // denied in enforce: not tracked
			w.locked = false
			w.shard.Unlock()
			w.stats.wouldDrop.Add(1)
			c := hits[ev.rule]
			c.hit(now, len(b))
			c.refused(now)
			pc := w.pairs.get(pol, ev.from, ev.to)
			pc.wouldDrop.Add(1)
			if w.denied.first(key, now) {
				c.flows.Add(1)
				pc.flows.Add(1)
				pc.deniedFlows.Add(1)
				c.cov.flow(flowCoverKey(conntrack.Key{Src: ev.src, Dst: ev.dst, SrcPort: ev.sport, DstPort: ev.dport, Proto: ev.proto}, false, p.ICMPType), now)
				w.emit(event{kind: evVerdict, at: now, v: *ev})
			}
			return verdict{mode: ev.mode}
		}
		if f.Rule >= 0 {
			hits[f.Rule].flows.Add(1)
			hits[f.Rule].cov.flow(flowCoverKey(f.Key, markOf(f).reversed(), p.ICMPType), now)
		}
		w.countFlow(w.pairs.get(pol, ev.from, ev.to), f)
	case f.Generation != act.Generation:
		logIt = w.reevaluate(act, f, now, ev)
		if logIt && f.Rule >= 0 {
			hits[f.Rule].flows.Add(1)
			hits[f.Rule].cov.flow(flowCoverKey(f.Key, markOf(f).reversed(), ev.icmpType), now)
		}
		if logIt {
			w.countFlow(w.pairs.get(pol, ev.from, ev.to), f)
		}
	}
	w.shard.Update(f, dir, p.TCPFlags, len(b), now)
	if f.Rule >= 0 {
		hits[f.Rule].hit(now, len(b))
	}
	mode := markOf(f).mode()
	v := verdict{mode: mode}
	out := modes.Apply(mode, !f.Allowed)
	var app appLine
	if f.Allowed && modes.Evaluates(mode) && f.Rule >= 0 && int(f.Rule) < len(pol.Rules) && pol.Rules[f.Rule].App != nil {
		// The rule's protocol condition judges the payload (inspect.go).
		r := w.inspect(pol, f, dir, hits[f.Rule], mode, b, now, &app)
		if r.Refused {
			out = modes.Apply(mode, true)
		}
		v.replaced = r.Replace != nil
	}
	if logIt {
		ev.flow = f.ID
	}
	if w.fp != nil && out.Accept && !out.WouldDrop && !v.replaced && !markOf(f).fastpathDone() && offloadable(pol, f, mode) {
		v.ctMark = w.offload(pol, f)
	}
	if out.WouldDrop && f.Rule >= 0 {
		// Charged to the rule that decided: a deny rule, or an allow rule
		// whose protocol condition refused the request.
		hits[f.Rule].refused(now)
	}
	if out.WouldDrop {
		w.flowPair(pol, f).wouldDrop.Add(1)
	}
	w.locked = false
	w.shard.Unlock()
	if out.WouldDrop {
		w.stats.wouldDrop.Add(1)
	}
	if logIt {
		w.emit(event{kind: evVerdict, at: now, v: *ev})
	}
	if app.due {
		w.emit(event{kind: evVerdict, at: now, v: w.appVerdict(pol, mode, &app)})
	}
	v.accept = out.Accept
	return v
}

// decision is the outcome of evaluating one orientation of a flow.
type decision struct {
	rule     int32 // -1: no rule evaluated (passthrough)
	action   rules.Action
	mode     rules.Mode
	from, to rules.ZoneID
	log      bool
}

// evaluate decides a flow whose request direction is k.
func (w *Worker) evaluate(pol *rules.Policy, k conntrack.Key, icmpType uint8) decision {
	q := &w.q
	*q = rules.Query{Src: k.Src, Dst: k.Dst, Proto: k.Proto, SrcPort: k.SrcPort, DstPort: k.DstPort, ICMPType: icmpType}
	if k.Proto == packet.ProtoICMP || k.Proto == packet.ProtoICMPv6 {
		q.SrcPort, q.DstPort = 0, 0 // the echo id is the flow's, not a port
	}
	q.SrcZone, q.DstZone = pol.Zone(k.Src), pol.Zone(k.Dst)
	d := decision{mode: pol.ModeFor(q.SrcZone, q.DstZone), from: q.SrcZone, to: q.DstZone}
	if !modes.Evaluates(d.mode) {
		d.rule, d.action, d.log = -1, rules.ActionAllow, true
		return d
	}
	i := pol.Match(q)
	d.rule, d.action = int32(i), pol.ActionOf(i)
	d.log = i >= len(pol.Rules) || pol.Rules[i].Log || d.action == rules.ActionDeny
	return d
}

// newFlow decides the first packet of a flow the table does not know and
// tracks it, unless enforce drops it (a denied flow is not worth a slot that
// an allowed session may need; its log line is limited per flow instead).
// A packet that does not prove which side opened the flow is judged in
// both orientations (orient.go).
func (w *Worker) newFlow(act *inforce.Active, key conntrack.Key, now int64, ev *verdictEvent) (*conntrack.Flow, conntrack.Dir, bool) {
	pol := act.Policy
	p := &w.pkt
	how := orientationOf(p, pol.Conntrack.Pickup)
	j := w.judge(pol, key, how, p.ICMPType, requestType(p.Proto, p.ICMPType))
	d := j.d
	orient, dir := key, conntrack.DirOriginal
	if j.reversed {
		orient, dir = key.Reverse(), conntrack.DirReply
	}
	// Its start was not seen: reevaluate judges it both ways again.
	pickedUp := how == orientStrict || how == orientDefault || j.reversed
	reason := ReasonNewFlow
	switch {
	case !modes.Evaluates(d.mode):
		reason = ReasonPassthrough
	case how == orientDefault:
		reason = ReasonNoFlow
	case pickedUp && ruleAllows(d):
		reason = ReasonPickup
	case pickedUp:
		reason = ReasonPickupDenied
	}
	*ev = verdictEvent{pol: pol, mode: d.mode, rule: d.rule, from: d.from, to: d.to, reason: reason,
		proto: orient.Proto, src: orient.Src, dst: orient.Dst, sport: orient.SrcPort, dport: orient.DstPort,
		icmpType: p.ICMPType, hasICMPType: p.Proto == packet.ProtoICMP || p.Proto == packet.ProtoICMPv6}
	ev.withOther(j)
	ev.reply = j.reversed
	out := modes.Apply(d.mode, d.action == rules.ActionDeny)
	ev.accept, ev.wouldDrop = out.Accept, out.WouldDrop
	if !out.Accept {
		return nil, 0, false
	}
	f := w.shard.Insert(orient, now)
	w.setDecision(f, act, d)
	f.PickedUp = pickedUp
	if reason == ReasonPickup {
		w.stats.pickups.Add(1)
	}
	return f, dir, d.log || pickedUp
}

// reevaluate re-decides a tracked flow after a policy swap, in the
// orientation it was adopted in; a flow whose start was not seen is judged
// both ways again, as newFlow judged it (whatever conntrack.pickup now says:
// the flow is tracked).
func (w *Worker) reevaluate(act *inforce.Active, f *conntrack.Flow, now int64, ev *verdictEvent) bool {
	pol := act.Policy
	k := f.Key
	if markOf(f).reversed() {
		k = k.Reverse()
	}
	oldAllowed, oldMode, oldRule := f.Allowed, markOf(f).mode(), f.Rule
	how := orientProven
	if f.PickedUp && k.Proto != packet.ProtoUDP {
		how = orientStrict
	}
	// The packet in hand may go either way: judge ICMP as its request.
	t := requestType(w.pkt.Proto, w.pkt.ICMPType)
	j := w.judge(pol, k, how, t, t)
	d := j.d
	if j.reversed {
		k = k.Reverse()
		*markOf(f) ^= markReversed
	}
	w.setDecision(f, act, d)
	if f.Allowed == oldAllowed && d.mode == oldMode && d.rule == oldRule {
		return false
	}
	*ev = verdictEvent{pol: pol, mode: d.mode, rule: d.rule, from: d.from, to: d.to, reason: ReasonReevaluated,
		proto: k.Proto, src: k.Src, dst: k.Dst, sport: k.SrcPort, dport: k.DstPort}
	ev.withOther(j)
	out := modes.Apply(d.mode, d.action == rules.ActionDeny)
	ev.accept, ev.wouldDrop = out.Accept, out.WouldDrop
	return true
}

// catchAll reports an allow that comes from no specific rule: the cleanup
// rule or default allow. A picked-up flow is only adopted on it when no
// rule allows the other orientation.
func catchAll(pol *rules.Policy, d decision) bool {
	if d.rule < 0 || d.action != rules.ActionAllow {
		return false
	}
	return int(d.rule) >= len(pol.Rules) || pol.Rules[d.rule].Cleanup
}

func (w *Worker) setDecision(f *conntrack.Flow, act *inforce.Active, d decision) {
	f.Generation = act.Generation
	f.Rule = d.rule
	f.Allowed = d.action == rules.ActionAllow
	markOf(f).decided(d.mode)
	f.IdleTimeout = 0
	if d.rule >= 0 && int(d.rule) < len(act.Policy.Rules) {
		f.IdleTimeout = act.Policy.Rules[d.rule].IdleTimeout
	}
	w.shard.Reclassify(f) // Allowed decides its eviction class
}

// malformed decides a packet the decoder refused: enforce drops it, the
// other modes pass it; either way it is counted and logged with its reason.
func (w *Worker) malformed(pol *rules.Policy, reason string, now int64) verdict {
	return w.refuse(pol, reason, false, now)
}

// refuse is malformed for any odd packet; with both, in the stricter mode
// of its two orientations (one whose direction is not proven).
func (w *Worker) refuse(pol *rules.Policy, reason string, both bool, now int64) verdict {
	w.stats.malformed.Add(1)
	p := &w.pkt
	var from, to rules.ZoneID
	mode := pol.Mode
	if p.Src.IsValid() && p.Dst.IsValid() {
		from, to = pol.Zone(p.Src), pol.Zone(p.Dst)
		mode = pol.ModeFor(from, to)
		if r := pol.ModeFor(to, from); both && stricter(r, mode) {
			mode = r
		}
	}
	out := modes.Apply(mode, true)
	if out.WouldDrop {
		w.stats.wouldDrop.Add(1)
		w.pairs.get(pol, from, to).wouldDrop.Add(1)
	}
	if mode == rules.ModePassthrough {
		out.Accept = true
	}
	k := conntrack.Key{Src: p.Src, Dst: p.Dst, Proto: p.Proto}
	if w.denied.first(k, now) {
		w.emit(event{kind: evVerdict, at: now, v: verdictEvent{pol: pol, mode: mode, accept: out.Accept,
			wouldDrop: out.WouldDrop, rule: -1, from: from, to: to, reason: reason,
			proto: p.Proto, src: p.Src, dst: p.Dst, sport: p.SrcPort, dport: p.DstPort}})
	}
	return verdict{accept: out.Accept, mode: mode}
}

func action(allowed bool) rules.Action {
	if allowed {
		return rules.ActionAllow
	}
	return rules.ActionDeny
}

// keyOf is the flow key of a decoded packet, in the packet's direction.
func keyOf(p *packet.Parsed) conntrack.Key {
	k := conntrack.Key{Src: p.Src, Dst: p.Dst, Proto: p.Proto}
	switch p.Proto {
	case packet.ProtoTCP, packet.ProtoUDP:
		k.SrcPort, k.DstPort = p.SrcPort, p.DstPort
	case packet.ProtoICMP, packet.ProtoICMPv6:
		k.SrcPort = p.ICMPID
	}
	return k
}

// linkControl reports IPv6 neighbour discovery and multicast listener
// messages. They keep the bridged segment itself working, as ARP does for
// IPv4 (which the IP hooks never see), so they pass in every mode without a
// rule. Neither can be forged from beyond the segment: neighbour discovery
// requires hop limit 255 (RFC 4861), so a routed packet cannot pose as it,
// and MLD (RFC 3810) is sent from a link-local address with hop limit 1.
func linkControl(p *packet.Parsed) bool {
	if p.Proto != packet.ProtoICMPv6 {
		return false
	}
	switch p.ICMPType {
	case 133, 134, 135, 136, 137: // router/neighbour solicitation and advertisement, redirect
		return p.TTL == 255
	case 130, 131, 132, 143: // MLD query, report, done, MLDv2 report
		return p.TTL == 1 && (p.Src.IsLinkLocalUnicast() || p.Src.IsUnspecified())
	}
	return false
}
