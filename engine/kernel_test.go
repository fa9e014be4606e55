package engine

import (
	"testing"
	"time"
)

// TestKernelDenied: a drop the kernel pre-filter logged becomes the same
// verdict line as an engine drop, reason kernel-deny, charged to the rule
// its prefix names, and limited per source like any denied line; the
// kernel's counters join the rule's hits.
func TestKernelDenied(t *testing.T) {
	te, buf := jsonEngine(t, pol{mode: "enforce"})
	for i := range 12 {
		te.KernelDenied("default", tcp(hist, plc, uint16(30000+i), 503, fSYN))
	}
	te.KernelDenied("no-such-rule", tcp(hmi, plc, 1, 2, fSYN)[:20]) // a truncated copy still names its addresses
	lines := drain(t, te, buf, DeniedLimit{Burst: 5, Window: 10 * time.Second})
	n, _ := count(lines, "verdict", hist)
	_, suppressed := count(lines, "suppressed", hist)
	if n != 5 || suppressed != 7 {
		t.Errorf("%d verdict lines, %d suppressed; want 5 and 7: %v", n, suppressed, lines)
	}
	var first map[string]any
	for _, l := range lines {
		if l["event"] == "verdict" && l["src"] == hist {
			first = l
			break
		}
	}
	for k, v := range map[string]any{"reason": "kernel-deny", "rule": "default", "verdict": "drop", "would": "drop",
		"mode": "enforce", "proto": "tcp", "dport": float64(503), "flow": float64(0)} {
		if first[k] != v {
			t.Errorf("%s = %v, want %v: %v", k, first[k], v, first)
		}
	}
	if n, _ := count(lines, "verdict", hmi); n != 1 {
		t.Errorf("the truncated copy: %d lines", n)
	}

	te.SetKernelCounts(func() (KernelCounts, error) {
		return KernelCounts{Dropped: map[string]KernelCounter{"default": {Packets: 12, Bytes: 480}}}, nil
	})
	for _, h := range te.Hits() {
		if h.Name == "default" && (h.Packets != 12 || h.WouldDrop != 12 || h.Bytes != 480 || h.LastHit == nil) {
			t.Errorf("default hits %+v", h)
		}
	}
}
