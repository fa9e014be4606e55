package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLearnRoundTripIEC104 learns from each IEC 104 capture: the draft's
// rule for the master carries the iec104 condition of exactly the types
// and common address it sent, the check passes, and the capture replayed
// in enforce with the draft drops nothing (roundTrip), the engine passing
// as many commands as the evidence counts.
func TestLearnRoundTripIEC104(t *testing.T) {
	dir := evCapturesDir()
	if dir == "" {
		t.Skip("real captures not found (../shared/captures; set CONDUIT_CAPTURES): skipping")
	}
	for _, tc := range []struct {
		file, cond string
		unparsed   bool // junk before the APDUs of some connections: on_unparsed allow
	}{
		{"090813_diverse.pcap", "iec104: {type_ids: [C_DC_NA_1, C_DC_TA_1, C_IC_NA_1, C_SC_NA_1, C_SC_TA_1, C_SE_NC_1, C_SE_TA_1, C_SE_TC_1], common_addresses: [3]}", false},
		{"TestDissectIec104.pcap", "iec104: {type_ids: [C_CS_NA_1, C_DC_NA_1, C_IC_NA_1, C_SC_NA_1], common_addresses: [37133]}", true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(dir, "iec104", tc.file)
			draft := filepath.Join(t.TempDir(), "draft.yaml")
			if code, _, errOut := evRun(t, runLearn, "-o", draft, path); code != 0 {
				t.Fatalf("learn: exit %d: %s", code, errOut)
			}
			y, _ := os.ReadFile(draft)
			if !strings.Contains(string(y), "    "+tc.cond+"\n") ||
				strings.Contains(string(y), "on_unparsed: allow") != tc.unparsed ||
				!strings.Contains(string(y), "iec104: the client sent process commands") {
				t.Errorf("draft lacks %q (on_unparsed allow: %v):\n%s", tc.cond, tc.unparsed, y)
			}
			if _, conds := roundTrip(t, []string{path}, []string{path}); conds != 1 {
				t.Errorf("%d rules with a condition, want 1", conds)
			}
		})
	}
}
