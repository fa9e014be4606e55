package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/engine/packet"
)

const evidence = "../../testdata/replay"

// evRun runs a subcommand with captured output.
func evRun(t *testing.T, fn func([]string, io.Writer, io.Writer) int, args ...string) (int, string, string) {
	t.Helper()
	var o, e bytes.Buffer
	code := fn(args, &o, &e)
	return code, o.String(), e.String()
}

// replaySummary is the PRODUCT.md shape of `replay --json`.
type replaySummary struct {
	Packets   uint64 `json:"packets"`
	Flows     uint64 `json:"flows"`
	Malformed uint64 `json:"malformed"`
	Verdicts  struct {
		Accept uint64 `json:"accept"`
		Drop   uint64 `json:"drop"`
	} `json:"verdicts"`
	WouldDrop uint64 `json:"would_drop"`
	Rules     []struct {
		Name     string  `json:"name"`
		Index    int     `json:"index"`
		Action   string  `json:"action"`
		Cleanup  bool    `json:"cleanup"`
		Packets  uint64  `json:"packets"`
		Bytes    uint64  `json:"bytes"`
		Flows    uint64  `json:"flows"`
		Requests uint64  `json:"requests"`
		FirstHit *string `json:"first_hit"`
		LastHit  *string `json:"last_hit"`
	} `json:"rules"`
}

func decodeSummary(t *testing.T, out string) replaySummary {
	t.Helper()
	var s replaySummary
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("replay --json: %v\n%s", err, out)
	}
	for _, k := range []string{"packets", "flows", "malformed", "verdicts", "would_drop", "rules"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("replay --json lacks %q", k)
		}
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestReplayCommand(t *testing.T) {
	pol, pcap := filepath.Join(evidence, "plant.yaml"), filepath.Join(evidence, "plant.pcap")

	code, out, errOut := evRun(t, runReplay, "-c", pol, pcap)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	wantContains(t, "output", out, "replayed 1 capture, global mode monitor", "packets 2569, flows 96, malformed 0",
		"2569 accepted, 0 dropped; 2 denied by the policy", "hmi-polls-modbus", "cleanup (cleanup)", "1 non-IP frames skipped",
	)

	// Flags after the capture; --json is the PRODUCT.md object.
	code, out, _ = evRun(t, runReplay, pcap, "--json", "-c", pol)
	s := decodeSummary(t, out)
	if code != 0 || s.Packets != 2569 || s.Flows != 96 || s.WouldDrop != 2 || s.Verdicts.Accept != 2569 || len(s.Rules) != 12 ||
		s.Rules[11].Name != "default" || s.Rules[10].Name != "cleanup" || !s.Rules[10].Cleanup || s.Rules[10].Packets != 2 {
		t.Errorf("exit %d, %+v", code, s)
	}

	// The workstation's DNS would be dropped: --fail-on-drop fails the run.
	if code, out, _ = evRun(t, runReplay, "-c", pol, "--fail-on-drop", pcap); code != 3 || !strings.Contains(out, "fail-on-drop: 0 packets dropped, 2 denied") {
		t.Errorf("--fail-on-drop: exit %d\n%s", code, out)
	}
	code, out, _ = evRun(t, runReplay, "-c", pol, "--mode", "enforce", "--fail-on-drop", "--json", pcap)
	if s := decodeSummary(t, out); code != 3 || s.Verdicts.Drop != 2 || s.Verdicts.Accept != 2567 {
		t.Errorf("--mode enforce: exit %d, %+v", code, s)
	}
	// Passthrough evaluates nothing: nothing would drop.
	if code, _, _ := evRun(t, runReplay, "-c", pol, "--mode", "passthrough", "--fail-on-drop", pcap); code != 0 {
		t.Errorf("--mode passthrough --fail-on-drop: exit %d", code)
	}

	// --events: one JSON object per line, a verdict line per flow.
	events := filepath.Join(t.TempDir(), "events.log")
	if code, _, errOut := evRun(t, runReplay, "-c", pol, "--events", events, pcap); code != 0 {
		t.Fatalf("--events: exit %d: %s", code, errOut)
	}
	verdicts := verdictLines(t, events)
	for _, l := range verdicts {
		for _, k := range []string{"time", "mode", "verdict", "would", "rule", "from_zone", "to_zone", "proto", "src", "dst", "sport", "dport", "flow", "reason"} {
			if _, ok := l[k]; !ok {
				t.Fatalf("verdict line lacks %q: %v", k, l)
			}
		}
	}
	if len(verdicts) != 96 {
		t.Errorf("%d verdict lines, want one per flow (96)", len(verdicts))
	}
}

