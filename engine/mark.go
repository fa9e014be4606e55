package engine

import (
	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/modes"
)

// flowMark is what the engine keeps in a flow's Mark (conntrack.Flow.Mark):
// the effective mode and whether the decision was taken with the key
// reversed (pickup of a reply), both tied to the flow's Generation; the
// fast path's state (fastpath.go); and from bit markStreamShift up, the
// flow's stream slot plus one (0: none; engine/inspect's slots).
type flowMark uint32

const (
	markModeMask  flowMark = 0x3
	markReversed  flowMark = 0x4
	markOffloaded flowMark = 0x8  // the kernel entry carries the fast-path mark
	markNoOffload flowMark = 0x10 // the kernel cannot take it (no entry, no accounting): stays in userspace
	markFailShift          = 5    // two bits: failed attempts to mark a missing entry
	markFailMask  flowMark = 0x3 << markFailShift
	// markStreamShift: the stream slot plus one, above the engine's low bits.
	markStreamShift = 8
	markLow         = flowMark(1)<<markStreamShift - 1
)

// markOf is f's Mark as the engine reads it.
func markOf(f *conntrack.Flow) *flowMark { return (*flowMark)(&f.Mark) }

func (m flowMark) mode() modes.Mode { return modes.Mode(m & markModeMask) }
func (m flowMark) reversed() bool   { return m&markReversed != 0 }
func (m flowMark) offloaded() bool  { return m&markOffloaded != 0 }

// fastpathDone: offloaded, or known not to be offloadable.
func (m flowMark) fastpathDone() bool { return m&(markOffloaded|markNoOffload) != 0 }

// failed counts one more failed attempt to mark the kernel entry and
// returns how many there were.
func (m *flowMark) failed() uint32 {
	fails := uint32(*m&markFailMask)>>markFailShift + 1
	*m = *m&^markFailMask | flowMark(fails<<markFailShift)&markFailMask
	return fails
}

// slot is the flow's stream slot, -1 for none.
func (m flowMark) slot() int32 { return int32(m>>markStreamShift) - 1 }

func (m *flowMark) setSlot(i int32) { *m = *m&markLow | flowMark(i+1)<<markStreamShift }

// decided records a decision in mode: the fast-path state starts over, the
// orientation and the stream slot stay.
func (m *flowMark) decided(mode modes.Mode) {
	*m = *m&(markReversed|^markLow) | flowMark(mode)&markModeMask
}
