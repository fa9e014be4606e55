package engine

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/engine/ctnl"
	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/modes"
	"github.com/conduit-ot/conduit/rules"
)

// The fast path: once a flow is decided for good (allowed by a rule
// without a protocol condition, both directions seen, established), its
// kernel conntrack entry gets the fast-path bit (nft.CtMarkFastpath) and the table's fast-path
// rule accepts its established packets without queueing them. conduit still
// owns the flow: the sweep reads the kernel's accounting for it (packets,
// bytes, and so its last activity, on which conduit's own idle timeouts
// run), ends it when the kernel entry is gone, and removes the kernel
// entry when conduit's idle timeout ends the flow. A reload clears every
// mark, so each flow's next packet is judged by the new policy.

// The fast path's bits of a flow's mark are in mark.go.
const (
	// maxMarkFails: an entry the kernel does not know yet (the flow's first
	// packet is still on its way) is retried on the next packets, then given up.
	maxMarkFails = 3
)

// KernelConntrack is the kernel's connection table as the fast path uses
// it; *ctnl.Conn is the real one, tests pass a fake. One goroutine uses a
// KernelConntrack at a time.
type KernelConntrack interface {
	SetMark(t ctnl.Tuple, mark, mask uint32) error
	Get(t ctnl.Tuple) (ctnl.Entry, error)
	Delete(t ctnl.Tuple) error
	DumpMarked(mask uint32) ([]ctnl.Entry, error)
	Close() error
}

// FastpathConfig enables the fast path.
type FastpathConfig struct {
	// Mark is the connection-mark bit of the fast path (nft.CtMarkFastpath;
	// the engine does not import nft, whose tests import the engine).
	Mark uint32
	// Open returns a connection to the kernel's connection table; it is
	// called once per worker and once for the sweep.
	Open func() (KernelConntrack, error)
	// Verdict marks the entry in the verdict of the packet that completes
	// the decision (NFQA_CT), instead of a ctnetlink request. Only kernels
	// built with CONFIG_NETFILTER_NETLINK_GLUE_CT honour it; the sweep
	// repairs a mark that did not take.
	Verdict bool
}

// FastpathStats are the fast path's counters.
type FastpathStats struct {
	Enabled bool   `json:"enabled"`
	Method  string `json:"method,omitempty"` // "ctnetlink" or "verdict"
	// Flows is the number of flows offloaded at the last sweep; Offloads
	// counts hand-offs since start, Cleared the marks a reload (or the
	// sweep) took back, Ended the flows ended because the kernel entry
	// was gone, Errors the kernel requests that failed.
	Flows    uint64 `json:"flows"`
	Offloads uint64 `json:"offloads"`
	Cleared  uint64 `json:"cleared"`
	Ended    uint64 `json:"ended"`
	Errors   uint64 `json:"errors"`
	// KernelPackets and KernelBytes are what the kernel's accounting
	// added to offloaded flows (packets conduit did not see).
	KernelPackets uint64 `json:"kernel_packets"`
	KernelBytes   uint64 `json:"kernel_bytes"`
}

// fastpath is the engine's side of the fast path.
type fastpath struct {
	bit uint32 // FastpathConfig.Mark
	// verdict: mark through the verdict; turned off when the kernel
	// shows it ignores NFQA_CT (verdictSeen: a verdict mark took).
	verdict      atomic.Bool
	verdictSeen  atomic.Bool
	verdictFails atomic.Uint64
	mu           sync.Mutex // the sweep's connection and baselines: Sync and Clear
	kct          KernelConntrack
	// base: the kernel's counters for each offloaded flow (by flow ID) at
	// the last sync, so that only what it counted since is added.
	base  map[uint64]kernelCounts
	ended []conntrack.Event // offloaded flows conduit ended: their entries go, then their events (onConntrack)
	endMu sync.Mutex

	flows                           atomic.Uint64
	offloads, cleared, gone, errors atomic.Uint64
	kpackets, kbytes                atomic.Uint64
	lastErr                         atomic.Int64
}

// kernelCounts are a flow's counters at a sync: the kernel's, and
// conduit's after the sync added the kernel's share.
type kernelCounts struct{ packets, bytes, seenP, seenB [2]uint64 }

