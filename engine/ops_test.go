package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/rules"
)

func TestQueueStatsByMode(t *testing.T) {
	te := newTestEngine(t, pol{mode: "monitor", conduits: "{from: operations, to: control, mode: enforce}"})
	w := te.Worker(0)
	w.Decide(tcp(hmi, plc, 40000, 502, fSYN))  // monitor, allowed
	w.Decide(tcp(hmi, plc, 40001, 503, fSYN))  // monitor, would drop
	w.Decide(tcp(hist, plc, 40002, 502, fSYN)) // operations->control: enforce, dropped, untracked
	w.Decide(tcp(hist, plc, 40002, 502, fSYN)) // its retransmission
	q := te.QueueStats()
	if len(q) != 1 {
		t.Fatalf("%d queues", len(q))
	}
	want := [3]ModeVerdicts{
		rules.ModeMonitor: {Accept: 2, WouldDrop: 1},
		rules.ModeEnforce: {Drop: 2, WouldDrop: 2},
	}
	if q[0].ByMode != want {
		t.Errorf("by mode %+v, want %+v", q[0].ByMode, want)
	}
	if c := q[0].Counters; c.Packets != 4 || c.Accepted != 2 || c.Dropped != 2 || c.WouldDrop != 3 {
		t.Errorf("queue counters %+v", c)
	}
}

func TestLatencyHistogram(t *testing.T) {
	var h latencyHist
	sampled := 0
	for i := range 3 * latencySampleEvery {
		if h.sample() {
			sampled++
			if i%latencySampleEvery != 0 {
				t.Errorf("packet %d sampled", i)
			}
		}
	}
	if sampled != 3 {
		t.Errorf("%d of %d packets sampled, want 3", sampled, 3*latencySampleEvery)
	}
	for _, c := range []struct {
		d      time.Duration
		bucket int
	}{
		{0, 0}, {time.Microsecond, 0}, {time.Microsecond + 1, 1}, {2 * time.Microsecond, 1},
		{3 * time.Microsecond, 2}, {100 * time.Microsecond, 7}, {time.Second, latencyBuckets}, {-5, 0},
	} {
		var h latencyHist
		h.observe(c.d)
		if h.counts[c.bucket].Load() != 1 {
			t.Errorf("%v not in bucket %d", c.d, c.bucket)
		}
	}
	te := newTestEngine(t, pol{mode: "enforce"})
	te.Worker(0).lat.observe(3 * time.Microsecond)
	te.Worker(0).lat.observe(5 * time.Microsecond)
	l := te.Latency()
	if l.Count != 2 || l.Sum != 8*time.Microsecond || l.Counts[2] != 1 || l.Counts[3] != 1 || l.Bounds[3] != 8*time.Microsecond {
		t.Errorf("latency %+v", l)
	}
}

// jsonEngine is a test engine whose log is JSON lines in a buffer.
func jsonEngine(t *testing.T, p pol) (*testEngine, *bytes.Buffer) {
	te := newTestEngine(t, p)
	var buf bytes.Buffer
	te.log = slog.New(slog.NewJSONHandler(&buf, nil))
	return te, &buf
}

// drain runs the writer over the events queued so far and returns the
// lines written.
func drain(t *testing.T, te *testEngine, buf *bytes.Buffer, lim DeniedLimit) []map[string]any {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	te.RunLimited(ctx, lim)
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("bad line %q: %v", l, err)
		}
		out = append(out, m)
	}
	buf.Reset()
	return out
}

// ofEvent is the lines of one event.
func ofEvent(lines []map[string]any, event string) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		if l["event"] == event {
			out = append(out, l)
		}
	}
	return out
}

func count(lines []map[string]any, event, src string) (n int, suppressed int) {
	for _, l := range lines {
		if l["event"] == event && l["src"] == src {
			n++
			if s, ok := l["suppressed"].(float64); ok {
				suppressed += int(s)
			}
		}
	}
	return n, suppressed
}

