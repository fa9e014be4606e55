package engine

import (
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/conduit-ot/conduit/inforce"
)

// ruleCounters are one worker's counters for one rule name. Rules are
// counted by name so that counts survive reloads that move a rule.
type ruleCounters struct {
	packets, bytes, flows, requests atomic.Uint64
	wouldDrop                       atomic.Uint64 // packets the rule refused (dropped in enforce, passed in monitor)
	lastWouldDrop                   atomic.Int64  // clock ns of the last refused packet; 0: never
	first, last                     atomic.Int64  // clock ns; 0: never
	cov                             ruleCoverage  // what the rule carried (coverage.go)
}

func (c *ruleCounters) hit(now int64, bytes int) {
	c.packets.Add(1)
	c.bytes.Add(uint64(bytes))
	c.last.Store(now)
	if c.first.Load() == 0 {
		c.first.CompareAndSwap(0, now)
	}
}

// hitTable is a worker's counters: by name for readers, by rule index of
// the generation in force for the packet path.
type hitTable struct {
	mu     sync.Mutex // guards byName; the packet path takes it only on a generation change
	byName map[string]*ruleCounters
	gen    uint64
	index  []*ruleCounters // rule index → counters; last is "default"
}

// named returns the counters of rule name, creating them; h.mu is held.
// Counters are kept by name so that they survive reloads and restarts.
func (h *hitTable) named(name string) *ruleCounters { return entry(&h.byName, name) }

// entry returns (*m)[k], making the map and the value if need be: the
// counters kept by name.
func entry[K comparable, V any](m *map[K]*V, k K) *V {
	if *m == nil {
		*m = make(map[K]*V)
	}
	v := (*m)[k]
	if v == nil {
		v = new(V)
		(*m)[k] = v
	}
	return v
}

// forGen returns the index for act, rebuilding it after a policy swap.
func (h *hitTable) forGen(act *inforce.Active) []*ruleCounters {
	if h.gen == act.Generation && h.index != nil {
		return h.index
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	pol := act.Policy
	idx := make([]*ruleCounters, len(pol.Rules)+1)
	for i := range idx {
		idx[i] = h.named(pol.RuleName(i))
	}
	h.index, h.gen = idx, act.Generation
	return idx
}

// addKernel counts packets the kernel forwarded for an offloaded flow of
// rule name (the sweep's goroutine).
func (h *hitTable) addKernel(name string, packets, bytes uint64, now int64) {
	h.mu.Lock()
	c := h.named(name)
	h.mu.Unlock()
	c.packets.Add(packets)
	c.bytes.Add(bytes)
	c.last.Store(now)
	if c.first.Load() == 0 {
		c.first.CompareAndSwap(0, now)
	}
}

// RuleHits is one rule's counters, the JSON shape of PRODUCT.md shared by
// hits, status and replay.
type RuleHits struct {
	Name    string `json:"name"`
	Index   int    `json:"index"` // position in the policy in force; -1 for a rule no longer in it
	Action  string `json:"action"`
	Cleanup bool   `json:"cleanup"`
	// Conduit is the zone pair ("from -> to") of a cleanup rule scoped to
	// one conduit; "" for the global one and for other rules.
	Conduit  string `json:"conduit,omitempty"`
	Packets  uint64 `json:"packets"`
	Bytes    uint64 `json:"bytes"`
	Flows    uint64 `json:"flows"`
	Requests uint64 `json:"requests"`
	// WouldDrop counts the packets the rule refused: all of a deny rule's,
	// and those of an allow rule whose protocol condition refused them.
	WouldDrop uint64     `json:"would_drop"`
	FirstHit  *time.Time `json:"first_hit"`
	LastHit   *time.Time `json:"last_hit"`
	// LastWouldDrop is when the rule last refused a packet (ready's
	// window); absent while it never has.
	LastWouldDrop *time.Time `json:"last_would_drop,omitempty"`
}

// refused counts a packet the rule refused.
func (c *ruleCounters) refused(now int64) {
	c.wouldDrop.Add(1)
	c.lastWouldDrop.Store(now)
}

// Hits sums the workers' counters for every rule of the policy in force,
// in policy order with "default" last, followed by rules that have counts
// but are no longer in the policy.
func (e *Engine) Hits() []RuleHits {
	pol := e.store.Load().Policy
	sum := map[string]*RuleHits{}
	tables := make([]*hitTable, 0, len(e.workers)+1)
	for _, w := range e.workers {
		tables = append(tables, &w.hits)
	}
	tables = append(tables, &e.kernel.hits)
	for _, h := range tables {
		h.mu.Lock()
		for name, c := range h.byName {
			r := sum[name]
			if r == nil {
				r = &RuleHits{Name: name, Index: -1}
				sum[name] = r
			}
			r.Packets += c.packets.Load()
			r.Bytes += c.bytes.Load()
			r.Flows += c.flows.Load()
			r.Requests += c.requests.Load()
			r.WouldDrop += c.wouldDrop.Load()
			r.FirstHit = minTime(r.FirstHit, c.first.Load())
			r.LastHit = maxTime(r.LastHit, c.last.Load())
			r.LastWouldDrop = maxTime(r.LastWouldDrop, c.lastWouldDrop.Load())
		}
		h.mu.Unlock()
	}
	// The kernel pre-filter's drops count as the rule's refused packets.
	if kc, ok, err := e.KernelCounts(); ok && err == nil {
		for name, k := range kc.Dropped {
			r := sum[name]
			if r == nil {
				r = &RuleHits{Name: name, Index: -1}
				sum[name] = r
			}
			r.Packets += k.Packets
			r.Bytes += k.Bytes
			r.WouldDrop += k.Packets
		}
	}
	out := make([]RuleHits, 0, len(pol.Rules)+1+len(sum))
	for i := 0; i <= len(pol.Rules); i++ {
		name := pol.RuleName(i)
		r := RuleHits{Name: name}
		if s := sum[name]; s != nil {
			r = *s
			delete(sum, name)
		}
		r.Index = i
		r.Action = pol.ActionOf(i).String()
		r.Cleanup = i < len(pol.Rules) && pol.Rules[i].Cleanup
		if r.Cleanup {
			r.Conduit = pol.Rules[i].CleanupConduit()
		}
		out = append(out, r)
	}
	rest := make([]RuleHits, 0, len(sum))
	for _, r := range sum {
		rest = append(rest, *r)
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].Name < rest[j].Name })
	return append(out, rest...)
}

// minTime and maxTime fold the clock ns (0: none) into t, the earliest
// or the latest so far (nil: none).
func minTime(t *time.Time, ns int64) *time.Time { return foldTime(t, ns, time.Time.Before) }
func maxTime(t *time.Time, ns int64) *time.Time { return foldTime(t, ns, time.Time.After) }

func foldTime(t *time.Time, ns int64, better func(v, than time.Time) bool) *time.Time {
	if ns == 0 {
		return t
	}
	v := time.Unix(0, ns).UTC()
	if t == nil || better(v, *t) {
		return &v
	}
	return t
}