// EnableFastpath opens the kernel connections and clears the marks a
// previous run may have left (they would pass flows this run does not
// know). Call it before Serve.
func (e *Engine) EnableFastpath(cfg FastpathConfig) error {
	if cfg.Mark == 0 {
		return errors.New("fast path: no connection-mark bit")
	}
	fp := &fastpath{bit: cfg.Mark, base: map[uint64]kernelCounts{}}
	fp.verdict.Store(cfg.Verdict)
	kct, err := cfg.Open()
	if err != nil {
		return err
	}
	fp.kct = kct
	conns := make([]KernelConntrack, 0, len(e.workers))
	fail := func(err error) error {
		kct.Close()
		for _, c := range conns {
			c.Close()
		}
		return err
	}
	for range e.workers {
		c, err := cfg.Open()
		if err != nil {
			return fail(err)
		}
		conns = append(conns, c)
	}
	if _, err := fp.clearAll(); err != nil {
		return fail(fmt.Errorf("clear fast-path marks of an earlier run: %w", err))
	}
	for i, w := range e.workers {
		w.fp = conns[i]
	}
	e.fp = fp
	return nil
}

// DisableFastpath undoes EnableFastpath, when the kernel will not run the
// fast-path rule after all. Call it before Serve.
func (e *Engine) DisableFastpath() {
	if e.fp == nil {
		return
	}
	e.fp.kct.Close()
	for _, w := range e.workers {
		if w.fp != nil {
			w.fp.Close()
			w.fp = nil
		}
	}
	e.fp = nil
}

// FastpathStats reports the fast path's counters.
func (e *Engine) FastpathStats() FastpathStats {
	fp := e.fp
	if fp == nil {
		return FastpathStats{}
	}
	st := FastpathStats{Enabled: true, Method: "ctnetlink", Flows: fp.flows.Load(),
		Offloads: fp.offloads.Load(), Cleared: fp.cleared.Load(), Ended: fp.gone.Load(), Errors: fp.errors.Load(),
		KernelPackets: fp.kpackets.Load(), KernelBytes: fp.kbytes.Load()}
	if fp.verdict.Load() {
		st.Method = "verdict"
	}
	return st
}

// offloadable reports whether the flow in hand may be handed to the
// kernel: allowed in a mode that evaluates, by a rule on the fast path
// (never one with a protocol condition), TCP established or UDP with
// both directions seen.
func offloadable(pol *rules.Policy, f *conntrack.Flow, mode rules.Mode) bool {
	if !f.Allowed || !modes.Evaluates(mode) || f.Rule < 0 || int(f.Rule) >= len(pol.Rules) {
		return false
	}
	if r := &pol.Rules[f.Rule]; !r.Fastpath || r.App != nil {
		return false
	}
	if f.Packets[conntrack.DirOriginal] == 0 || f.Packets[conntrack.DirReply] == 0 {
		return false
	}
	switch f.Key.Proto {
	case packet.ProtoTCP:
		return f.State == conntrack.StateEstablished
	case packet.ProtoUDP:
		return true
	}
	return false
}

func tupleOf(k conntrack.Key) ctnl.Tuple {
	return ctnl.Tuple{Proto: k.Proto, Src: k.Src, Dst: k.Dst, SrcPort: k.SrcPort, DstPort: k.DstPort}
}

// offload marks f's kernel entry, under the shard lock (once per flow).
// With the verdict method the packet's verdict carries the mark (ctMark
// true). A flow
// of a zone bound to ports or MACs stays in userspace: the kernel's entry
// does not know where a packet came in, so a forged source could ride it
// past the binding.
func (w *Worker) offload(pol *rules.Policy, f *conntrack.Flow) (ctMark bool) {
	if pol.Binding(pol.Zone(f.Key.Src)) != nil || pol.Binding(pol.Zone(f.Key.Dst)) != nil {
		*markOf(f) |= markNoOffload
		return false
	}
	if w.e.fp.verdict.Load() {
		ctMark = true
	} else if err := w.fp.SetMark(tupleOf(f.Key), w.e.fp.bit, w.e.fp.bit); err != nil {
		fails := markOf(f).failed()
		if !errors.Is(err, ctnl.ErrNoEntry) || fails >= maxMarkFails {
			*markOf(f) |= markNoOffload
			w.e.fp.failed(w.e, "fast path: the kernel entry could not be marked; the flow stays in userspace", err)
		}
		return false
	}
	*markOf(f) |= markOffloaded
	w.e.fp.offloads.Add(1)
	return ctMark
}

func (fp *fastpath) failed(e *Engine, msg string, err error) {
	fp.errors.Add(1)
	now := time.Now().UnixNano()
	if last := fp.lastErr.Load(); now-last > int64(time.Second) && fp.lastErr.CompareAndSwap(last, now) {
		e.log.Warn(msg, "event", "fastpath", "err", err.Error())
	}
}

// flowEnded hands the kernel entry of an offloaded flow that conduit ended
// (idle timeout, eviction, replacement) to the sweep, which removes it, so
// that the kernel stops passing a flow conduit no longer owns, and then
// logs the event: once flow_end is written, the flow no longer passes. It
// reports whether it took the event.
func (e *Engine) flowEnded(ev conntrack.Event) bool {
	if e.fp == nil || ev.Flow.ID == 0 || !flowMark(ev.Flow.Mark).offloaded() {
		return false
	}
	e.fp.endMu.Lock()
	e.fp.ended = append(e.fp.ended, ev)
	e.fp.endMu.Unlock()
	return true
}

