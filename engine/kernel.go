package engine

import (
	"sync"

	"github.com/conduit-ot/conduit/engine/packet"
)

// ReasonKernelDeny is the reason of a verdict line for a packet the
// kernel pre-filter dropped before the queue (engine/nft): no allow rule
// could match it.
const ReasonKernelDeny = "kernel-deny"

// KernelCounter is one kernel counter.
type KernelCounter struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// KernelCounts are what the kernel's table counted: the pre-filter's
// drops by rule name, and the packets accepted without a verdict from
// conduit (queue full with the fail-open flag, or no reader with bypass).
type KernelCounts struct {
	Dropped  map[string]KernelCounter
	Unjudged KernelCounter
	// Layer2 are the bridge table's frames by EtherType and verdict
	// (layer2.go), sorted; nil without the table.
	Layer2 []Layer2Count
}

// kernelSide is the kernel's share of the counters.
type kernelSide struct {
	mu   sync.Mutex
	read func() (KernelCounts, error)
	hits hitTable // first and last kernel-deny per rule, from the NFLOG reader
	pkt  packet.Parsed
}

// SetKernelCounts tells the engine how to read the kernel's counters;
// Hits then adds the drops to each rule's packets, bytes and would_drop.
func (e *Engine) SetKernelCounts(read func() (KernelCounts, error)) {
	e.kernel.mu.Lock()
	e.kernel.read = read
	e.kernel.mu.Unlock()
}

// KernelCounts reads the kernel's counters; ok is false without a reader.
func (e *Engine) KernelCounts() (KernelCounts, bool, error) {
	e.kernel.mu.Lock()
	read := e.kernel.read
	e.kernel.mu.Unlock()
	if read == nil {
		return KernelCounts{}, false, nil
	}
	c, err := read()
	return c, true, err
}

// KernelDenied reports a packet the kernel pre-filter dropped, charged to
// the rule named rule (a deny rule or "default"), as its NFLOG message
// told: the same verdict line as a drop in the engine, reason
// kernel-deny, under the same per-source limit. pkt is the packet's start
// (its IP and transport headers). One goroutine calls it.
func (e *Engine) KernelDenied(rule string, pkt []byte) {
	act := e.store.Load()
	pol := act.Policy
	now := e.now()
	p := &e.kernel.pkt
	if p.Decode(pkt) != packet.ReasonOK && !p.Src.IsValid() {
		return
	}
	idx := int32(-1)
	for i := 0; i <= len(pol.Rules); i++ {
		if pol.RuleName(i) == rule {
			idx = int32(i)
			break
		}
	}
	if idx >= 0 {
		// Packets and bytes come from the kernel's counters; the log
		// gives the times.
		c := e.kernel.hits.forGen(act)[idx]
		c.last.Store(now)
		if c.first.Load() == 0 {
			c.first.CompareAndSwap(0, now)
		}
	}
	from, to := pol.Zone(p.Src), pol.Zone(p.Dst)
	v := verdictEvent{pol: pol, mode: pol.ModeFor(from, to), accept: false, wouldDrop: true, rule: idx,
		from: from, to: to, proto: p.Proto, src: p.Src, dst: p.Dst, sport: p.SrcPort, dport: p.DstPort,
		reason: ReasonKernelDeny}
	if p.Proto == packet.ProtoICMP || p.Proto == packet.ProtoICMPv6 {
		v.sport, v.dport = 0, 0
		v.icmpType, v.hasICMPType = p.ICMPType, true
	}
	e.emit(event{kind: evVerdict, at: now, v: v})
}
