package engine

import (
	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/modes"
	"github.com/conduit-ot/conduit/proto"
	"github.com/conduit-ot/conduit/rules"
)

// The TCP and UDP drivers of inspection and the verdict they assemble.

// inspect judges the payload of a packet of an allowed, evaluated flow
// whose rule has a protocol condition. It returns whether the packet is
// refused (the mode then applies), counts the rule's matched requests, and
// may leave a verdict line in w.appEv and a replacement packet in w.replace.
// It runs under the shard lock (it may take a stream slot for f).
func (w *Worker) inspect(pol *rules.Policy, f *conntrack.Flow, dir conntrack.Dir, c *ruleCounters, mode rules.Mode, b []byte, now int64) bool {
	rule := &pol.Rules[f.Rule]
	p := &w.pkt
	reqDir := conntrack.DirOriginal
	if markOf(f).reversed() {
		reqDir = conntrack.DirReply
	}
	side := reqSide
	if dir != reqDir {
		side = rspSide
	}
	in := &w.insp
	*in = inspection{w: w, flow: f, cond: rule.App, ins: w.insps[rule.App.Proto], side: side, cov: &c.cov, now: now}

	if p.Fragment != packet.NotFragment {
		// The first piece of a datagram the kernel did not reassemble.
		in.unparsed(unparsedReason[rule.App.Proto], "", "ip-fragment", 0)
		return w.conclude(pol, f, rule, c, nil, mode, b, now)
	}
	if p.Proto != packet.ProtoTCP {
		return w.inspectDatagram(pol, f, rule, c, mode, b, now)
	}

	st := w.stream(f, rule.App.Proto)
	in.covSt = st
	if st == nil {
		if len(p.Payload) == 0 {
			return false
		}
		in.unparsed(unparsedReason[rule.App.Proto], "", "no-stream-buffer-free", 0)
		return w.conclude(pol, f, rule, c, nil, mode, b, now)
	}
	w.resume(st, f)
	if p.TCPFlags&packet.TCPAck != 0 {
		st.dir[1-side].ack(p.Ack)
	}
	if st.reset.active && mode == rules.ModeEnforce {
		return w.resetStep(st, side, b)
	}
	sd := &st.dir[side]
	seq := p.Seq
	if p.TCPFlags&packet.TCPSyn != 0 {
		w.streams.sync(sd, p.Seq+1)
		seq++
		w.streams.release(&st.asm[side].Buf) // a new connection: nothing pending
		st.asm[side] = assembly{}
	}
	in.dir = sd
	in.loadAsm(st)
	if len(p.Payload) == 0 || p.TCPFlags&packet.TCPRst != 0 {
		return false
	}
	if !sd.synced {
		sd.sync(seq) // picked up mid-stream: inspection starts here
	}
	kind, data := sd.locate(w.streams.store(sd), seq, p.Payload)
	switch kind {
	case segOld:
		return false // passed before: the same verdict
	case segGap, segMismatch:
		detail := "data-before-it-is-missing"
		if kind == segMismatch {
			detail = "retransmission-differs-or-unverifiable"
		}
		in.gap = true
		a := in.record(outUnparsed, ReasonStreamGap)
		a.Detail, a.Offset = detail, seq-sd.base
		if rule.OnUnparsed != rules.UnparsedAllow && mode == rules.ModeEnforce {
			// Refused: the sender retransmits, in order this time.
			refused := w.conclude(pol, f, rule, c, st, mode, b, now)
			w.dedupRefused(sd, seq)
			return refused
		}
		// Passed (allowed, or monitored): inspection starts over at this
		// segment as if the flow had been picked up here, a PDU being
		// gathered given up.
		w.streams.sync(sd, seq)
		data = p.Payload
		in.asm.Active = false
	}
	in.off = seq + uint32(len(p.Payload)-len(data)) - sd.base
	skip := sd.skip
	walked := data
	if skip > 0 {
		k := min(skip, uint32(len(walked)))
		walked, skip = walked[k:], skip-k
		in.off += k
	}
	var rest int
	if sd.lost || skip > 0 {
		rest = in.walk(nil, walked)
	} else {
		rest = in.walk(sd.unfinished(w.streams.store(sd)), walked)
	}
	if in.skip > 0 {
		skip = in.skip
	}
	if in.lost {
		rest = 0
		in.asm.Active = false // its pieces cannot be told apart any more
	}
	refused := w.conclude(pol, f, rule, c, st, mode, b, now)
	if refused && mode == rules.ModeEnforce {
		w.streams.release(&in.large)
		w.settle(st, false)
		w.dedupRefused(sd, seq)
		return true
	}
	// Passed (or monitored): the receiver has these bytes now.
	sd.refSet = false
	sd.lost = in.lost
	w.streams.commit(sd, in.large, data, rest)
	sd.skip = skip
	w.settle(st, true)
	return refused
}