// batchStart and batchEnd bracket a worker's batch of decisions: a reload
// waits for the batches in hand, which may still mark flows by the old
// policy, before it clears the marks.
func (w *Worker) batchStart() { w.epoch.Add(1) }
func (w *Worker) batchEnd()   { w.epoch.Add(1) }

// ClearFastpath takes every flow off the fast path: after a reload or mode
// switch, each offloaded flow's next packet is queued and judged by the
// policy now in force, which hands it back to the kernel if it still may.
// It returns how many marks it cleared.
func (e *Engine) ClearFastpath() (int, error) {
	if e.fp == nil {
		return 0, nil
	}
	e.removeEnded()
	// Decisions already taken under the old policy may still mark a flow:
	// wait for the batches in hand.
	deadline := time.Now().Add(2 * time.Second)
	for _, w := range e.workers {
		if v := w.epoch.Load(); v&1 == 1 {
			for w.epoch.Load() == v && time.Now().Before(deadline) {
				time.Sleep(20 * time.Microsecond)
			}
		}
	}
	return e.fp.clearAll()
}

func (fp *fastpath) clearAll() (int, error) {
	fp.mu.Lock()
	defer fp.mu.Unlock()
	ents, err := fp.kct.DumpMarked(fp.bit)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for i := range ents {
		switch err := fp.kct.SetMark(ents[i].Tuple(), 0, fp.bit); {
		case err == nil:
			n++
		case errors.Is(err, ctnl.ErrNoEntry): // gone meanwhile
		default:
			errs = append(errs, err)
		}
	}
	fp.cleared.Add(uint64(n))
	return n, errors.Join(errs...)
}

// missing is an offloaded flow whose kernel entry is no longer marked.
type missing struct {
	s  *conntrack.Shard
	k  conntrack.Key
	id uint64
}

