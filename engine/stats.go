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
// monitor, enforce) and outcome, one counter per combination so that a
// packet costs one increment.
type modeCounters [3][outcomes]atomic.Uint64

// Outcomes of a verdict.
const (
	outAccept          = iota // allowed
	outAcceptWouldDrop        // denied, passed (monitor)
	outDrop                   // dropped without a deny (a failure verdict)
	outDropWouldDrop          // denied, dropped (enforce)
	outcomes
)

func (m *modeCounters) count(mode rules.Mode, accept, wouldDrop bool) {
	o := outAccept
	switch {
	case accept && wouldDrop:
		o = outAcceptWouldDrop
	case !accept && wouldDrop:
		o = outDropWouldDrop
	case !accept:
		o = outDrop
	}
	m[min(int(mode), len(m)-1)][o].Add(1)
}

// QueueStats are one queue's counters: its worker's totals and its
// verdicts by mode, indexed by rules.Mode.
type QueueStats struct {
	Counters
	ByMode [3]ModeVerdicts
	// Reads are the system calls that returned packets and VerdictMessages
	// the verdicts sent: Packets/Reads is the mean batch under load.
	Reads, VerdictMessages uint64
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
			Pickups: s.pickups.Load(), LinkControl: s.linkControl.Load(), Spoofed: s.spoofed.Load(),
		}
		q.Reads, q.VerdictMessages = e.reads[i].reads.Load(), e.reads[i].verdicts.Load()
		for m := range q.ByMode {
			var c [outcomes]uint64
			for o := range c {
				c[o] = w.byMode[m][o].Load()
			}
			q.ByMode[m] = ModeVerdicts{
				Accept:    c[outAccept] + c[outAcceptWouldDrop],
				Drop:      c[outDrop] + c[outDropWouldDrop],
				WouldDrop: c[outAcceptWouldDrop] + c[outDropWouldDrop],
			}
		}
	}
	return out
}