// inspectDatagram judges a UDP datagram: whole PDUs only. A protocol
// whose reassembly spans datagrams (proto.Info.Datagrams: the fragment a
// DNP3 master's segments build) keeps it in the flow's stream slot; the
// others need no state between datagrams.
func (w *Worker) inspectDatagram(pol *rules.Policy, f *conntrack.Flow, rule *rules.Rule, c *ruleCounters, mode rules.Mode, b []byte, now int64) bool {
	p, in := &w.pkt, &w.insp
	if len(p.Payload) == 0 {
		return false
	}
	var st *flowStream
	if proto.Table[rule.App.Proto].Datagrams {
		if st = w.stream(f, rule.App.Proto); st != nil {
			in.covSt = st
			w.resume(st, f)
			in.loadAsm(st)
		}
	}
	if rest := in.walk(nil, p.Payload); rest > 0 && in.what < outViolation {
		in.unparsed(malformedReason[rule.App.Proto], "short", "datagram-ends-inside-a-pdu", uint32(len(p.Payload)-rest))
	}
	if in.asm.Active && !in.asm.Decided && st == nil {
		in.unparsed(unparsedReason[rule.App.Proto], "", "no-stream-buffer-free", in.asm.At)
	}
	// The flow's stream, if any, keeps only the fragment: no line limit
	// by it, and never a TCP reset.
	refused := w.conclude(pol, f, rule, c, nil, mode, b, now)
	w.settle(st, !refused || mode != rules.ModeEnforce)
	return refused
}

// resume starts st over when packets of its flow passed uninspected
// (passthrough, or a policy whose rule had no condition): they left its
// state behind, so inspection goes on as if the flow had been picked up
// now.
func (w *Worker) resume(st *flowStream, f *conntrack.Flow) {
	total := f.Packets[0] + f.Packets[1]
	if st.pkts != 0 && st.pkts+1 != total {
		w.streams.reinit(st, f.ID, st.proto)
	}
	st.pkts = total
}

// dedupRefused logs a refused segment once: its retransmissions get the
// same verdict without another line.
func (w *Worker) dedupRefused(sd *streamDir, seq uint32) {
	if sd.refSet && sd.refused == seq {
		w.appPending = false
		return
	}
	sd.refused, sd.refSet = seq, true
}

// conclude turns the inspection's outcome into the packet's fate: counts,
// the verdict line and, for a reset, the replacement packet. It returns
// whether the packet is refused.
func (w *Worker) conclude(pol *rules.Policy, f *conntrack.Flow, rule *rules.Rule, c *ruleCounters, st *flowStream, mode rules.Mode, b []byte, now int64) bool {
	in := &w.insp
	in.seenOutcome()
	refused := in.what == outViolation || in.what == outUnparsed && rule.OnUnparsed != rules.UnparsedAllow
	if !refused || mode != rules.ModeEnforce {
		c.requests.Add(in.requests)
	}
	logIt := false
	switch {
	case refused:
		logIt = true
	case in.what != outNone:
		// Accepted lines (exceptions, allowed unparsed traffic): at most
		// one per flow per window, as the flow's first line is.
		if st == nil {
			logIt = w.denied.first(f.Key, now)
		} else if st.logAt == 0 || now-st.logAt >= deniedWindow {
			logIt, st.logAt = true, now
		}
	}
	if logIt {
		w.queueApp(pol, f, mode, refused, now)
	}
	if refused && mode == rules.ModeEnforce && st != nil && !in.gap &&
		rule.OnViolation == rules.ViolationReset {
		w.startReset(st, in.side, b)
		w.appEv.reset = logIt // the line says what conduit did to the flow
	}
	return refused
}

// queueApp prepares the verdict line of an inspected packet, written after
// the shard lock is released.
func (w *Worker) queueApp(pol *rules.Policy, f *conntrack.Flow, mode rules.Mode, refused bool, now int64) {
	k := f.Key
	if markOf(f).reversed() {
		k = k.Reverse()
	}
	out := modes.Apply(mode, refused)
	w.appEv = verdictEvent{pol: pol, mode: mode, accept: out.Accept, wouldDrop: out.WouldDrop, rule: f.Rule,
		from: pol.Zone(k.Src), to: pol.Zone(k.Dst), proto: k.Proto, src: k.Src, dst: k.Dst,
		sport: k.SrcPort, dport: k.DstPort, flow: f.ID, reason: w.insp.reason, app: w.insp.app}
	w.appPending = true
}