func TestReplayBadCaptures(t *testing.T) {
	pol, pcap := filepath.Join(evidence, "plant.yaml"), filepath.Join(evidence, "plant.pcap")
	data, err := os.ReadFile(pcap)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cut := filepath.Join(dir, "cut.pcap")
	os.WriteFile(cut, data[:len(data)/2], 0o644)
	corrupt := filepath.Join(dir, "corrupt.pcap")
	bad := bytes.Clone(data)
	copy(bad[24+8:], []byte{0xff, 0xff, 0xff, 0x7f}) // the first record's captured length
	os.WriteFile(corrupt, bad, 0o644)

	code, out, errOut := evRun(t, runReplay, "-c", pol, "--json", cut, pcap)
	s := decodeSummary(t, out)
	if code != 1 || !strings.Contains(errOut, "capture truncated at byte") || !strings.Contains(errOut, "cut.pcap") {
		t.Errorf("truncated: exit %d, stderr %q", code, errOut)
	}
	// What was readable was replayed, and the whole capture after it.
	if s.Packets <= 2569 || s.Packets >= 2*2569 {
		t.Errorf("truncated: %d packets replayed", s.Packets)
	}
	if !strings.Contains(out, `"error": "capture truncated at byte`) {
		t.Errorf("the JSON does not say where the capture stopped:\n%s", out)
	}

	code, _, errOut = evRun(t, runReplay, "-c", pol, corrupt)
	if code != 1 || !strings.Contains(errOut, "capture corrupt at byte 24, in packet 1") {
		t.Errorf("corrupt: exit %d, stderr %q", code, errOut)
	}
	// A truncated capture with drops and --fail-on-drop: 3 wins, the
	// truncation is still reported.
	code, _, errOut = evRun(t, runReplay, "-c", pol, "--fail-on-drop", cut, pcap)
	if code != 3 || !strings.Contains(errOut, "truncated") {
		t.Errorf("truncated with drops: exit %d, stderr %q", code, errOut)
	}
}

func TestReplayUsage(t *testing.T) {
	pol, pcap := filepath.Join(evidence, "plant.yaml"), filepath.Join(evidence, "plant.pcap")
	for _, args := range [][]string{
		{pcap},
		{"-c", pol},
		{"-c", pol, "--mode", "audit", pcap},
		{"-c", filepath.Join(evidence, "absent.yaml"), pcap},
		{"-c", pcap, pcap}, // a capture is not a policy
		{"--bogus"},
	} {
		if code, _, errOut := evRun(t, runReplay, args...); code != 2 || errOut == "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, errOut)
		}
	}
}

// TestReplayChronological: captures given newest first are replayed in
// the order they were taken, so a rule's first_hit is its earliest hit and
// its last_hit its latest, whatever the order on the command line.
func TestReplayChronological(t *testing.T) {
	pol, pcap := filepath.Join(evidence, "plant.yaml"), filepath.Join(evidence, "plant.pcap")
	// An older capture: the plant's first four pings, five years earlier.
	const shift = 5 * 365 * 24 * time.Hour
	var d packet.Parsed
	var first, last time.Time
	pings := 0
	old := filepath.Join(t.TempDir(), "old.pcap")
	editCapture(t, pcap, old, func(rec *capture.Packet, _ []byte) bool {
		if pings == 4 || d.Decode(rec.Data) != packet.ReasonOK || d.Proto != packet.ProtoICMP || d.ICMPType != 8 {
			return false
		}
		at := time.Unix(0, rec.Time).Add(-shift)
		if pings == 0 {
			first = at
		}
		rec.Time = at.UnixNano()
		pings++
		return true
	})
	_, out, _ := evRun(t, runReplay, "-c", pol, "--json", pcap)
	for _, r := range decodeSummary(t, out).Rules {
		if r.Name == "scada-pings-plcs" {
			last, _ = time.Parse(time.RFC3339Nano, *r.LastHit)
		}
	}

	code, out, errOut := evRun(t, runReplay, "-c", pol, "--json", pcap, old)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	found := false
	for _, r := range decodeSummary(t, out).Rules {
		if r.Name != "scada-pings-plcs" {
			continue
		}
		found = true
		f, _ := time.Parse(time.RFC3339Nano, *r.FirstHit)
		l, _ := time.Parse(time.RFC3339Nano, *r.LastHit)
		if !f.Equal(first) || !l.Equal(last) {
			t.Errorf("first_hit %s last_hit %s; want %s and %s", f, l, first, last)
		}
	}
	if !found {
		t.Error("no scada-pings-plcs in the result")
	}
}
