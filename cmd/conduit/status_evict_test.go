package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestPrintStatusEvictionsByClass: the text status lists evictions by class,
// in eviction order, once there are any.
func TestPrintStatusEvictionsByClass(t *testing.T) {
	text := func(ct conntrackStatus) string {
		var b bytes.Buffer
		printStatus(&b, &statusReport{Conntrack: ct})
		return b.String()
	}
	none := text(conntrackStatus{Capacity: 64, EvictionsByClass: map[string]uint64{}})
	wantContains(t, "status text without evictions", none, "0 evictions")
	if strings.Contains(none, "evicted by class") {
		t.Errorf("status text without evictions lists them by class:\n%s", none)
	}
	some := text(conntrackStatus{Capacity: 64, Entries: 64, Evictions: 290,
		EvictionsByClass: map[string]uint64{"denied": 200, "closing": 87, "established": 3}})
	wantContains(t, "status text with evictions", some, "evicted by class: denied 200, handshake 0, closing 87, unanswered 0, established 3")
}
