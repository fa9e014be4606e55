package inspect

import (
	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/proto"
	"github.com/conduit-ot/conduit/rules"
)

// The TCP and UDP drivers of inspection and the result they assemble.

// Packet is what the follower is told of the packet in hand, decoded into
// Config.Pkt, of an allowed flow whose rule has a protocol condition.
type Packet struct {
	Rule    *rules.Rule // the flow's rule; Rule.App is the condition
	Mode    rules.Mode  // the flow's effective mode
	Side    int         // ReqSide or RspSide
	Flow    uint64      // the flow's ID
	Packets uint64      // the flow's packets so far, this one included, both ways
	Slot    int32       // the flow's stream slot, -1: none
	B       []byte      // the packet
	Now     int64
}

// Line is whether inspection wants a verdict line for the packet.
type Line uint8

const (
	LineNone  Line = iota
	LineFirst      // an accepted line of a flow without a slot: the engine limits it per flow
	LineAlways
)

// Result is the packet's fate as inspection decided it (the follower's,
// valid until its next packet).
type Result struct {
	Refused  bool
	Requests uint64 // requests the condition passed, for the rule to count now
	Line     Line   // the line's reason and app object: Follower.Reason, Follower.Event
	Reset    bool   // on_violation reset took effect: Replace begins it
	// Replace is the packet to send in place of the refused one (a reset
	// step): the follower's buffer.
	Replace []byte
	Slot    int32 // the flow's stream slot now (-1: none)
}

// Inspect judges the payload of the packet in hand. A stream gap, an
// oversized PDU and the like are unparsed (the rule's on_unparsed
// decides); a refused request is refused (the mode then applies).
func (in *Follower) Inspect(pk *Packet) *Result {
	rule := pk.Rule
	p := in.pkt
	ins := in.insps[rule.App.Proto] // read first: the state is then set in place, not copied
	in.packetState = packetState{cond: rule.App, ins: ins, side: pk.Side, cur: proto.Stream{Side: proto.Side(pk.Side)},
		res: Result{Slot: pk.Slot}}
	r := &in.res

	if p.Fragment != packet.NotFragment {
		// The first piece of a datagram the kernel did not reassemble.
		in.unparsed(unparsedReason[rule.App.Proto], "", "ip-fragment", 0)
		in.conclude(pk, nil, r)
		return r
	}
	if p.Proto != packet.ProtoTCP {
		return in.datagram(pk, r)
	}

	st := in.stream(pk, r)
	in.st = st
	if st == nil {
		if len(p.Payload) == 0 {
			return r
		}
		in.unparsed(unparsedReason[rule.App.Proto], "", "no-stream-buffer-free", 0)
		in.conclude(pk, nil, r)
		return r
	}
	in.resume(st, pk)
	side := pk.Side
	if p.TCPFlags&packet.TCPAck != 0 {
		st.dir[1-side].ack(p.Ack)
	}
	if st.reset.active && pk.Mode == rules.ModeEnforce {
		in.resetStep(st, side, pk.B, r)
		return r
	}
	sd := &st.dir[side]
	seq := p.Seq
	if p.TCPFlags&packet.TCPSyn != 0 {
		// A new connection, unless it is the SYN that started this
		// direction again (a retransmission changes nothing). A SYN sent
		// into an established connection starts it over here but not at
		// the receiver: the direction's data is unparsed until the peer
		// answers with a SYN-ACK, which that receiver never sends.
		if !sd.synced || sd.base != p.Seq+1 {
			in.pool.sync(sd, p.Seq+1)
			in.pool.release(&st.asm[side].Buf) // nothing pending
			st.asm[side] = assembly{}
			sd.opening = p.TCPFlags&packet.TCPAck == 0
		}
		if p.TCPFlags&packet.TCPAck != 0 {
			st.dir[1-side].opening = false // the SYN it answers was accepted
		}
		seq++
	}
	in.dir = sd
	in.loadAsm(st)
	if len(p.Payload) == 0 || p.TCPFlags&packet.TCPRst != 0 {
		return r
	}
	if !sd.synced {
		sd.sync(seq) // picked up mid-stream: inspection starts here
	}
	kind, data := sd.locate(in.pool.store(sd), seq, p.Payload)
	if sd.opening {
		kind = segEarly
	}
	switch kind {
	case segOld:
		return r // passed before: the same verdict
	case segGap, segMismatch, segEarly:
		detail := "data-before-it-is-missing"
		switch kind {
		case segMismatch:
			detail = "retransmission-differs-or-unverifiable"
		case segEarly:
			detail = "data-before-the-syn-is-answered"
		}
		in.gap = true
		a := in.record(outUnparsed, ReasonStreamGap)
		a.Detail, a.Offset = detail, seq-sd.base
		if rule.OnUnparsed != rules.UnparsedAllow && pk.Mode == rules.ModeEnforce {
			// Refused: the sender retransmits, in order this time.
			in.conclude(pk, st, r)
			in.dedupRefused(sd, seq, r)
			return r
		}
		// Passed (allowed, or monitored): inspection starts over at this
		// segment as if the flow had been picked up here, a PDU being
		// gathered given up.
		in.pool.sync(sd, seq)
		data = p.Payload
		in.cur.Asm.Active = false
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
		rest = in.walk(sd.unfinished(in.pool.store(sd)), walked)
	}
	if in.skip > 0 {
		skip = in.skip
	}
	if in.lost {
		rest = 0
		in.cur.Asm.Active = false // its pieces cannot be told apart any more
	}
	in.conclude(pk, st, r)
	if r.Refused && pk.Mode == rules.ModeEnforce {
		in.pool.release(&in.large)
		in.settle(st, false)
		in.dedupRefused(sd, seq, r)
		return r
	}
	// Passed (or monitored): the receiver has these bytes now.
	sd.refSet = false
	sd.lost = in.lost
	in.pool.commit(sd, in.large, data, rest)
	in.large = 0 // the direction's now
	sd.skip = skip
	in.settle(st, true)
	return r
}

