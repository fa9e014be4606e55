package engine

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/rules"
)

// pairCounters are one worker's counters for one zone pair (a conduit,
// from the zone of the flow's requester to the zone of its responder).
// They are touched per flow decision and per refused packet only, never
// for an allowed packet of a tracked flow, so the fast path pays nothing.
type pairCounters struct {
	flows, deniedFlows, wouldDrop atomic.Uint64
}

// pairKey names a zone pair by zone names, so that counts survive reloads
// that renumber zones.
type pairKey struct{ from, to string }

// pairTable is a worker's zone-pair counters: by name for readers, by
// zone IDs of the generation in force for the packet path.
type pairTable struct {
	mu     sync.Mutex // guards byName; the packet path takes it only for a pair new to the generation
	byName map[pairKey]*pairCounters
	pol    *rules.Policy                     // whose zone IDs index holds
	index  map[[2]rules.ZoneID]*pairCounters // the worker's own
	// last is the pair get returned last, and flow the tracked flow
	// flowPair did: refused packets come in runs of one pair, or of one
	// flow (a denied flow monitor passes).
	last struct {
		pol      *rules.Policy
		from, to rules.ZoneID
		c        *pairCounters
	}
	flow struct {
		pol      *rules.Policy
		id       uint64
		reversed bool // a reevaluation may turn a picked-up flow round
		c        *pairCounters
	}
}

// get returns the counters of from → to under pol. It allocates only the
// first time a policy meets a pair.
func (t *pairTable) get(pol *rules.Policy, from, to rules.ZoneID) *pairCounters {
	if l := &t.last; l.pol == pol && l.from == from && l.to == to {
		return l.c
	}
	c := t.lookup(pol, from, to)
	t.last.pol, t.last.from, t.last.to, t.last.c = pol, from, to, c
	return c
}

func (t *pairTable) lookup(pol *rules.Policy, from, to rules.ZoneID) *pairCounters {
	if t.index == nil {
		t.index = make(map[[2]rules.ZoneID]*pairCounters)
	}
	if t.pol != pol {
		clear(t.index) // zone IDs are the old policy's
		t.pol = pol
	}
	id := [2]rules.ZoneID{from, to}
	if c := t.index[id]; c != nil {
		return c
	}
	k := pairKey{pol.ZoneName(from), pol.ZoneName(to)}
	t.mu.Lock()
	c := entry(&t.byName, k)
	t.mu.Unlock()
	t.index[id] = c
	return c
}

// flowPair returns the counters of a tracked flow's zone pair, in the
// flow's request direction.
func (w *Worker) flowPair(pol *rules.Policy, f *conntrack.Flow) *pairCounters {
	t := &w.pairs
	reversed := markOf(f).reversed()
	if l := &t.flow; l.pol == pol && l.id == f.ID && l.reversed == reversed {
		return l.c
	}
	src, dst := f.Key.Src, f.Key.Dst
	if reversed {
		src, dst = dst, src
	}
	c := t.get(pol, pol.Zone(src), pol.Zone(dst))
	t.flow.pol, t.flow.id, t.flow.reversed, t.flow.c = pol, f.ID, reversed, c
	return c
}

// ConduitStats are the counters of one zone pair, summed over the
// workers; the JSON shape of status's zone_pairs.
type ConduitStats struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Flows are the flows decided between the pair (again after a reload
	// that changed a flow's decision), DeniedFlows those the policy
	// denied (dropped in enforce, passed in monitor).
	Flows       uint64 `json:"flows"`
	DeniedFlows uint64 `json:"denied_flows"`
	// WouldDrop counts the packets the policy refused between the pair,
	// as the would_drop verdict counters do: denied flows' packets,
	// requests a protocol condition refused, malformed and forged
	// packets.
	WouldDrop uint64 `json:"would_drop"`
	// KernelDropped counts the kernel pre-filter's drops charged to deny
	// rules that name exactly one zone on each side; drops charged to
	// other rules (and the default) have no single pair and stay in the
	// per-rule counters only.
	KernelDropped uint64 `json:"kernel_dropped"`
}

// Conduits sums the workers' zone-pair counters and the kernel
// pre-filter's drops of single-pair rules, sorted by from, then to. Pairs
// with nothing counted are absent.
func (e *Engine) Conduits() []ConduitStats {
	sum := map[pairKey]*ConduitStats{}
	at := func(k pairKey) *ConduitStats {
		s := sum[k]
		if s == nil {
			s = &ConduitStats{From: k.from, To: k.to}
			sum[k] = s
		}
		return s
	}
	for _, w := range e.workers {
		t := &w.pairs
		t.mu.Lock()
		for k, c := range t.byName {
			s := at(k)
			s.Flows += c.flows.Load()
			s.DeniedFlows += c.deniedFlows.Load()
			s.WouldDrop += c.wouldDrop.Load()
		}
		t.mu.Unlock()
	}
	if kc, ok, err := e.KernelCounts(); ok && err == nil && len(kc.Dropped) > 0 {
		pol := e.store.Load().Policy
		for i := range pol.Rules {
			d, ok := kc.Dropped[pol.RuleName(i)]
			if !ok || d.Packets == 0 {
				continue
			}
			if from, to, ok := singlePair(&pol.Rules[i]); ok {
				at(pairKey{pol.ZoneName(from), pol.ZoneName(to)}).KernelDropped += d.Packets
			}
		}
	}
	out := make([]ConduitStats, 0, len(sum))
	for _, s := range sum {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b ConduitStats) int { return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To)) })
	return out
}

// countFlow counts a flow decision of f's pair.
func (w *Worker) countFlow(c *pairCounters, f *conntrack.Flow) {
	c.flows.Add(1)
	if !f.Allowed {
		c.deniedFlows.Add(1)
	}
}

// singlePair reports the zone pair of a rule whose endpoints each name
// exactly one zone and nothing else: every packet it decides crosses that
// pair.
func singlePair(r *rules.Rule) (from, to rules.ZoneID, ok bool) {
	one := func(e *rules.Endpoint) (rules.ZoneID, bool) {
		if e.Any || len(e.CIDRs) > 0 || len(e.Zones) != 1 || e.Zones[0] == rules.ZoneUnknown {
			return 0, false
		}
		return e.Zones[0], true
	}
	from, okf := one(&r.From)
	to, okt := one(&r.To)
	return from, to, okf && okt
}