func TestDeniedLinesLimitedPerSource(t *testing.T) {
	te, buf := jsonEngine(t, pol{mode: "enforce"})
	w := te.Worker(0)
	lim := DeniedLimit{Burst: 5, Window: 10 * time.Second}
	// A scan: 40 new denied flows from one host, 3 from another, and
	// allowed flows from the scanner, which are never limited.
	for i := range 40 {
		w.Decide(tcp(hist, plc, uint16(30000+i), 502, fSYN))
	}
	for i := range 3 {
		w.Decide(tcp(hmi, plc, uint16(30000+i), 503, fSYN))
	}
	for i := range 8 {
		w.Decide(tcp(hmi, plc, uint16(20000+i), 502, fSYN))
	}
	lines := drain(t, te, buf, lim)
	if n, _ := count(lines, "verdict", hist); n != 5 {
		t.Errorf("scanner: %d verdict lines, want the burst of 5", n)
	}
	if n, s := count(lines, "suppressed", hist); n != 1 || s != 35 {
		t.Errorf("scanner: %d suppressed lines counting %d, want one counting 35", n, s)
	}
	if n, _ := count(lines, "verdict", hmi); n != 3+8 {
		t.Errorf("HMI: %d verdict lines, want 11 (3 denied under the burst, 8 allowed)", n)
	}
	if n, _ := count(lines, "suppressed", hmi); n != 0 {
		t.Errorf("HMI: %d suppressed lines, want none", n)
	}

	// A window that ends is reported before the source's next line, in
	// order, and the new window has a fresh burst.
	for i := range 7 {
		w.Decide(tcp(hist, plc, uint16(31000+i), 502, fSYN))
	}
	te.clock += int64(11 * time.Second)
	for i := range 2 {
		w.Decide(tcp(hist, plc, uint16(32000+i), 502, fSYN))
	}
	lines = drain(t, te, buf, lim)
	var seq []string
	for _, l := range lines {
		if l["src"] == hist {
			seq = append(seq, l["event"].(string))
			if l["event"] == "suppressed" && l["suppressed"].(float64) != 2 {
				t.Errorf("suppressed count %v, want 2", l["suppressed"])
			}
		}
	}
	want := "verdict verdict verdict verdict verdict suppressed verdict verdict"
	if got := strings.Join(seq, " "); got != want {
		t.Errorf("line order\n got %s\nwant %s", got, want)
	}
}

func TestDeniedLimitSharedBeyondMaxSources(t *testing.T) {
	te, buf := jsonEngine(t, pol{mode: "monitor"})
	w := te.Worker(0)
	// Three sources, room for two: the third and later share a budget.
	srcs := []string{"10.30.0.1", "10.30.0.2", "10.30.0.3", "10.30.0.4"}
	for _, s := range srcs {
		for i := range 4 {
			w.Decide(tcp(s, plc, uint16(30000+i), 502, fSYN))
		}
	}
	lines := drain(t, te, buf, DeniedLimit{Burst: 3, MaxSources: 2})
	verdicts, suppressed := 0, 0
	for _, l := range lines {
		switch l["event"] {
		case "verdict":
			verdicts++
		case "suppressed":
			suppressed += int(l["suppressed"].(float64))
		}
	}
	// 2 tracked sources: 3 lines each, 1 suppressed each; the shared
	// budget: 3 lines of 8, 5 suppressed under src "*".
	if verdicts != 9 || suppressed != 7 {
		t.Errorf("%d verdict lines and %d suppressed, want 9 and 7", verdicts, suppressed)
	}
	if n, s := count(lines, "suppressed", "*"); n != 1 || s != 5 {
		t.Errorf("shared budget: %d lines counting %d", n, s)
	}
	// Unlimited.
	for i := range 30 {
		w.Decide(tcp(srcs[0], plc, uint16(40000+i), 502, fSYN))
	}
	if n, _ := count(drain(t, te, buf, DeniedLimit{Burst: -1}), "verdict", srcs[0]); n != 30 {
		t.Errorf("no limit: %d lines, want 30", n)
	}
}

