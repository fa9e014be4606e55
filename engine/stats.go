package engine

import (
	"sync/atomic"

	"github.com/conduit-ot/conduit/rules"
)

// ModeVerdicts are verdicts given in one effective mode.
type ModeVerdicts struct {
	Accept    uint64 `json:"accept"`
	Drop      uint64 `json:"drop"`
	WouldDrop uint64 `json:"would_drop"` // the policy denies: dropped in enforce, passed in monitor
}

// modeCounters are a worker's verdicts by effective mode (passthrough,
// monitor, enforce), written by the worker alone.
type modeCounters [3]struct{ accept, drop, wouldDrop atomic.Uint64 }

func (m *modeCounters) count(mode rules.Mode, accept, wouldDrop bool) {
	c := &m[min(int(mode), len(m)-1)]
	if accept {
		c.accept.Add(1)
	} else {
		c.drop.Add(1)
	}
	if wouldDrop {
		c.wouldDrop.Add(1)
	}
}

// QueueStats are one queue's counters: its worker's totals and its
// verdicts by mode, indexed by rules.Mode.
type QueueStats struct {
	Counters
	ByMode [3]ModeVerdicts
}

// QueueStats returns each queue's counters, in queue order.
func (e *Engine) QueueStats() []QueueStats {
	out := make([]QueueStats, len(e.workers))
	for i, w := range e.workers {
		s := &w.stats
		q := &out[i]
		q.Counters = Counters{
			Packets: s.packets.Load(), Accepted: s.accepted.Load(), Dropped: s.dropped.Load(),
			WouldDrop: s.wouldDrop.Load(), Malformed: s.malformed.Load(), Panics: s.panics.Load(),
			Pickups: s.pickups.Load(), LinkControl: s.linkControl.Load(),
		}
		for m := range q.ByMode {
			c := &w.byMode[m]
			q.ByMode[m] = ModeVerdicts{Accept: c.accept.Load(), Drop: c.drop.Load(), WouldDrop: c.wouldDrop.Load()}
		}
	}
	return out
}
