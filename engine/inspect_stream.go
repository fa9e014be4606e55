package engine

import (
	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/rules"
)

// Stream slots: the per-flow inspection state a worker lends to flows
// whose rule has a protocol condition.

// settle stores the working copies when the packet passes (keep), and
// gives back the large buffers it borrowed and no longer needs.
func (w *Worker) settle(st *flowStream, keep bool) {
	in := &w.insp
	a := &in.asm
	if st != nil && *a == st.asm[in.side] && in.asmOff == 0 && in.word == st.word {
		return // unchanged (a protocol without reassembly, or a whole PDU)
	}
	var held uint16
	if st != nil {
		held = st.asm[in.side].Buf
	}
	if !keep || st == nil {
		if a.Buf != held {
			w.streams.release(&a.Buf)
		}
		return
	}
	if !a.Active || a.Decided {
		a.N = 0
		w.streams.release(&a.Buf)
	} else if in.asmOff != 0 && a.N > 0 {
		buf := w.streams.lend(a.Buf)
		copy(buf, buf[in.asmOff:in.asmOff+a.N])
	}
	st.asm[in.side], st.word = *a, in.word
}

// stream returns the inspection state of f, taking a slot for it if it
// has none (or a stale one), or nil when the pool is exhausted.
func (w *Worker) stream(f *conntrack.Flow, proto rules.AppProto) *flowStream {
	if i := markOf(f).slot(); i >= 0 {
		st := w.streams.at(i)
		if st.owner == f.ID {
			if st.proto != proto { // a reload gave the flow another protocol's rule
				w.streams.reinit(st, f.ID, proto)
			}
			return st
		}
	}
	i, st := w.streams.get(f.ID, proto)
	if st == nil {
		return nil
	}
	markOf(f).setSlot(i)
	return st
}

// releaseStream returns the slot of a flow that ended.
func (e *Engine) releaseStream(f *conntrack.Flow) {
	i := markOf(f).slot()
	if i < 0 || f.ID == 0 {
		return
	}
	e.workers[(f.ID-1)%uint64(len(e.workers))].streams.put(i)
}
