package inspect

import (
	"errors"
	"fmt"

	"github.com/conduit-ot/conduit/rules"
)

// Stream slots: the per-flow inspection state a worker lends to flows
// whose rule has a protocol condition. The engine keeps a flow's slot
// index (Packet.Slot, Result.Slot) in the flow's mark.

// stream returns the slot i (-1: none) if it still belongs to flow
// owner, else takes a fresh one; nil when the pool is exhausted.
func (p *pool) stream(i int32, owner uint64, proto rules.AppProto) (int32, *Stream) {
	if i >= 0 {
		st := p.at(i)
		if st.owner == owner {
			if st.proto != proto { // a reload gave the flow another protocol's rule
				p.reinit(st, owner, proto)
			}
			return i, st
		}
	}
	return p.get(owner, proto)
}

// Release returns the slot i of a flow that ended; any goroutine may call
// it.
func (in *Follower) Release(i int32) { in.pool.put(i) }

// Abort gives back what the packet in hand borrowed when its inspection
// did not finish (a panic in an inspector or the observer), and returns
// the flow's stream slot: one the packet took is the flow's although
// Inspect never said so. The stream keeps its state of before the packet.
func (in *Follower) Abort() (slot int32) {
	in.pool.release(&in.large)
	var held uint16
	if in.st != nil {
		held = in.st.asm[in.side].Buf
	}
	if in.cur.Asm.Buf != held {
		in.pool.release(&in.cur.Asm.Buf)
	}
	return in.res.Slot
}

// Slots reports the slots taken so far, those free for reuse, and the
// large buffers lent to no one (for tests).
func (in *Follower) Slots() (used, free, spare int) {
	p := &in.pool
	p.mu.Lock()
	defer p.mu.Unlock()
	return int(p.used), len(p.free), len(p.spare)
}

// Check verifies the follower's large buffers (for tests and fuzzing):
// each one is spare or held by exactly one slot, and no live direction or
// reassembly holds one it does not need or outgrows its bounds.
func (in *Follower) Check() error {
	p := &in.pool
	var errs []error
	seen := make([]int, len(p.large)+1)
	for _, r := range p.spare {
		seen[r]++
	}
	for i := int32(0); i < p.used; i++ {
		st := p.at(i)
		for k := range st.dir {
			d, a := &st.dir[k], &st.asm[k]
			seen[d.large]++
			seen[a.Buf]++
			if d.large != 0 && d.part <= StreamBuf {
				errs = append(errs, fmt.Errorf("slot %d side %d holds a large buffer for %d unfinished bytes", i, k, d.part))
			}
			if a.Buf != 0 && (!a.Active || a.Decided) {
				errs = append(errs, fmt.Errorf("slot %d side %d holds a large buffer for no reassembly", i, k))
			}
			limit := StreamBuf
			if d.large != 0 {
				limit = PDUMax
			}
			if d.n < 0 || d.n > limit || d.part < 0 || d.part > d.n || a.N > asmMax {
				errs = append(errs, fmt.Errorf("slot %d side %d out of bounds: n %d part %d asm %d", i, k, d.n, d.part, a.N))
			}
		}
	}
	for r := 1; r < len(seen); r++ {
		if seen[r] != 1 {
			errs = append(errs, fmt.Errorf("large buffer %d is spare or held %d times", r, seen[r]))
		}
	}
	return errors.Join(errs...)
}