// datagram judges a UDP datagram: whole PDUs only. A protocol whose
// reassembly spans datagrams (proto.Info.Datagrams: the fragment a DNP3
// master's segments build) keeps it in the flow's stream slot; the others
// need no state between datagrams.
func (in *Follower) datagram(pk *Packet, r *Result) *Result {
	p := in.pkt
	if len(p.Payload) == 0 {
		return r
	}
	id := pk.Rule.App.Proto
	var st *Stream
	if proto.Table[id].Datagrams {
		if st = in.stream(pk, r); st != nil {
			in.st = st
			in.resume(st, pk)
			in.loadAsm(st)
		}
	}
	if rest := in.walk(nil, p.Payload); rest > 0 && in.what < outViolation {
		in.unparsed(malformedReason[id], "short", "datagram-ends-inside-a-pdu", uint32(len(p.Payload)-rest))
	}
	if in.cur.Asm.Active && !in.cur.Asm.Decided && st == nil {
		in.unparsed(unparsedReason[id], "", "no-stream-buffer-free", in.cur.Asm.At)
	}
	// The flow's stream, if any, keeps only the fragment: no line limit
	// by it, and never a TCP reset.
	in.conclude(pk, nil, r)
	in.settle(st, !r.Refused || pk.Mode != rules.ModeEnforce)
	return r
}

// Replacement is the Result.Replace of the latest packet inspected.
func (in *Follower) Replacement() []byte { return in.res.Replace }

// stream returns the flow's stream slot, taking one if it has none (or a
// stale one), or nil when the pool is exhausted.
func (in *Follower) stream(pk *Packet, r *Result) *Stream {
	if pk.Slot >= 0 {
		if st := in.pool.at(pk.Slot); st.owner == pk.Flow && st.proto == pk.Rule.App.Proto {
			return st // the packet path: the flow's own slot
		}
	}
	return in.newStream(pk, r)
}

// newStream is stream's slow path, out of line.
//
//go:noinline
func (in *Follower) newStream(pk *Packet, r *Result) *Stream {
	i, st := in.pool.stream(pk.Slot, pk.Flow, pk.Rule.App.Proto)
	if st != nil {
		r.Slot = i
	}
	return st
}

// resume starts st over when packets of its flow passed uninspected
// (passthrough, or a policy whose rule had no condition): they left its
// state behind, so inspection goes on as if the flow had been picked up
// now.
func (in *Follower) resume(st *Stream, pk *Packet) {
	if st.pkts != 0 && st.pkts+1 != pk.Packets {
		in.pool.reinit(st, pk.Flow, st.proto)
	}
	st.pkts = pk.Packets
}

// dedupRefused logs a refused segment once: its retransmissions get the
// same verdict without another line.
func (in *Follower) dedupRefused(sd *streamDir, seq uint32, r *Result) {
	if sd.refSet && sd.refused == seq {
		r.Line = LineNone
		return
	}
	sd.refused, sd.refSet = seq, true
}

// conclude turns the inspection's outcome into the packet's fate: whether
// it is refused, the requests to count, whether a line is due and, for a
// reset, the replacement packet.
func (in *Follower) conclude(pk *Packet, st *Stream, r *Result) {
	rule := pk.Rule
	r.Refused = in.what == outViolation || in.what == outUnparsed && rule.OnUnparsed != rules.UnparsedAllow
	if !r.Refused || pk.Mode != rules.ModeEnforce {
		r.Requests = in.requests
	}
	switch {
	case r.Refused:
		r.Line = LineAlways
	case in.what != outNone:
		// Accepted lines (exceptions, allowed unparsed traffic): at most
		// one per flow per window, as the flow's first line is.
		if st == nil {
			r.Line = LineFirst
		} else if st.logAt == 0 || pk.Now-st.logAt >= in.window {
			r.Line, st.logAt = LineAlways, pk.Now
		}
	}
	if r.Refused && pk.Mode == rules.ModeEnforce && st != nil && !in.gap &&
		rule.OnViolation == rules.ViolationReset {
		r.Replace, r.Reset = in.startReset(st, in.side, pk.B), true
	}
}
