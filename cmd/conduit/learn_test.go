package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/capture/synth"
	"github.com/conduit-ot/conduit/engine/packet"
)

// evCapturesDir returns the real-capture directory or "".
func evCapturesDir() string {
	dir := os.Getenv("CONDUIT_CAPTURES")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "captures")
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return ""
	}
	return dir
}

// roundTrip learns a draft from inputs, checks it as `conduit check`
// does, and replays captures with it in enforce: only malformed packets
// (which no rule can allow) may be dropped, and neither the cleanup rule
// nor the default may see a packet.
func roundTrip(t *testing.T, inputs, captures []string) replaySummary {
	t.Helper()
	draft := filepath.Join(t.TempDir(), "draft.yaml")
	code, _, errOut := evRun(t, runLearn, append([]string{"-o", draft}, inputs...)...)
	if code != 0 {
		t.Fatalf("learn: exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "(valid; ") {
		t.Errorf("learn does not report the draft checked: %s", errOut)
	}
	if code, out, errOut := evRun(t, runCheck, "-c", draft); code != 0 {
		y, _ := os.ReadFile(draft)
		t.Fatalf("check: exit %d\n%s%s\n%s", code, out, errOut, y)
	}
	code, out, errOut := evRun(t, runReplay, append([]string{"-c", draft, "--mode", "enforce", "--json"}, captures...)...)
	if code != 0 {
		t.Fatalf("replay: exit %d: %s", code, errOut)
	}
	s := decodeSummary(t, out)
	y, _ := os.ReadFile(draft)
	if s.Verdicts.Drop != s.Malformed || s.WouldDrop != s.Malformed || s.Verdicts.Accept+s.Verdicts.Drop != s.Packets || s.Packets == 0 {
		t.Errorf("enforce with the learned policy: %+v\n%s", s, y)
	}
	for _, r := range s.Rules {
		if (r.Cleanup || r.Name == "default") && r.Packets != 0 {
			t.Errorf("rule %s saw %d packets\n%s", r.Name, r.Packets, y)
		}
	}
	return s
}

func TestLearnRoundTripPlant(t *testing.T) {
	pcap := filepath.Join(evidence, "plant.pcap")
	s := roundTrip(t, []string{pcap}, []string{pcap})
	if s.Packets != 2569 || s.Flows != 94 {
		t.Errorf("%+v", s)
	}
}

// TestLearnRoundTripGenerated learns from a freshly generated plant
// capture (another seed, more traffic than the testdata one).
func TestLearnRoundTripGenerated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plant.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	st, err := synth.Write(w, synth.Config{Seed: 42, Duration: 3 * time.Hour, PollScale: 20})
	if err != nil {
		t.Fatal(err)
	}
	w.Flush()
	f.Close()
	s := roundTrip(t, []string{path}, []string{path})
	if s.Packets != uint64(st.IP) {
		t.Errorf("replayed %d packets of %d", s.Packets, st.IP)
	}
}

func TestLearnRoundTripRealCaptures(t *testing.T) {
	dir := evCapturesDir()
	if dir == "" {
		t.Skip("real captures not found (../shared/captures; set CONDUIT_CAPTURES): skipping")
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*", "*.pcap*"))
	if len(paths) == 0 {
		t.Skip("no captures in " + dir)
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) { roundTrip(t, []string{p}, []string{p}) })
	}
	// All of them at once: one policy for the whole lab.
	s := roundTrip(t, paths, paths)
	if s.Malformed != 2 || s.Packets != 1206 {
		t.Errorf("all captures: %+v", s)
	}
}

// TestLearnFromVerdictLog: the daemon's event log, written in passthrough,
// is evidence too; a policy learned from it lets the same traffic through.
func TestLearnFromVerdictLog(t *testing.T) {
	pcap := filepath.Join(evidence, "plant.pcap")
	log := filepath.Join(t.TempDir(), "verdicts.log")
	if code, _, errOut := evRun(t, runReplay, "-c", filepath.Join(evidence, "plant.yaml"), "--mode", "passthrough", "--events", log, pcap); code != 0 {
		t.Fatalf("replay: %s", errOut)
	}
	roundTrip(t, []string{log}, []string{pcap})
}