func TestSaveLoadHits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "state.json")
	te := newTestEngine(t, pol{mode: "enforce", extra: "  - {name: cleanup, from: any, to: any, cleanup: true}\n"})
	w := te.Worker(0)
	te.clock = 5e9
	w.Decide(tcp(hmi, plc, 40000, 502, fSYN))
	te.clock = 7e9
	w.Decide(tcp(hist, plc, 40001, 9999, fSYN)) // cleanup
	if err := te.SaveHits(path); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("state file: %v %v", fi, err)
	}
	before := te.Hits()

	// A restart: a fresh engine loads the counts and keeps counting.
	te2 := newTestEngine(t, pol{mode: "enforce", extra: "  - {name: cleanup, from: any, to: any, cleanup: true}\n"})
	if n, err := te2.LoadHits(path); err != nil || n != len(before) {
		t.Fatalf("LoadHits: %d %v, want %d", n, err, len(before))
	}
	after := te2.Hits()
	b1, _ := json.Marshal(before)
	b2, _ := json.Marshal(after)
	if !bytes.Equal(b1, b2) {
		t.Errorf("after restart\n got %s\nwant %s", b2, b1)
	}
	te2.clock = 9e9
	te2.Worker(0).Decide(tcp(hist, plc, 40002, 9999, fSYN))
	for _, r := range te2.Hits() {
		if r.Name == "cleanup" && (r.Packets != 2 || r.Flows != 2 || r.FirstHit.UnixNano() != 7e9 || r.LastHit.UnixNano() != 9e9) {
			t.Errorf("cleanup after restart and a new hit: %+v", r)
		}
	}

	// A rule no longer in the policy keeps its counts, outside the policy.
	te3 := newTestEngine(t, pol{mode: "enforce"})
	te3.LoadHits(path)
	var found bool
	for _, r := range te3.Hits() {
		if r.Name == "cleanup" {
			found = r.Index == -1 && r.Packets == 1
		}
	}
	if !found {
		t.Errorf("a saved rule missing from the policy: %+v", te3.Hits())
	}

	if n, err := te3.LoadHits(filepath.Join(t.TempDir(), "none.json")); n != 0 || err != nil {
		t.Errorf("missing state file: %d %v", n, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte("{"), 0o600)
	if _, err := te3.LoadHits(bad); err == nil {
		t.Error("a corrupt state file loaded")
	}
	os.WriteFile(bad, []byte(`{"version":99}`), 0o600)
	if _, err := te3.LoadHits(bad); err == nil {
		t.Error("a state file of another version loaded")
	}
}

func TestFlows(t *testing.T) {
	te := newTestEngine(t, pol{mode: "enforce"})
	w := te.Worker(0)
	te.clock = 10e9
	w.Decide(tcp(hmi, plc, 40000, 502, fSYN))
	te.clock = 13e9
	w.Decide(tcp(plc, hmi, 502, 40000, fSYN|fACK))
	w.Decide(tcp(plc, hmi, 502, 41000, fACK|fPSH)) // a reply picked up: shown in request direction
	te.clock = 20e9
	got := map[uint16]FlowInfo{}
	te.Flows(func(f FlowInfo) bool { got[f.Sport] = f; return true })
	if len(got) != 2 {
		t.Fatalf("flows %+v", got)
	}
	f := got[40000]
	if f.Src.String() != hmi || f.Dst.String() != plc || f.Dport != 502 || f.Rule != "hmi-polls-plcs" ||
		f.FromZone != "supervisory" || f.ToZone != "control" || f.Mode != "enforce" || !f.Allowed ||
		f.IdleS != 7 || f.MaxGapS != 3 || f.PacketsOrig != 1 || f.PacketsReply != 1 || f.Proto != "tcp" {
		t.Errorf("flow %+v", f)
	}
	p := got[41000]
	if !p.PickedUp || p.Src.String() != hmi || p.Dport != 502 || p.PacketsOrig != 0 || p.PacketsReply != 1 {
		t.Errorf("picked-up reply %+v", p)
	}
	// After a reload, flows not yet seen again name no rule of the new policy.
	te.swap(t, pol{mode: "monitor"})
	te.Flows(func(f FlowInfo) bool {
		if f.Rule != "" || f.Generation != 1 {
			t.Errorf("stale flow %+v", f)
		}
		return false
	})
}

