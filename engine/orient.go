package engine

import (
	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/modes"
	"github.com/conduit-ot/conduit/rules"
)

// Reasons of flows whose first packet does not prove who opened them.
const (
	// ReasonPickupDenied: no rule allows the flow in either orientation;
	// the stricter of the two orientations' modes decided it.
	ReasonPickupDenied = "pickup-denied"
	// ReasonSynPayload: a SYN or SYN-ACK carrying data. It opens nothing
	// and is never adopted: dropped in enforce, tracked flow or not.
	ReasonSynPayload = "syn-payload"
)

// orientation says what the first packet seen of a flow proves about which
// side opened it, and so how the flow is judged.
type orientation uint8

const (
	// orientProven: a plain SYN, an ICMP request. Judged as it is. So is
	// UDP: a datagram carries no sign of request or reply, and adopting
	// one reversed because its source port is a rule's service port would
	// let any host of that rule's destination zone reach every UDP port of
	// its sources (source port 123 to an SNMP agent). After a restart, a
	// reply that arrives first is judged as it came; the client's next
	// request opens the flow.
	orientProven orientation = iota
	// orientStrict: a TCP packet that is not a plain SYN (mid-stream, a
	// SYN-ACK), an ICMP reply or error. Judged in both orientations and
	// adopted only in one a rule allows; otherwise the stricter mode decides,
	// so the side an enforce conduit denies cannot choose monitor by
	// speaking first.
	orientStrict
	// orientDefault: orientStrict with conntrack.pickup off. The default
	// rule decides, in the stricter of the two orientations' modes.
	orientDefault
)

// orientationOf classifies the decoded packet p, which has no flow entry.
func orientationOf(p *packet.Parsed, pickup bool) orientation {
	switch p.Proto {
	case packet.ProtoTCP:
		if p.TCPFlags&(packet.TCPSyn|packet.TCPAck|packet.TCPRst|packet.TCPFin) == packet.TCPSyn {
			return orientProven
		}
		if !pickup {
			return orientDefault
		}
		return orientStrict
	case packet.ProtoICMP, packet.ProtoICMPv6:
		if icmpRequest(p.Proto, p.ICMPType) {
			return orientProven
		}
		return orientStrict
	}
	return orientProven
}

// icmpRequest reports the ICMP types that ask for an answer, and so
// open a flow in their own direction.
func icmpRequest(proto, typ uint8) bool {
	if proto == packet.ProtoICMP {
		switch typ {
		case 8, 10, 13, 15, 17: // echo, router solicitation, timestamp, information, address mask
			return true
		}
		return false
	}
	switch typ {
	case 128, 130, 133, 135, 139: // echo, MLD query, router and neighbour solicitation, node information query
		return true
	}
	return false
}

// requestType is the ICMP type of the request a reply answers, so that
// the reversed orientation of a reply is judged as its request; other
// types are returned as they are.
func requestType(proto, typ uint8) uint8 {
	switch {
	case proto == packet.ProtoICMP && (typ == 0 || typ == 14 || typ == 16 || typ == 18):
		if typ == 0 {
			return 8
		}
		return typ - 1 // timestamp, information, address mask replies
	case proto == packet.ProtoICMPv6 && (typ == 129 || typ == 140):
		return typ - 1 // echo reply, node information response
	}
	return typ
}

// judgment is the decision on a flow judged by judge.
type judgment struct {
	d        decision // the decision taken
	other    decision // the other orientation's, when judged
	judged   bool     // the other orientation was evaluated
	reversed bool     // d is for the reverse of the key judged
}

// judge decides the flow whose packet (or kernel entry) has key k, as how
// says. t is the ICMP type to judge k with, rt the reverse orientation's.
// A rule written for an orientation is preferred to the catch-all (cleanup
// rule or default allow) of the other; passthrough allows by no rule.
func (w *Worker) judge(pol *rules.Policy, k conntrack.Key, how orientation, t, rt uint8) judgment {
	j := judgment{d: w.evaluate(pol, k, t)}
	if how == orientProven || (how != orientDefault && specific(pol, j.d)) {
		return j
	}
	j.other, j.judged = w.evaluate(pol, k.Reverse(), rt), true
	if how == orientDefault {
		j.d, j.other = byDefault(pol, j.d), byDefault(pol, j.other)
	}
	flip := false
	switch {
	case specific(pol, j.d):
	case specific(pol, j.other):
		flip = true
	case ruleAllows(j.d):
	case ruleAllows(j.other):
		flip = true
	default:
		flip = stricter(j.other.mode, j.d.mode)
	}
	if flip {
		j.d, j.other, j.reversed = j.other, j.d, true
	}
	return j
}

// ruleAllows reports an allow by a rule (the default counts), not by a
// mode that evaluates nothing.
func ruleAllows(d decision) bool { return d.rule >= 0 && d.action == rules.ActionAllow }

// specific reports an allow by a rule written for the flow: not the
// catch-all.
func specific(pol *rules.Policy, d decision) bool { return ruleAllows(d) && !catchAll(pol, d) }

// byDefault is d decided by the default rule, where its mode evaluates.
func byDefault(pol *rules.Policy, d decision) decision {
	if modes.Evaluates(d.mode) {
		n := len(pol.Rules)
		d.rule, d.action, d.log = int32(n), pol.ActionOf(n), true
	}
	return d
}

// stricter reports whether mode a is stricter than b: enforce, then
// monitor, then passthrough.
func stricter(a, b rules.Mode) bool { return modeRank(a) > modeRank(b) }

func modeRank(m rules.Mode) int {
	switch m {
	case rules.ModeEnforce:
		return 2
	case rules.ModeMonitor:
		return 1
	}
	return 0
}

// synPayload reports a SYN or SYN-ACK that carries data.
func synPayload(p *packet.Parsed) bool {
	return p.Proto == packet.ProtoTCP && p.TCPFlags&packet.TCPSyn != 0 && len(p.Payload) > 0
}

// withOther adds the other orientation of j to a verdict line.
func (v *verdictEvent) withOther(j judgment) {
	if j.judged {
		v.rev, v.revRule, v.revMode = true, j.other.rule, j.other.mode
	}
}
