package replay

import (
	"time"

	"github.com/conduit-ot/conduit/engine"
)

// hitSpans turns the engine's hit times, stamped on the engine's clock,
// into the earliest and latest capture time at which each rule was hit.
//
// The engine keeps a rule's first hit and its latest. Within one era the
// engine's order is the captures' own, so those map back exactly; across
// eras it is not (a capture dated earlier may be replayed later), so the
// hit times are read at the end of every era: the latest hit of each era
// bounds last_hit exactly. first_hit is the earliest of the rule's first
// hit in replay order and those latest hits: exact unless a capture dated
// before the one that hit the rule first hit it more than once, when it is
// that capture's latest hit of the rule (the engine does not keep a rule's
// first hit per era).
type hitSpans struct {
	packets map[string]uint64 // per rule, at the end of the last era read
	spans   map[string]span
}

// span is the earliest and latest capture time in ns (0: none).
type span struct{ first, last int64 }

func (s span) with(t int64) span {
	if s.first == 0 || t < s.first {
		s.first = t
	}
	if t > s.last {
		s.last = t
	}
	return s
}

// fold adds the era that ends with the engine's counters hits.
func (h *hitSpans) fold(hits []engine.RuleHits, c *clock) {
	if h.packets == nil {
		h.packets = map[string]uint64{}
		h.spans = map[string]span{}
	}
	for _, r := range hits {
		before := h.packets[r.Name]
		if r.Packets == before || r.LastHit == nil {
			continue
		}
		s := h.spans[r.Name].with(c.own(r.LastHit.UnixNano()))
		if before == 0 && r.FirstHit != nil {
			s = s.with(c.own(r.FirstHit.UnixNano()))
		}
		h.spans[r.Name], h.packets[r.Name] = s, r.Packets
	}
}

// report returns hits with first_hit and last_hit in capture time, counting
// the era in progress without ending it.
func (h *hitSpans) report(hits []engine.RuleHits, c *clock) []engine.RuleHits {
	cur := hitSpans{packets: map[string]uint64{}, spans: map[string]span{}}
	for k, v := range h.packets {
		cur.packets[k] = v
	}
	for k, v := range h.spans {
		cur.spans[k] = v
	}
	cur.fold(hits, c)
	for i := range hits {
		s, ok := cur.spans[hits[i].Name]
		if !ok {
			hits[i].FirstHit, hits[i].LastHit = nil, nil
			continue
		}
		first, last := time.Unix(0, s.first).UTC(), time.Unix(0, s.last).UTC()
		hits[i].FirstHit, hits[i].LastHit = &first, &last
	}
	return hits
}