func TestLearnMatrix(t *testing.T) {
	pcap := filepath.Join(evidence, "plant.pcap")
	code, out, errOut := evRun(t, runLearn, "--matrix", "json", pcap)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var m struct {
		Services []struct {
			Client, ClientZone, Server, ServerZone, Proto, Service string
			Port                                                   int
			Flows, Packets, Bytes, Replies                         uint64
			MaxGapS                                                float64 `json:"max_gap_s"`
			Functions                                              map[string]uint64
		}
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	var packets uint64
	found := false
	for _, s := range m.Services {
		packets += s.Packets
		if s.Client == "10.20.0.33" && s.Server == "10.10.0.50" && s.Port == 102 {
			found = true
			// The workstation's session: one flow, silent for 2h30m, that read and wrote.
			if s.Flows != 1 || s.MaxGapS < (synth.EWSGap-time.Minute).Seconds() || s.Functions["s7 write_var"] == 0 || s.Functions["s7 read_var"] == 0 {
				t.Errorf("EWS service %+v", s)
			}
		}
	}
	if len(m.Services) != 91 || packets != 2569 || !found {
		t.Errorf("%d services, %d packets, EWS found %v", len(m.Services), packets, found)
	}

	code, out, _ = evRun(t, runLearn, "--matrix", "csv", pcap)
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(rows) != 92 || rows[0][0] != "client" || len(rows[1]) != 16 {
		t.Errorf("csv: exit %d, %d rows, %v", code, len(rows), err)
	}
	code, out, _ = evRun(t, runLearn, "--matrix", "table", pcap)
	if code != 0 || !strings.Contains(out, "MAX GAP") || strings.Count(out, "\n") != 92 {
		t.Errorf("table: exit %d\n%s", code, out)
	}
}

// TestLearnZonesFile: zones from a policy file are used as given; the
// other addresses get inferred zones.
func TestLearnZonesFile(t *testing.T) {
	pcap := filepath.Join(evidence, "plant.pcap")
	zones := filepath.Join(t.TempDir(), "zones.yaml")
	os.WriteFile(zones, []byte("zones:\n  control: {level: 1, cidrs: [10.10.0.0/24]}\n  supervisory: {level: 2, cidrs: [10.20.0.0/24]}\n"), 0o644)
	code, out, errOut := evRun(t, runLearn, "--zones", zones, pcap)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"  control:\n    level: 1\n", "  supervisory:\n    level: 2\n", "  net-10-30-0:\n    level: 3  # Purdue level unknown",
		"from: supervisory\n    to: control\n    proto: tcp\n    dport: 502\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("draft lacks %q:\n%s", want, out)
		}
	}
}

// TestLearnTimeouts: the plant policy gives the HMI Modbus sessions 30
// minutes and the workstation's S7 session an hour; the capture has a
// 50-minute pause and a 2h30m silence on them.
func TestLearnTimeouts(t *testing.T) {
	pcap, pol := filepath.Join(evidence, "plant.pcap"), filepath.Join(evidence, "plant.yaml")
	code, out, errOut := evRun(t, runLearn, "--timeouts", "-c", pol, pcap)
	if code != 3 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "2 rules of") {
		t.Fatalf("output:\n%s", out)
	}
	for i, want := range [][]string{
		{"hmi-polls-modbus", "30m", "idle_timeout", "50m", "10.20.0.14:", "-> 10.10.0.29:502", "idle_timeout: 2h31m"},
		{"ews-programs-s7", "1h", "idle_timeout", "2h30m", "10.20.0.33:", "-> 10.10.0.50:102", "idle_timeout: 7h30m"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[2+i], w) {
				t.Errorf("line %q lacks %q", lines[2+i], w)
			}
		}
	}
	code, out, _ = evRun(t, runLearn, "--timeouts", "--json", "-c", pol, pcap)
	var adv struct {
		Advice []struct {
			Rule     string
			TimeoutS float64 `json:"timeout_s"`
			GapS     float64 `json:"gap_s"`
		}
	}
	if err := json.Unmarshal([]byte(out), &adv); code != 3 || err != nil || len(adv.Advice) != 2 || adv.Advice[1].GapS < (synth.EWSGap-time.Minute).Seconds() {
		t.Errorf("--json: exit %d, %v, %+v", code, err, adv)
	}

	// The learned policy keeps the defaults (24h for TCP): nothing to say.
	draft := filepath.Join(t.TempDir(), "draft.yaml")
	evRun(t, runLearn, "-o", draft, pcap)
	if code, out, _ := evRun(t, runLearn, "--timeouts", "-c", draft, pcap); code != 0 || !strings.HasPrefix(out, "no rule of") {
		t.Errorf("learned policy: exit %d\n%s", code, out)
	}
}

