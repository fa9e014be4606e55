package engine

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/internal/pcaptest"
)

// iec104CaptureWant gives, per IEC 104 capture, the I frames of the
// controlling station a rule's condition {type_ids: [type]} matches when
// the capture is replayed through the engine in monitor mode, and those
// the empty condition matches (all). The counts are tshark's requests to
// port 2404 by type id (proto/iec104's capture test), less the streams
// the engine cannot walk: TestDissectIec104's first five connections put
// junk octets before their first command, which is malformed-iec104
// (bad-start) and ends the inspection of that stream, so only the sixth
// connection's commands are judged.
var iec104CaptureWant = []struct {
	file   string
	counts string
	all    uint64
}{
	{"090813_diverse.pcap", "C_IC_NA_1:1 C_SC_NA_1:2 C_DC_NA_1:2 C_SE_NC_1:4 C_SC_TA_1:2 C_DC_TA_1:4 C_SE_TA_1:2 C_SE_TC_1:2 M_ME_NC_1:0", 19},
	{"TestDissectIec104.pcap", "C_IC_NA_1:1 C_CS_NA_1:1 C_SC_NA_1:4 C_DC_NA_1:1 M_SP_NA_1:0", 7},
}

func TestIEC104CapturesThroughEngine(t *testing.T) {
	dir := pcaptest.Dir(t)
	seen := map[string]bool{}
	for _, tc := range iec104CaptureWant {
		path := filepath.Join(dir, "iec104", tc.file)
		seen[path] = true
		t.Run(tc.file, func(t *testing.T) {
			pkts := ipPackets(t, path)
			for code, want := range expandCounts(t, tc.counts) {
				cond := "iec104: {type_ids: [" + code + "]}"
				if got := replayApp(t, pkts, "tcp", "2404", cond); got != want {
					t.Errorf("%s: %d requests, want %d", cond, got, want)
				}
			}
			if got := replayApp(t, pkts, "tcp", "2404", "iec104: {}"); got != tc.all {
				t.Errorf("iec104: {}: %d requests, want %d", got, tc.all)
			}
		})
	}
	for _, f := range pcaptest.Files(t, dir, "iec104") {
		if !seen[f] {
			t.Errorf("capture %s is not in iec104CaptureWant", f)
		}
	}
}

// TestIEC104CaptureModes replays the captures with a master allowed to
// interrogate and synchronise clocks but not to command: in monitor the
// commands are would-drops and pass, in enforce the first is dropped (and
// the client's later segments are stream gaps: a capture never
// retransmits), with on_violation reset the session is reset.
func TestIEC104CaptureModes(t *testing.T) {
	dir := pcaptest.Dir(t)
	const cond = "iec104: {type_ids: [C_IC_NA_1, C_CS_NA_1]}"
	for _, tc := range []struct {
		file, mode, extra string
		lines             map[string]int // refused lines (would-drops in monitor): violations by type, other reasons
		resets            int
	}{
		// The capture starts mid-session with a segment of the
		// outstation, which no rule allows in that orientation (new-flow,
		// default); the rest is the master's session. Its sixteen commands
		// with cause act are refused: in monitor each is a would-drop.
		{"090813_diverse.pcap", "monitor", "",
			map[string]int{"new-flow": 1, "app-violation C_SC_NA_1 type_ids": 2, "app-violation C_DC_NA_1 type_ids": 2,
				"app-violation C_SE_NC_1 type_ids": 4, "app-violation C_SC_TA_1 type_ids": 2,
				"app-violation C_DC_TA_1 type_ids": 4, "app-violation C_SE_TA_1 type_ids": 2,
				"app-violation C_SE_TC_1 type_ids": 2}, 0},
		// In enforce the first command (frame 9, C_SC_TA_1) is dropped;
		// the master's 28 data segments after it are gaps.
		{"090813_diverse.pcap", "enforce", "",
			map[string]int{"new-flow": 1, "app-violation C_SC_TA_1 type_ids": 1, "stream-gap": 28}, 0},
		// With on_violation reset the session ends at the first command.
		{"090813_diverse.pcap", "enforce", ", on_violation: reset",
			map[string]int{"new-flow": 1, "app-violation C_SC_TA_1 type_ids": 1}, 1},
		// The junk before the first APDU of five connections (17 segments)
		// is malformed; the sixth connection's commands are refused.
		{"TestDissectIec104.pcap", "monitor", "",
			map[string]int{"malformed-iec104 bad-start": 17, "app-violation C_DC_NA_1 type_ids": 1,
				"app-violation C_SC_NA_1 type_ids": 4}, 0},
		// In enforce each junk connection is dropped at its first junk
		// segment and the sixth at its double command (frame 117); the
		// later segments of those clients are gaps.
		{"TestDissectIec104.pcap", "enforce", "",
			map[string]int{"malformed-iec104 bad-start": 5, "app-violation C_DC_NA_1 type_ids": 1, "stream-gap": 25}, 0},
	} {
		t.Run(tc.file+"/"+tc.mode+tc.extra, func(t *testing.T) {
			te := newAnyEngine(t, tc.mode, "tcp", "2404", cond+tc.extra)
			w := te.Worker(0)
			got := map[string]int{}
			resets := 0
			for _, p := range ipPackets(t, filepath.Join(dir, "iec104", tc.file)) {
				w.Decide(p)
				for _, v := range te.verdicts() {
					key := v.reason
					if v.reason == ReasonViolation && tc.file == "090813_diverse.pcap" && got[key+" C_SC_TA_1 type_ids"] == 0 {
						// Frame 9: the first command (after a TESTFR con and an S
						// frame: offset 12), with all its fields.
						const want = "[proto=iec104 dir=request offset=12 format=i type_id=C_SC_TA_1 type_id_code=58 " +
							"cause=act cause_code=6 common_address=3 ioa=4501 objects=1 violates=type_ids]"
						if a := fmt.Sprint(v.app.attr().Value.Group()); a != want {
							t.Errorf("violation's app object\n got %s\nwant %s", a, want)
						}
					}
					if v.reason == ReasonViolation {
						key += " " + iec104Attr(&v.app, "type_id") + " " + iec104Attr(&v.app, "violates")
					} else if strings.HasPrefix(v.reason, "malformed") {
						key += " " + iec104Attr(&v.app, "error")
					}
					if v.reset {
						resets++
					}
					if !v.accept || v.wouldDrop {
						got[key]++
					}
					if v.accept == (tc.mode == "enforce") && v.wouldDrop {
						t.Errorf("%s in %s: accept %v", key, tc.mode, v.accept)
					}
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.lines) || resets != tc.resets {
				t.Errorf("refused %v, %d reset; want %v, %d", got, resets, tc.lines, tc.resets)
			}
		})
	}
}

// iec104Attr returns one field of an app event's verdict-line object.
func iec104Attr(a *appEvent, key string) string {
	for _, at := range a.attr().Value.Group() {
		if at.Key == key {
			return at.Value.String()
		}
	}
	return ""
}
