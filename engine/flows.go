package engine

import (
	"net/netip"
	"time"

	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/rules"
)

// FlowInfo is one tracked flow as the operator sees it, in its request
// direction (a flow picked up from a reply is shown the way round the rule
// allowed it).
type FlowInfo struct {
	ID           uint64     `json:"id"`
	Proto        string     `json:"proto"`
	Src          netip.Addr `json:"src"`
	Sport        uint16     `json:"sport"`
	Dst          netip.Addr `json:"dst"`
	Dport        uint16     `json:"dport"`
	FromZone     string     `json:"from_zone"`
	ToZone       string     `json:"to_zone"`
	Rule         string     `json:"rule"` // "" in passthrough, or when decided by an older generation
	Mode         string     `json:"mode"`
	Allowed      bool       `json:"allowed"`
	PickedUp     bool       `json:"picked_up"`
	Generation   uint64     `json:"generation"` // of the policy that decided it
	State        string     `json:"state"`
	Class        string     `json:"class"` // eviction class: a full table evicts denied, handshake, closing, unanswered, then established
	Created      time.Time  `json:"created"`
	LastSeen     time.Time  `json:"last_seen"`
	IdleS        float64    `json:"idle_s"`
	MaxGapS      float64    `json:"max_gap_s"` // the largest silence seen so far
	TimeoutS     float64    `json:"timeout_s"` // idle time after which it ends
	PacketsOrig  uint64     `json:"packets_orig"`
	PacketsReply uint64     `json:"packets_reply"`
	BytesOrig    uint64     `json:"bytes_orig"`
	BytesReply   uint64     `json:"bytes_reply"`
	// Offloaded: the kernel passes the flow's established packets on the
	// fast path; its counters come from the kernel's accounting.
	Offloaded bool `json:"offloaded"`
}

// Flows calls fn for each tracked flow until it returns false. Flows are
// copied out in batches, so fn may be slow without stalling the packet
// path; the picture is not atomic.
func (e *Engine) Flows(fn func(FlowInfo) bool) {
	act := e.store.Load()
	pol := act.Policy
	now := e.now()
	to := e.ct.Timeouts()
	e.ct.Snapshot(func(f conntrack.Flow) bool {
		return fn(flowInfo(&f, act.Generation, pol, now, &to))
	})
}

func flowInfo(f *conntrack.Flow, gen uint64, pol *rules.Policy, now int64, to *conntrack.Timeouts) FlowInfo {
	k := f.Key
	orig, reply := conntrack.DirOriginal, conntrack.DirReply
	if markOf(f).reversed() {
		k = k.Reverse()
		orig, reply = reply, orig
	}
	fi := FlowInfo{
		ID: f.ID, Proto: packet.ProtoName(k.Proto),
		Src: k.Src, Sport: k.SrcPort, Dst: k.Dst, Dport: k.DstPort,
		FromZone: pol.ZoneName(pol.Zone(k.Src)), ToZone: pol.ZoneName(pol.Zone(k.Dst)),
		Mode:    markOf(f).mode().String(),
		Allowed: f.Allowed, PickedUp: f.PickedUp, Generation: f.Generation,
		State: f.State.String(), Class: f.Class().String(),
		Created: time.Unix(0, f.Created).UTC(), LastSeen: time.Unix(0, f.LastSeen).UTC(),
		IdleS: f.Idle(now).Seconds(), MaxGapS: time.Duration(f.MaxGap).Seconds(),
		TimeoutS:    f.Timeout(to).Seconds(),
		PacketsOrig: f.Packets[orig], PacketsReply: f.Packets[reply],
		BytesOrig: f.Bytes[orig], BytesReply: f.Bytes[reply],
		Offloaded: markOf(f).offloaded(),
	}
	if f.Rule >= 0 && f.Generation == gen {
		fi.Rule = pol.RuleName(int(f.Rule))
	}
	return fi
}
