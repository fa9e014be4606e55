package learn

import (
	"cmp"
	"slices"
	"time"

	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/rules"
)

// Advice is one rule whose flows fall silent for longer than the rule lets
// them: the connection table would forget those sessions mid-conversation.
type Advice struct {
	Rule     string        `json:"rule"`
	Index    int           `json:"index"`
	Timeout  time.Duration `json:"timeout_ns"`
	Source   string        `json:"source"` // "idle_timeout" or "conntrack.timeouts.<state>"
	Gap      time.Duration `json:"gap_ns"` // the largest gap seen on the rule's flows
	Flow     string        `json:"flow"`   // the flow with that gap
	Services int           `json:"services"`
	Suggest  time.Duration `json:"suggest_ns"` // gap × margin, rounded up
}

// Timeouts lists the allow rules of pol whose effective idle timeout is
// not longer than a gap seen on their flows (a flow idle for exactly its
// timeout expires). A service is matched as the engine matches a new flow:
// in its request direction, or reversed when only that is allowed (the
// engine adopts a mid-stream TCP reply that way). ICMP flows keep the
// table's ICMP timeout whatever the rule says, and are judged by it.
func Timeouts(m *Matrix, pol *rules.Policy, margin float64) []Advice {
	if margin <= 0 {
		margin = 3
	}
	byRule := map[int]*Advice{}
	var q rules.Query
	for _, s := range m.Services() {
		i, ok := matchAllow(pol, s, &q)
		if !ok || s.MaxGap <= 0 {
			continue
		}
		timeout, source := effectiveTimeout(pol, i, s.Proto)
		gap := time.Duration(s.MaxGap)
		if gap < timeout {
			continue
		}
		a := byRule[i]
		if a == nil {
			a = &Advice{Rule: pol.RuleName(i), Index: i, Timeout: timeout, Source: source}
			byRule[i] = a
		}
		a.Services++
		if gap > a.Gap {
			a.Gap, a.Flow = gap, packet.ProtoName(s.Proto)+" "+flowText(s)
			a.Suggest = roundUp(time.Duration(float64(gap) * margin))
		}
	}
	out := make([]Advice, 0, len(byRule))
	for _, a := range byRule {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b Advice) int { return cmp.Compare(a.Index, b.Index) })
	return out
}

// matchAllow returns the allow rule (or allowing default) that decides s.
func matchAllow(pol *rules.Policy, s *Service, q *rules.Query) (int, bool) {
	*q = rules.Query{Src: s.Client, Dst: s.Server, Proto: s.Proto}
	switch s.Proto {
	case packet.ProtoTCP, packet.ProtoUDP:
		q.SrcPort, q.DstPort = s.MaxGapClientPort, s.Port
	case packet.ProtoICMP, packet.ProtoICMPv6:
		q.ICMPType = uint8(s.Port)
	}
	pol.SetZones(q)
	i := pol.Match(q)
	if pol.ActionOf(i) == rules.ActionAllow {
		return i, true
	}
	if s.Proto != packet.ProtoTCP {
		return 0, false
	}
	q.Src, q.Dst, q.SrcPort, q.DstPort = q.Dst, q.Src, q.DstPort, q.SrcPort
	pol.SetZones(q)
	i = pol.Match(q)
	return i, pol.ActionOf(i) == rules.ActionAllow
}

// effectiveTimeout is how long a flow of rule i may idle once established.
func effectiveTimeout(pol *rules.Policy, i int, proto uint8) (time.Duration, string) {
	t := pol.Conntrack.Timeouts
	var idle time.Duration
	if i < len(pol.Rules) {
		idle = pol.Rules[i].IdleTimeout
	}
	switch proto {
	case packet.ProtoICMP, packet.ProtoICMPv6:
		return t.ICMP, "conntrack.timeouts.icmp"
	}
	if idle > 0 {
		return idle, "idle_timeout"
	}
	switch proto {
	case packet.ProtoTCP:
		return t.TCPEstablished, "conntrack.timeouts.tcp_established"
	case packet.ProtoUDP:
		return t.UDP, "conntrack.timeouts.udp"
	}
	return t.Other, "conntrack.timeouts.other"
}
