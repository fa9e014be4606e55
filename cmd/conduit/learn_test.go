package main

import (
	"encoding/csv"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/capture/synth"
	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/proto"
	"github.com/conduit-ot/conduit/rules"
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

// roundTrip learns a draft from inputs (with extra learn flags), checks it
// as `conduit check` does, and replays captures with it in enforce: only
// malformed packets (which no rule can allow) may be dropped, and neither
// the cleanup rule nor the default may see a packet. Every rule whose
// evidence lists industrial requests must carry a protocol condition
// (unless the draft says why not), and the engine must have judged and
// passed exactly the requests the evidence counts. It returns the summary
// and the number of rules with a condition.
func roundTrip(t *testing.T, inputs, captures []string, flags ...string) (replaySummary, int) {
	t.Helper()
	draft := filepath.Join(t.TempDir(), "draft.yaml")
	code, _, errOut := evRun(t, runLearn, slices.Concat([]string{"-o", draft}, flags, inputs)...)
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
	pol, err := rules.Load(draft)
	if err != nil {
		t.Fatal(err)
	}
	ev := draftEvidence(string(y))
	conds := 0
	for _, r := range s.Rules {
		if (r.Cleanup || r.Name == "default") && r.Packets != 0 {
			t.Errorf("rule %s saw %d packets\n%s", r.Name, r.Packets, y)
		}
		if r.Index < 0 || r.Index >= len(pol.Rules) {
			continue
		}
		app, e := pol.Rules[r.Index].App, ev[r.Name]
		switch {
		case app != nil:
			conds++
			if r.Requests != e.requests || r.Requests == 0 && !e.silent {
				t.Errorf("rule %s (%s): the engine passed %d requests, the evidence counts %d\n%s", r.Name, app, r.Requests, e.requests, y)
			}
		case e.requests > 0 && !e.noCondition && !slices.Contains(flags, "--no-conditions"):
			t.Errorf("rule %s: %d requests seen and no protocol condition\n%s", r.Name, e.requests, y)
		}
	}
	return s, conds
}

// ruleEvidence is what a draft's comment says about the rule below it.
type ruleEvidence struct {
	requests    uint64 // industrial requests seen (the CIP ones ride in ENIP requests)
	noCondition bool   // the draft says why the rule has no condition
	silent      bool   // clients that only connected took another's condition
}

// uncountedKind reports whether an evidence line lists requests of a kind
// the rule does not count (CIP in ENIP, an OPC UA channel's mode and
// policy).
func uncountedKind(line string) bool {
	for _, id := range proto.All() {
		for _, k := range proto.Table[id].Kinds {
			if k.Uncounted && strings.HasPrefix(line, "  #   "+strings.ReplaceAll(k.Name, "-", " ")+" ") {
				return true
			}
		}
	}
	return false
}

// draftEvidence reads the evidence comments of a draft, by rule name.
func draftEvidence(y string) map[string]ruleEvidence {
	out := map[string]ruleEvidence{}
	var cur ruleEvidence
	for _, line := range strings.Split(y, "\n") {
		switch {
		case strings.HasPrefix(line, "  # evidence:"):
			cur = ruleEvidence{}
		case strings.HasPrefix(line, "  - name: "):
			out[strings.TrimPrefix(line, "  - name: ")] = cur
			cur = ruleEvidence{}
		case strings.HasPrefix(line, "  #   only connected, no request seen: "):
			cur.silent = true
		case strings.HasPrefix(line, "  #   no ") && strings.Contains(line, " condition"):
			cur.noCondition = true
		case strings.HasPrefix(line, "  #   ") && strings.Contains(line, " requests") && !uncountedKind(line):
			_, list, ok := strings.Cut(line, ": ")
			if !ok {
				continue
			}
			for _, item := range strings.Split(list, ", ") {
				n, _ := strconv.ParseUint(strings.ReplaceAll(item[strings.LastIndex(item, " ")+1:], ",", ""), 10, 64)
				cur.requests += n
			}
		}
	}
	return out
}

func TestLearnRoundTripPlant(t *testing.T) {
	pcap := filepath.Join(evidence, "plant.pcap")
	s, conds := roundTrip(t, []string{pcap}, []string{pcap})
	// Two S7, fourteen Modbus (by client, PLCs and unit ids), DNP3 and
	// two ENIP rules.
	if s.Packets != 2569 || s.Flows != 94 || conds != 19 {
		t.Errorf("%d rules with conditions; %+v", conds, s)
	}
	// Port-only rules: the same round trip, no condition.
	if _, conds := roundTrip(t, []string{pcap}, []string{pcap}, "--no-conditions"); conds != 0 {
		t.Errorf("--no-conditions: %d rules with conditions", conds)
	}
}

// TestLearnRoundTripGenerated learns from a freshly generated plant
// capture (another seed, more traffic than the testdata one).
func TestLearnRoundTripGenerated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "plant.pcap")
	st, err := synth.WriteFile(path, synth.Config{Seed: 42, Duration: 3 * time.Hour, PollScale: 20})
	if err != nil {
		t.Fatal(err)
	}
	s, conds := roundTrip(t, []string{path}, []string{path})
	if s.Packets != uint64(st.IP) || conds < 6 {
		t.Errorf("replayed %d packets of %d; %d rules with conditions", s.Packets, st.IP, conds)
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
	total := 0
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			_, conds := roundTrip(t, []string{p}, []string{p})
			total += conds
		})
	}
	// All of them at once: one policy for the whole lab. Every IP packet
	// of the captures is replayed (counted by the capture reader, as the
	// shared folder gains captures). Nothing is dropped in enforce but
	// fuzz-72's three malformed frames (two IPv4 lengths beyond the frame,
	// one with PSH alone).
	ip := 0
	for _, p := range paths {
		r, err := capture.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		var pk capture.Packet
		for r.Next(&pk) == nil {
		}
		ip += r.Stats().Packets
		r.Close()
	}
	s, conds := roundTrip(t, paths, paths)
	if s.Malformed != 3 || s.Verdicts.Drop != s.Malformed || s.Packets != uint64(ip) || conds == 0 || total < 15 {
		t.Errorf("all captures: %d rules with conditions (%d one by one), %d IP packets in them; %+v", conds, total, ip, s)
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
	// A verdict log does not say what was asked: no conditions, and the
	// draft says why.
	_, conds := roundTrip(t, []string{log}, []string{pcap})
	if conds != 0 {
		t.Errorf("%d rules with conditions learned from a log", conds)
	}
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
	zones := tempFile(t, "zones.yaml", "zones:\n  control: {level: 1, cidrs: [10.10.0.0/24]}\n  supervisory: {level: 2, cidrs: [10.20.0.0/24]}\n")
	code, out, errOut := evRun(t, runLearn, "--zones", zones, pcap)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	wantContains(t, "draft", out, "  control:\n    level: 1\n", "  supervisory:\n    level: 2\n", "  net-10-30-0:\n    level: unknown  # inferred zone",
		// Every supervisory host asked DNS of the same server, and every
		// control host NTP: those rules name the zone (no host gets a peer
		// it did not use); no Modbus client polled every PLC.
		"from: supervisory\n    to: 10.30.0.5\n    proto: udp\n    dport: 53\n",
		"from: control\n    to: 10.20.0.10\n    proto: udp\n    dport: 123\n",
	)
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

	// The same comparison from the daemon's verdict logs (here written by
	// replay in passthrough, as a box put inline in passthrough would). The
	// missing service shows; the DNP3 replies do not, because a log knows a
	// flow's replies only from its flow_end line and those sessions never
	// ended.
	logs := make([]string, 2)
	for i, pcap := range []string{before, after} {
		logs[i] = filepath.Join(t.TempDir(), "verdicts.log")
		if code, _, errOut := evRun(t, runReplay, "-c", filepath.Join(evidence, "plant.yaml"), "--mode", "passthrough", "--events", logs[i], pcap); code != 0 {
			t.Fatalf("replay %s: %s", pcap, errOut)
		}
	}
	code, out, errOut = evRun(t, runLearn, "--diff", logs[0], logs[1])
	var changes []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "missing") || strings.HasPrefix(l, "changed") || strings.HasPrefix(l, "new") {
			changes = append(changes, l)
		}
	}
	if code != 3 || len(changes) != 1 || !strings.Contains(changes[0], "10.20.0.33") || !strings.Contains(changes[0], "s7 tcp/102") ||
		!strings.HasPrefix(changes[0], "missing") {
		t.Errorf("diff of verdict logs: exit %d, changes %q\n%s%s", code, changes, out, errOut)
	}
}

