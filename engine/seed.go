package engine

import (
	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/engine/ctnl"
	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/modes"
	"github.com/conduit-ot/conduit/rules"
)

// ReasonSeeded is the verdict reason of a session taken over from the
// kernel's connection table at start.
const ReasonSeeded = "seeded"

// SeedResult counts what Seed did with the kernel's connections.
type SeedResult struct {
	Seeded  int // established sessions the policy allows (or does not evaluate), now tracked
	Denied  int // established sessions the policy denies in enforce: left to their next packet
	Skipped int // not established, or a protocol conduit does not track by ports
}

// Seed tracks the kernel's established sessions before the first packet
// arrives, as pickup would adopt them on their next packet: a TCP session
// is judged in its original direction, or reversed when only a rule for
// the other side allows it, and one neither allows is judged by the
// stricter of the two modes (orient.go). The kernel balances flows over the queues by a
// hash conduit cannot reproduce, so a session is tracked in every queue's
// shard; the copies its packets never reach idle out. Each seeded session
// gets a verdict line with reason "seeded". Call it before Serve.
func (e *Engine) Seed(entries []ctnl.Entry) SeedResult {
	var res SeedResult
	act := e.store.Load()
	now := e.now()
	for _, en := range entries {
		k := conntrack.Key{Proto: en.Proto, Src: en.Src, Dst: en.Dst, SrcPort: en.SrcPort, DstPort: en.DstPort}
		switch {
		case !en.Established:
			res.Skipped++
			continue
		case en.Proto == packet.ProtoICMP || en.Proto == packet.ProtoICMPv6:
			k.DstPort = 0
		case en.Proto != packet.ProtoTCP && en.Proto != packet.ProtoUDP:
			k.SrcPort, k.DstPort = 0, 0
		}
		logged := false
		for _, w := range e.workers {
			ev, ok := w.seed(act, k, now)
			if !ok {
				res.Denied++
				break
			}
			if !logged {
				res.Seeded++
				e.emit(event{kind: evVerdict, at: now, v: ev})
				logged = true
			}
		}
	}
	return res
}

// seed tracks k in w's shard if the policy lets it run, and returns the
// verdict line to log.
func (w *Worker) seed(act *inforce.Active, k conntrack.Key, now int64) (verdictEvent, bool) {
	pol := act.Policy
	// The kernel's original direction is its first packet's, which may
	// have been mid-stream: TCP is judged both ways, and one the policy
	// allows in neither is left to the stricter mode, so that it stays
	// denied whichever side speaks next. UDP is judged as the kernel saw
	// it, as newFlow judges a datagram; the kernel tracks ICMP by its
	// requests.
	how, t := orientProven, uint8(0)
	switch k.Proto {
	case packet.ProtoTCP:
		how = orientStrict
	case packet.ProtoICMP:
		t = packet.ICMPv4EchoRequest
	case packet.ProtoICMPv6:
		t = packet.ICMPv6EchoRequest
	}
	j := w.judge(pol, k, how, t, t)
	d, orient := j.d, k
	if j.reversed {
		orient = k.Reverse()
	}
	ev := verdictEvent{pol: pol, mode: d.mode, rule: d.rule, from: d.from, to: d.to, reason: ReasonSeeded,
		proto: orient.Proto, src: orient.Src, dst: orient.Dst, sport: orient.SrcPort, dport: orient.DstPort}
	ev.withOther(j)
	if !modes.Evaluates(d.mode) {
		ev.reason = ReasonPassthrough
	}
	out := modes.Apply(d.mode, d.action == rules.ActionDeny)
	ev.accept, ev.wouldDrop = out.Accept, out.WouldDrop
	if !out.Accept {
		return ev, false
	}
	w.shard.Lock()
	defer w.shard.Unlock()
	if f, _ := w.shard.Lookup(orient, now); f != nil {
		ev.flow = f.ID
		return ev, true // already tracked
	}
	// Inserted in the orientation it was judged in, as newFlow does.
	f := w.shard.Insert(orient, now)
	// Its start was never seen, as with pickup: inspection begins mid-stream.
	// The kernel had it established: so is its eviction class (setDecision).
	f.PickedUp = true
	f.State = conntrack.StateEstablished
	w.setDecision(f, act, d)
	ev.flow = f.ID
	return ev, true
}
