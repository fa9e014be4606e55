package learn

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestBaselineRoundTrip: a matrix saved as a baseline and read back
// compares with the original as unchanged, and with a stalled AFTER as
// the original does.
func TestBaselineRoundTrip(t *testing.T) {
	before := learnAll(polls(30, time.Second, 2*time.Millisecond, -1, 0))
	var buf bytes.Buffer
	if err := WriteBaseline(&buf, before); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), `{"baseline":1,`) {
		t.Fatalf("baseline starts %.40q", buf.String())
	}
	back, err := ReadBaseline(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if ch := Diff(before, back, InferZones(before, nil, back)); len(ch) != 0 {
		t.Errorf("read back: %d changes: %+v", len(ch), ch)
	}
	after := learnAll(polls(30, time.Second, 2*time.Millisecond, 12, 7*time.Second))
	a, b := Diff(before, after, InferZones(before, nil, after)), Diff(back, after, InferZones(back, nil, after))
	if len(a) != 1 || len(b) != 1 || a[0].Why != b[0].Why {
		t.Errorf("from the matrix: %+v\nfrom the baseline: %+v", a, b)
	}
	for _, bad := range []string{``, `{"baseline":2,"services":[]}`, `{"baseline":1,"services":[{"proto":6}]}`, `{"baseline":1,"x":1}`, `not json`} {
		if _, err := ReadBaseline(strings.NewReader(bad)); err == nil {
			t.Errorf("%q read as a baseline", bad)
		}
	}
}

// TestLiveMatchesLearner: the live matrix of two shards, fed the same
// packets as a learner split by flow, snapshots to the same services and
// health.
func TestLiveMatchesLearner(t *testing.T) {
	ps := polls(20, time.Second, 2*time.Millisecond, 10, 7*time.Second)
	lv := NewLive(2)
	for _, p := range ps {
		lv.Packet(0, t0+int64(p.at), p.bytes())
	}
	snap := lv.Snapshot()
	want := learnAll(ps)
	if ch := Diff(want, snap, InferZones(want, nil, snap)); len(ch) != 0 {
		t.Errorf("live snapshot differs: %+v", ch)
	}
	s := snap.Services()
	if len(s) != 1 || s[0].Health == nil || s[0].Health.Stall.Gap != 7*time.Second || s[0].Health.Lifetimes.Count() != 1 {
		t.Fatalf("snapshot services %+v", s)
	}
	// A snapshot leaves the running session running.
	lv.Snapshot()
	if n := lv.Snapshot().Services()[0].Health.Lifetimes.Count(); n != 1 {
		t.Errorf("%d lifetimes after snapshots, want 1", n)
	}
}

func TestLiveBounds(t *testing.T) {
	lv := NewLive(1)
	l := lv.shards[0].l
	l.maxFlows, l.maxServices = 8, 4
	for i := range 50 {
		p := tp{at: time.Duration(i) * time.Millisecond, proto: udp, src: "10.20.0.10", dst: "10.10.0.10",
			sport: uint16(40000 + i), dport: uint16(1000 + i%10)}
		lv.Packet(0, t0+int64(p.at), p.bytes())
	}
	m := lv.Snapshot()
	if len(m.Services()) != 4 || m.Overflow == 0 || len(l.flows) > 8 {
		t.Errorf("%d services, %d overflow, %d flows; want 4, some, at most 8", len(m.Services()), m.Overflow, len(l.flows))
	}
}

// TestLiveDraftHasNoGuessedCondition: a live matrix does not record what
// was asked, so its Modbus rule gets no condition (not read_only for want
// of writes seen), through a saved baseline too.
func TestLiveDraftHasNoGuessedCondition(t *testing.T) {
	lv := NewLive(1)
	for _, p := range polls(10, time.Second, 2*time.Millisecond, -1, 0) {
		lv.Packet(0, t0+int64(p.at), p.bytes())
	}
	var buf bytes.Buffer
	if err := WriteBaseline(&buf, lv.Snapshot()); err != nil {
		t.Fatal(err)
	}
	back, err := ReadBaseline(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*Matrix{"live": lv.Snapshot(), "baseline": back} {
		draft, _ := Draft(m, DraftConfig{})
		d := string(draft)
		if strings.Contains(d, "modbus: {") || !strings.Contains(d, "learned from conduit observe's live matrix") || !strings.Contains(d, "dport: 502") {
			t.Errorf("%s draft:\n%s", name, d)
		}
	}
}

// TestLiveSurvivesRestart: a live matrix saved to a file and loaded into
// a new one after a restart keeps its services and figures, and counts on.
func TestLiveSurvivesRestart(t *testing.T) {
	lv := NewLive(2)
	for _, p := range polls(20, time.Second, 2*time.Millisecond, -1, 0) {
		lv.Packet(1, t0+int64(p.at), p.bytes())
	}
	path := t.TempDir() + "/matrix.json"
	if err := WriteBaselineFile(path, lv.Snapshot()); err != nil {
		t.Fatal(err)
	}
	m, err := ReadBaselineFile(path)
	if err != nil {
		t.Fatal(err)
	}
	again := NewLive(2)
	again.Load(m)
	later := polls(20, time.Second, 2*time.Millisecond, -1, 0)
	for i := range later {
		later[i].at += time.Hour
		if later[i].sport == 40000 {
			later[i].sport = 40001
		} else {
			later[i].dport = 40001
		}
	}
	for _, p := range later {
		again.Packet(0, t0+int64(p.at), p.bytes())
	}
	s := again.Snapshot().Services()
	if len(s) != 1 || s[0].Flows != 2 || s[0].Health.Requests != 40 || s[0].Health.Lifetimes.Count() != 2 || s[0].Last-s[0].First < int64(time.Hour) {
		t.Errorf("after the restart: %+v %+v", s, s[0].Health)
	}
	if _, err := ReadBaselineFile(t.TempDir() + "/missing.json"); err == nil {
		t.Error("a missing file read")
	}
}