// filterCapture copies the Ethernet frames of in whose IP packet keep
// accepts to out.
func filterCapture(t *testing.T, in, out string, keep func(*packet.Parsed) bool) {
	t.Helper()
	rewriteCapture(t, in, out, func(_ []byte, p *packet.Parsed) bool { return keep(p) })
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

// TestLearnConditionRestricts: a draft learned while the SCADA server
// wrote nothing (its requests cut from the capture; its sessions only
// connect) gives the Modbus rule preset read_only. Replaying the whole
// capture with it in enforce drops the first write of each SCADA session
// as a violation, and the rest of those streams as gaps (the capture
// cannot retransmit what was dropped): nothing else.
func TestLearnConditionRestricts(t *testing.T) {
	dir := t.TempDir()
	full, readOnly := filepath.Join(dir, "plant.pcap"), filepath.Join(dir, "read-only.pcap")
	if _, err := synth.WriteFile(full, synth.Config{Seed: 7, Duration: time.Hour, PollScale: 20}); err != nil {
		t.Fatal(err)
	}
	writes := 0 // the SCADA server's request segments
	scadaWrites := func(p *packet.Parsed) bool {
		return p.Src.String() == "10.20.0.10" && p.Proto == packet.ProtoTCP && p.DstPort == 502 && len(p.Payload) > 0
	}
	filterCapture(t, full, readOnly, func(p *packet.Parsed) bool {
		if scadaWrites(p) {
			writes++
			return false
		}
		return true
	})
	if writes < 4 {
		t.Fatalf("%d SCADA write segments in the capture", writes)
	}

	draft := filepath.Join(dir, "draft.yaml")
	if code, _, errOut := evRun(t, runLearn, "-o", draft, readOnly); code != 0 {
		t.Fatalf("learn: exit %d: %s", code, errOut)
	}
	pol, err := rules.Load(draft)
	if err != nil {
		t.Fatal(err)
	}
	y, _ := os.ReadFile(draft)
	q := rules.Query{Src: netip.MustParseAddr("10.20.0.10"), Dst: netip.MustParseAddr("10.10.0.10"), Proto: packet.ProtoTCP, SrcPort: 40000, DstPort: 502}
	q.SrcZone, q.DstZone = pol.Zone(q.Src), pol.Zone(q.Dst)
	r := pol.Rules[pol.Match(&q)]
	if w := modbusWrote(r.App); !strings.Contains(w, "preset: read_only") || strings.Contains(w, "functions") {
		t.Fatalf("SCADA -> PLC rule %s: %s\n%s", r.Name, r.App, y)
	}

	events := filepath.Join(dir, "events.log")
	code, out, errOut := evRun(t, runReplay, "-c", draft, "--mode", "enforce", "--json", "--events", events, full)
	if code != 0 {
		t.Fatalf("replay: exit %d: %s", code, errOut)
	}
	s := decodeSummary(t, out)
	if s.Verdicts.Drop != uint64(writes) || s.WouldDrop != uint64(writes) || s.Malformed != 0 {
		t.Errorf("dropped %d (would %d), want the %d SCADA write segments", s.Verdicts.Drop, s.WouldDrop, writes)
	}
	data, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	violations := map[string]int{} // by server
	gaps := 0
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var ev struct {
			Event, Verdict, Src, Dst, Reason string
			Dport                            int
			App                              struct{ Proto, Function string }
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Event != "verdict" || ev.Verdict != "drop" {
			continue
		}
		switch {
		case ev.Src != "10.20.0.10" || ev.Dport != 502:
			t.Errorf("dropped: %s", line)
		case ev.Reason == "app-violation" && ev.App.Proto == "modbus" && ev.App.Function == "write_single_register":
			violations[ev.Dst]++
		case ev.Reason == "stream-gap":
			gaps++
		default:
			t.Errorf("dropped: %s", line)
		}
	}
	// The SCADA server writes to two PLCs, one session each.
	if len(violations) != 2 || violations["10.10.0.10"] != 1 || violations["10.10.0.11"] != 1 || gaps != writes-2 {
		t.Errorf("violations %v, %d gaps; %d write segments", violations, gaps, writes)
	}
}

// TestLearnUsageNoConditions: the flag is in the command's help.
func TestLearnUsageNoConditions(t *testing.T) {
	code, _, errOut := evRun(t, runLearn, "-h")
	if code != 0 || !strings.Contains(errOut, "[--no-conditions]") || !strings.Contains(errOut, "-no-conditions") {
		t.Errorf("exit %d:\n%s", code, errOut)
	}
}

// TestLearnDiffUnreadable: an input that cannot be read gets an error and
// no verdict: "nothing changed" about a file never read would be a lie.
func TestLearnDiffUnreadable(t *testing.T) {
	good := filepath.Join(evidence, "plant.pcap")
	bad := tempFile(t, "bad.pcap", "\xd4\xc3\xb2\xa1 not really a capture")
	missing := filepath.Join(t.TempDir(), "missing.pcap")
	for _, args := range [][]string{{bad, good}, {good, missing}, {missing, bad}} {
		code, out, errOut := evRun(t, runLearn, append([]string{"--diff"}, args...)...)
		if code == 0 || code == 3 || strings.Contains(out, "no service") || strings.Contains(out, "KIND") || !strings.Contains(errOut, "no comparison") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want an error and no verdict", args, code, out, errOut)
		}
	}
}

// modbusWrote is a rule's Modbus condition as the policy writes it ("":
// none).
func modbusWrote(a *rules.AppCond) string {
	if a == nil || a.Proto != proto.Modbus {
		return ""
	}
	return a.String()
}
