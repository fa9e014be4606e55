package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/rules"
)

var update = flag.Bool("update", false, "rewrite testdata/replay/*.replay.json")

const testdata = "../testdata/replay"

func policy(t testing.TB, yaml string) *rules.Policy {
	t.Helper()
	p, err := rules.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	return p
}

func loadPolicy(t testing.TB, path string) *rules.Policy {
	t.Helper()
	p, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// run replays paths with p and returns the result and the event lines.
func run(t testing.TB, p *rules.Policy, paths ...string) (Result, []map[string]any, []error) {
	t.Helper()
	var ev bytes.Buffer
	r := New(Config{Policy: p, Events: &ev})
	errs := r.OpenAll(paths)
	res, err := r.Result()
	if err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	sc := bufio.NewScanner(&ev)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("event line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return res, lines, errs
}

type ruleWant struct {
	packets, bytes, flows uint64
	// requests and wouldDrop are checked when the test gives them (-1: not).
	requests, wouldDrop int64
}

func checkRules(t *testing.T, res Result, want map[string]ruleWant) {
	t.Helper()
	for _, h := range res.Rules {
		w, ok := want[h.Name]
		if !ok {
			t.Errorf("unexpected rule %s in the result", h.Name)
			continue
		}
		if h.Packets != w.packets || h.Bytes != w.bytes || h.Flows != w.flows {
			t.Errorf("rule %s: packets %d bytes %d flows %d; want %d %d %d", h.Name, h.Packets, h.Bytes, h.Flows, w.packets, w.bytes, w.flows)
		}
		if w.requests >= 0 && h.Requests != uint64(w.requests) || w.wouldDrop >= 0 && h.WouldDrop != uint64(w.wouldDrop) {
			t.Errorf("rule %s: requests %d would_drop %d; want %d %d", h.Name, h.Requests, h.WouldDrop, w.requests, w.wouldDrop)
		}
		delete(want, h.Name)
	}
	for name := range want {
		t.Errorf("rule %s missing from the result", name)
	}
}

// TestPlant replays the generated plant capture with its policy. The
// expected counts were derived with tshark 4.0 from the capture alone:
// packets and bytes are frame counts and sums of ip.len under a display
// filter per rule; TCP flows are tcp.stream values plus the packets whose
// tcp.time_delta (tcp.calculate_timestamps) reaches the rule's
// idle_timeout (each such gap ends the flow and the next packet is picked
// up as a new one); UDP flows are udp.stream values; ICMP flows are echo
// requests (no two of the same id within 30 s).
//
//	hmi-polls-modbus  ip.src==10.20.0.0/24 && tcp.dstport==502 || ip.dst==10.20.0.0/24 && tcp.srcport==502: 22 streams, 1 gap >= 30m
//	scada-polls-rtus  tcp.port==20000
//	scada-reads-s7    ip.addr==10.20.0.10 && tcp.port==102
//	ews-programs-s7   ip.addr==10.20.0.33 && tcp.port==102: 1 stream, 1 gap >= 1h
//	hmi-enip          tcp.port==44818
//	cleanup           ip.addr==10.20.0.33 && udp.port==53 (the workstation's DNS has no rule)
//
// Requests are the PDUs each rule's protocol condition judged (all allowed,
// so would_drop is 0 but for the cleanup rule's denied DNS packets),
// counted with tshark as occurrences of a field in the client's packets:
//
//	hmi-polls-modbus  tcp.dstport==502 && mbtcp: mbtcp.trans_id, 521
//	scada-polls-rtus  tcp.dstport==20000 && dnp3.al.func: 24, less the 4 application confirms (function 0), which are not judged
//	scada-reads-s7    ip.src==10.20.0.10 && tcp.dstport==102 && s7comm.header.rosctr==1: s7comm.param.func, 55
//	ews-programs-s7   ip.src==10.20.0.33 && tcp.dstport==102 && s7comm.header.rosctr==1: s7comm.param.func, 81
//	hmi-enip          tcp.dstport==44818 && enip: enip.command, 109 (with 105 CIP requests inside)
func TestPlant(t *testing.T) {
	p := loadPolicy(t, filepath.Join(testdata, "plant.yaml"))
	res, lines, errs := run(t, p, filepath.Join(testdata, "plant.pcap"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if res.Packets != 2569 || res.Flows != 96 || res.Malformed != 0 || res.Verdicts != (Verdicts{Accept: 2569}) || res.WouldDrop != 2 {
		t.Errorf("summary %+v", res)
	}
	checkRules(t, res, map[string]ruleWant{
		"hmi-polls-modbus":   {1599, 80233, 23, 521, 0},
		"scada-polls-rtus":   {81, 4832, 4, 20, 0},
		"scada-reads-s7":     {171, 11696, 2, 55, 0},
		"ews-programs-s7":    {249, 19192, 2, 81, 0},
		"hmi-enip":           {339, 23896, 4, 109, 0},
		"scada-to-historian": {10, 1310, 1, 0, 0},
		"ntp-controllers":    {62, 4712, 31, 0, 0},
		"ntp-site":           {12, 912, 6, 0, 0},
		"dns":                {16, 1126, 8, 0, 0},
		"scada-pings-plcs":   {28, 1680, 14, 0, 0},
		"cleanup":            {2, 140, 1, 0, 2},
		"default":            {0, 0, 0, 0, 0},
	})
	if c := res.Captures; len(c) != 1 || c[0].Frames != 2570 || c[0].Packets != 2569 || c[0].Skipped != 1 || c[0].Error != "" {
		t.Errorf("captures %+v", c)
	}
	// Every new flow is logged (every rule logs), and the two sessions
	// that outlived their idle_timeout ended with reason idle at capture
	// time: the next packet after the gap found them expired.
	verdicts, idle := 0, map[string]bool{}
	for _, l := range lines {
		switch l["event"] {
		case "verdict":
			verdicts++
		case "flow_end":
			if l["reason"] == "idle" && l["proto"] == "tcp" {
				idle[l["rule"].(string)] = true
				if !strings.HasPrefix(l["time"].(string), "2024-03-04T") {
					t.Errorf("flow_end at %v: not capture time", l["time"])
				}
			}
		}
	}
	if verdicts != int(res.Flows) {
		t.Errorf("%d verdict lines for %d flows", verdicts, res.Flows)
	}
	if !idle["hmi-polls-modbus"] || !idle["ews-programs-s7"] || len(idle) != 2 {
		t.Errorf("TCP flows ended idle under rules %v; want hmi-polls-modbus and ews-programs-s7", idle)
	}
	golden(t, filepath.Join(testdata, "plant.replay.json"), res)
}

// golden compares res with a stored result, so that any change in what
// replay reports is seen in review; -update rewrites it.
func golden(t *testing.T, path string, res Result) {
	t.Helper()
	for i := range res.Captures {
		res.Captures[i].Name = filepath.Base(res.Captures[i].Name)
	}
	goldenJSON(t, path, "result", res)
}

// goldenJSON compares v, as indented JSON, with the file at path (what
// names it in the message); -update rewrites the file.
func goldenJSON(t *testing.T, path, what string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./replay -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (go test ./replay -update rewrites it):\n%s", what, path, got)
	}
}

func TestTruncatedCapture(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testdata, "plant.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	// Count the packets wholly inside the first 100,000 bytes.
	cut := 100_000
	r, err := capture.NewReader(bytes.NewReader(data[:cut]))
	if err != nil {
		t.Fatal(err)
	}
	var pk capture.Packet
	whole := 0
	for r.Next(&pk) == nil {
		whole++
	}
	path := filepath.Join(t.TempDir(), "cut.pcap")
	if err := os.WriteFile(path, data[:cut], 0o644); err != nil {
		t.Fatal(err)
	}
	p := loadPolicy(t, filepath.Join(testdata, "plant.yaml"))
	res, _, errs := run(t, p, path)
	var ce *capture.Error
	if len(errs) != 1 || !errors.As(errs[0], &ce) || !errors.Is(errs[0], capture.ErrTruncated) {
		t.Fatalf("errors %v; want one truncation", errs)
	}
	if ce.Offset >= int64(cut) || ce.Offset < int64(cut)-2000 || ce.Packet == 0 {
		t.Errorf("stopped at byte %d packet %d", ce.Offset, ce.Packet)
	}
	if int(res.Packets) != whole || whole < 1000 {
		t.Errorf("replayed %d packets; %d were whole before the cut", res.Packets, whole)
	}
	if c := res.Captures[0]; c.Error == "" || !strings.Contains(c.Error, "at byte") {
		t.Errorf("capture result %+v", c)
	}
}

func TestNotACapture(t *testing.T) {
	p := loadPolicy(t, filepath.Join(testdata, "plant.yaml"))
	res, _, errs := run(t, p, filepath.Join(testdata, "plant.yaml"), filepath.Join(testdata, "absent.pcap"))
	if len(errs) != 2 || !errors.Is(errs[0], capture.ErrFormat) || !errors.Is(errs[1], os.ErrNotExist) {
		t.Errorf("errors %v", errs)
	}
	if res.Packets != 0 || len(res.Captures) != 2 || res.Captures[0].Error == "" {
		t.Errorf("result %+v", res)
	}
}