// TestLearnDiff: after the box went inline, the workstation's S7 session
// is gone and the RTUs' DNP3 replies no longer come back.
func TestLearnDiff(t *testing.T) {
	before := filepath.Join(evidence, "plant.pcap")
	after := filepath.Join(t.TempDir(), "after.pcap")
	filterCapture(t, before, after, func(p *packet.Parsed) bool {
		a, b := p.Src.String(), p.Dst.String()
		ews := a == "10.20.0.33" && b == "10.10.0.50" || a == "10.10.0.50" && b == "10.20.0.33"
		dnp3Reply := p.Proto == packet.ProtoTCP && p.SrcPort == 20000
		return !ews && !dnp3Reply
	})
	code, out, errOut := evRun(t, runLearn, "--diff", before, after)
	if code != 3 {
		t.Fatalf("exit %d: %s\n%s", code, errOut, out)
	}
	missing, changed := 0, 0
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "missing") && strings.Contains(l, "10.20.0.33") && strings.Contains(l, "10.10.0.50") && strings.Contains(l, "s7 tcp/102"):
			missing++
		case strings.HasPrefix(l, "changed") && strings.Contains(l, "dnp3 tcp/20000") && strings.Contains(l, "no replies after"):
			changed++
		case strings.HasPrefix(l, "missing"), strings.HasPrefix(l, "changed"), strings.HasPrefix(l, "new"):
			t.Errorf("unexpected change: %s", l)
		}
	}
	if missing != 1 || changed != 4 {
		t.Errorf("%d missing, %d changed; want 1 and 4 (one per RTU):\n%s", missing, changed, out)
	}
	code, out, _ = evRun(t, runLearn, "--diff", "--json", before, after)
	var d struct{ Changes []struct{ Kind, Why string } }
	if err := json.Unmarshal([]byte(out), &d); code != 3 || err != nil || len(d.Changes) != 5 {
		t.Errorf("--json: exit %d, %v, %d changes", code, err, len(d.Changes))
	}
	if code, out, _ := evRun(t, runLearn, "--diff", before, before); code != 0 || !strings.Contains(out, "no service went missing or changed") {
		t.Errorf("same capture: exit %d\n%s", code, out)
	}
}

// filterCapture copies the Ethernet frames of in whose IP packet keep
// accepts to out.
func filterCapture(t *testing.T, in, out string, keep func(*packet.Parsed) bool) {
	t.Helper()
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	r, err := capture.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, _ := capture.NewWriter(&buf, capture.LinkEthernet)
	var p capture.Packet
	var d packet.Parsed
	for r.Next(&p) != io.EOF {
		d.Decode(p.Data)
		if keep(&d) {
			// The record's frame is its 16-byte header's successor.
			frame := data[p.Offset+16 : p.Offset+16+int64(p.CapLen)]
			w.WriteFrame(p.Time, frame)
		}
	}
	w.Flush()
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLearnInputs(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	os.WriteFile(text, []byte("this is not evidence\n"), 0o644)
	pcap := filepath.Join(evidence, "plant.pcap")
	data, _ := os.ReadFile(pcap)
	cut := filepath.Join(dir, "cut.pcap")
	os.WriteFile(cut, data[:len(data)/3], 0o644)

	if code, _, errOut := evRun(t, runLearn, text); code != 1 || !strings.Contains(errOut, "neither a pcap/pcapng capture nor a conduit event log") {
		t.Errorf("text file: exit %d: %s", code, errOut)
	}
	// A truncated capture: the draft covers what was readable, exit 1.
	code, out, errOut := evRun(t, runLearn, cut)
	if code != 1 || !strings.Contains(errOut, "capture truncated at byte") || !strings.Contains(out, "mode: monitor") {
		t.Errorf("truncated: exit %d: %s", code, errOut)
	}
	for _, args := range [][]string{{}, {"--diff", pcap}, {"--timeouts", pcap}, {"--matrix", "xml", pcap}, {"--timeouts", "--diff", "-c", "x", pcap, pcap}} {
		if code, _, _ := evRun(t, runLearn, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}