// syncKernel brings offloaded flows up to date from the kernel's table:
// the packets and bytes it forwarded for them (and so their last activity,
// which keeps them from idling out in conduit while they run), and the end
// of those whose kernel entry is gone. Marked entries conduit no longer
// tracks are unmarked; entries of flows conduit ended are removed.
func (e *Engine) syncKernel(now int64) {
	fp := e.fp
	if fp == nil {
		return
	}
	fp.mu.Lock()
	defer fp.mu.Unlock()
	ents, err := fp.kct.DumpMarked(fp.bit)
	if err != nil {
		fp.failed(e, "fast path: reading the kernel's connection table failed", err)
		return
	}
	byKey := make(map[conntrack.Key]int, 2*len(ents))
	for i := range ents {
		k := conntrack.Key{Proto: ents[i].Proto, Src: ents[i].Src, Dst: ents[i].Dst, SrcPort: ents[i].SrcPort, DstPort: ents[i].DstPort}
		byKey[k], byKey[k.Reverse()] = i, i
	}
	matched := make([]bool, len(ents))
	var lost []missing
	var unmark []ctnl.Tuple
	act := e.store.Load()
	live := make(map[uint64]bool, len(fp.base))
	flows := 0
	e.ct.Visit(func(s *conntrack.Shard, f *conntrack.Flow) {
		if !markOf(f).offloaded() {
			return
		}
		i, ok := byKey[f.Key]
		if !ok {
			lost = append(lost, missing{s: s, k: f.Key, id: f.ID})
			return
		}
		matched[i] = true
		fp.verdictSeen.Store(true)
		en := &ents[i]
		if !en.HasCounters {
			// Without the kernel's accounting conduit would not know the
			// flow is alive: it goes back to userspace.
			*markOf(f) = *markOf(f)&^markOffloaded | markNoOffload
			unmark = append(unmark, en.Tuple())
			return
		}
		if f.Key.Proto == packet.ProtoTCP && f.State == conntrack.StateEstablished {
			// conduit saw none of the close: the kernel did.
			switch en.Closed {
			case ctnl.ClosedOne:
				f.State = conntrack.StateClosing
				s.Reclassify(f)
			case ctnl.ClosedBoth:
				f.State = conntrack.StateClosed
				s.Reclassify(f)
			}
		}
		flows++
		live[f.ID] = true
		var kc kernelCounts
		d0, d1 := conntrack.DirOriginal, conntrack.DirReply
		if en.Src != f.Key.Src || en.SrcPort != f.Key.SrcPort {
			d0, d1 = d1, d0 // the kernel saw the flow's first packet from the other side
		}
		kc.packets[d0], kc.packets[d1] = en.Packets[0], en.Packets[1]
		kc.bytes[d0], kc.bytes[d1] = en.Bytes[0], en.Bytes[1]
		// The kernel counts every packet, conduit only those it was
		// queued: what the kernel counted since the last sync, less what
		// conduit saw itself meanwhile (a packet queued before the mark,
		// or after a reload took it back), is what conduit missed. At
		// first sight both count from the flow's start.
		var addP, addB uint64
		var dP, dB [2]uint64
		b, known := fp.base[f.ID]
		for d := range 2 {
			kp, kb, sp, sb := kc.packets[d], kc.bytes[d], f.Packets[d], f.Bytes[d]
			if known {
				if kp >= b.packets[d] {
					kp, kb = kp-b.packets[d], kb-min(kb, b.bytes[d])
				} // else: a new kernel entry, counted from zero
				sp, sb = sp-min(sp, b.seenP[d]), sb-min(sb, b.seenB[d])
			}
			if kp > sp {
				f.Packets[d] += kp - sp
				addP += kp - sp
				dP[d] = kp - sp
			}
			if kb > sb {
				f.Bytes[d] += kb - sb
				addB += kb - sb
				dB[d] = kb - sb
			}
			kc.seenP[d], kc.seenB[d] = f.Packets[d], f.Bytes[d]
		}
		fp.base[f.ID] = kc
		if addP > 0 {
			s.Touch(f, now)
			fp.kpackets.Add(addP)
			fp.kbytes.Add(addB)
			if e.onKernel != nil {
				e.onKernel(f.Key, dP, dB, now)
			}
			if f.Rule >= 0 && f.Generation == act.Generation {
				e.workers[0].hits.addKernel(act.Policy.RuleName(int(f.Rule)), addP, addB, now)
			}
		}
	})
	for id := range fp.base {
		if !live[id] {
			delete(fp.base, id)
		}
	}
	fp.flows.Store(uint64(flows))
	for i := range ents {
		if !matched[i] {
			unmark = append(unmark, ents[i].Tuple()) // conduit no longer tracks it
		}
	}
	for _, t := range unmark {
		if err := fp.kct.SetMark(t, 0, fp.bit); err == nil {
			fp.cleared.Add(1)
		} else if !errors.Is(err, ctnl.ErrNoEntry) {
			fp.failed(e, "fast path: unmarking a kernel entry failed", err)
		}
	}
	for _, m := range lost {
		_, err := fp.kct.Get(tupleOf(m.k))
		if err != nil && !errors.Is(err, ctnl.ErrNoEntry) {
			fp.failed(e, "fast path: reading a kernel entry failed", err)
			continue
		}
		gone := err != nil
		if !gone && fp.verdict.Load() && !fp.verdictSeen.Load() && fp.verdictFails.Add(1) >= 3 {
			// The entry is there without the mark the verdict carried:
			// this kernel ignores NFQA_CT.
			fp.verdict.Store(false)
			e.log.Warn("fast path: the kernel ignores conntrack marks in verdicts (no CONFIG_NETFILTER_NETLINK_GLUE_CT); marking through ctnetlink",
				"event", "fastpath")
		}
		m.s.Lock()
		if f := m.s.Peek(m.k); f != nil && f.ID == m.id && markOf(f).offloaded() {
			*markOf(f) &^= markOffloaded | markFailMask
			if gone && f.Key.Proto == packet.ProtoTCP {
				// The kernel ended the session (closed, or its own
				// timeout): so does conduit, which saw none of its end.
				fp.gone.Add(1)
				m.s.RemoveReason(f, ReasonKernelClosed)
			}
			// Otherwise (UDP whose kernel entry timed out, or a mark taken
			// back): the flow's next packet is queued and hands it back.
		}
		m.s.Unlock()
	}
}

// ReasonKernelClosed ends an offloaded TCP flow whose kernel entry is gone.
const ReasonKernelClosed = "kernel-closed"

// removeEnded deletes the kernel entries of offloaded flows conduit ended,
// then logs their events.
func (e *Engine) removeEnded() {
	fp := e.fp
	if fp == nil {
		return
	}
	fp.endMu.Lock()
	ended := fp.ended
	fp.ended = nil
	fp.endMu.Unlock()
	if len(ended) == 0 {
		return
	}
	fp.mu.Lock()
	for _, ev := range ended {
		if err := fp.kct.Delete(tupleOf(ev.Flow.Key)); err != nil && !errors.Is(err, ctnl.ErrNoEntry) {
			fp.failed(e, "fast path: removing the kernel entry of an ended flow failed", err)
		}
	}
	fp.mu.Unlock()
	for _, ev := range ended {
		e.emit(event{kind: evConntrack, at: ev.At, ct: ev})
	}
}
