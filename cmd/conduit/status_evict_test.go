package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestPrintStatusEvictionsByClass: the text status lists evictions by class,
// in eviction order, once there are any.
func TestPrintStatusEvictionsByClass(t *testing.T) {
	for _, tt := range []struct {
		name  string
		ct    conntrackStatus
		want  string
		avoid string
	}{
		{"none", conntrackStatus{Capacity: 64, EvictionsByClass: map[string]uint64{}}, "0 evictions", "evicted by class"},
		{"some", conntrackStatus{Capacity: 64, Entries: 64, Evictions: 290,
			EvictionsByClass: map[string]uint64{"denied": 200, "closing": 87, "established": 3}},
			"evicted by class: denied 200, handshake 0, closing 87, unanswered 0, established 3", ""},
	} {
		var b bytes.Buffer
		printStatus(&b, &statusReport{Conntrack: tt.ct})
		out := b.String()
		if !strings.Contains(out, tt.want) || tt.avoid != "" && strings.Contains(out, tt.avoid) {
			t.Errorf("%s: status text lacks %q (or has %q):\n%s", tt.name, tt.want, tt.avoid, out)
		}
	}
}