func TestParseKernelQueues(t *testing.T) {
	in := "    0  12345     0 2 65531     0     0        4  1\n   21 -4 1\n"
	if _, err := ParseKernelQueues(strings.NewReader(in)); err == nil {
		t.Error("negative and short lines accepted")
	}
	in = "    0  12345     3 2 65531     7     9        42  1\n\n   21  4294967295 0 2 65531 0 0 0 1\n"
	qs, err := ParseKernelQueues(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []KernelQueue{
		{Num: 0, PeerPortID: 12345, Waiting: 3, CopyMode: 2, CopyRange: 65531, QueueDropped: 7, UserDropped: 9, IDSequence: 42},
		{Num: 21, PeerPortID: 4294967295, CopyMode: 2, CopyRange: 65531},
	}
	if len(qs) != 2 || qs[0] != want[0] || qs[1] != want[1] {
		t.Errorf("got %+v", qs)
	}
	if _, err := ParseKernelQueues(strings.NewReader("70000 1 0 2 1 0 0 0 1\n")); err == nil {
		t.Error("queue number 70000 accepted")
	}
}

func FuzzParseKernelQueues(f *testing.F) {
	f.Add("    0  12345     3 2 65531     7     9        42  1\n")
	f.Add("1 2 3 4 5 6 7 8\n9")
	f.Fuzz(func(t *testing.T, s string) {
		qs, err := ParseKernelQueues(strings.NewReader(s))
		if err == nil && len(qs) > strings.Count(s, "\n")+1 {
			t.Fatalf("%d queues from %d lines", len(qs), strings.Count(s, "\n")+1)
		}
	})
}

// TestPickupEvent: an adopted mid-stream session gets its verdict line
// (reason pickup) and a pickup event for the same flow, once; a denied
// mid-stream packet is no pickup.
func TestPickupEvent(t *testing.T) {
	te, buf := jsonEngine(t, pol{mode: "enforce"})
	w := te.Worker(0)
	// A reply of a session conduit never saw open: adopted reversed.
	if !w.Decide(tcp(plc, hmi, 502, 40000, fACK|fPSH)) || !w.Decide(tcp(hmi, plc, 40000, 502, fACK)) {
		t.Fatal("mid-stream session not adopted")
	}
	if w.Decide(tcp(hist, plc, 40000, 502, fACK)) {
		t.Fatal("a mid-stream packet no rule allows passed")
	}
	lines := drain(t, te, buf, DeniedLimit{})
	var verdict, pickup map[string]any
	pickups := 0
	for _, l := range lines {
		switch {
		case l["event"] == "pickup":
			pickup = l
			pickups++
		case l["event"] == "verdict" && l["reason"] == ReasonPickup:
			verdict = l
		}
	}
	if pickups != 1 || verdict == nil {
		t.Fatalf("%d pickup events, verdict %v; lines %v", pickups, verdict, lines)
	}
	for _, k := range []string{"flow", "src", "dst", "sport", "dport", "rule", "proto", "mode"} {
		if pickup[k] != verdict[k] {
			t.Errorf("pickup %s = %v, verdict line has %v", k, pickup[k], verdict[k])
		}
	}
	if pickup["src"] != hmi || pickup["dport"] != float64(502) || pickup["rule"] != "hmi-polls-plcs" {
		t.Errorf("pickup not in the request orientation: %v", pickup)
	}
}

// TestVerdictLineICMPType: an ICMP flow's verdict line says the type of its
// first packet (learn drafts icmp_types from it); other lines do not carry
// the field.
func TestVerdictLineICMPType(t *testing.T) {
	te, buf := jsonEngine(t, pol{mode: "enforce"})
	w := te.Worker(0)
	w.Decide(tpkt{src: hmi, dst: plc, proto: 1, icmpType: 8, icmpID: 7}.bytes())
	w.Decide(tcp(hmi, plc, 40000, 502, fSYN))
	lines := drain(t, te, buf, DeniedLimit{})
	verdicts := ofEvent(lines, "verdict")
	for _, l := range verdicts {
		typ, has := l["icmp_type"]
		switch l["proto"] {
		case "icmp":
			if typ != float64(8) {
				t.Errorf("ICMP verdict line icmp_type = %v: %v", typ, l)
			}
		default:
			if has {
				t.Errorf("%v line carries icmp_type: %v", l["proto"], l)
			}
		}
	}
	if len(verdicts) != 2 {
		t.Errorf("%d verdict lines, want 2: %v", len(verdicts), lines)
	}
}
