package report

import (
	"bytes"
	"context"
	"github.com/conduit-ot/conduit/proto/modbus"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/replay"
	"github.com/conduit-ot/conduit/rules"
)

const testdata = "../testdata/replay"

func plant(t testing.TB) (*rules.Policy, string) {
	t.Helper()
	p, err := rules.Load(filepath.Join(testdata, "plant.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p, filepath.Join(testdata, "plant.pcap")
}

// offlineReport replays the captures with Offline and builds their report
// from its evidence, the path of `conduit report`.
func offlineReport(tb testing.TB, pol *rules.Policy, paths ...string) (Evidence, *Report) {
	tb.Helper()
	ev, err := Offline(pol, paths)
	if err != nil {
		tb.Fatal(err)
	}
	r, err := Build(pol, ev.Input)
	if err != nil {
		tb.Fatal(err)
	}
	return ev, r
}

// TestOfflinePlant builds the report of the plant capture and checks it
// against what replay alone reports on it (replay's TestPlant derives
// those counts from the capture with tshark).
func TestOfflinePlant(t *testing.T) {
	pol, pcap := plant(t)
	ev, r := offlineReport(t, pol, pcap)
	res := ev.Result
	alone := replay.New(replay.Config{Policy: pol})
	if err := alone.Open(pcap); err != nil {
		t.Fatal(err)
	}
	want, err := alone.Result()
	if err != nil {
		t.Fatal(err)
	}
	if res.Packets != want.Packets || res.Flows != want.Flows || res.WouldDrop != want.WouldDrop || res.Verdicts != want.Verdicts {
		t.Errorf("with the collector: %+v; replay alone: %+v", res, want)
	}
	for i := range want.Rules {
		a, b := res.Rules[i], want.Rules[i]
		if a.Name != b.Name || a.Packets != b.Packets || a.Flows != b.Flows || a.Requests != b.Requests || a.WouldDrop != b.WouldDrop {
			t.Errorf("rule %s: %+v; replay alone %+v", b.Name, a, b)
		}
	}
	// Every packet of the plant belongs to a tracked flow (monitor, none
	// malformed), so the matrix accounts for all of them.
	var flows, packets, would uint64
	for _, c := range r.Conduits {
		flows += c.Flows
		packets += c.Packets
		would += c.WouldDropPackets
	}
	if flows != want.Flows || packets != want.Packets || would != want.WouldDrop {
		t.Errorf("matrix: %d flows %d packets %d would-drop; replay: %d %d %d", flows, packets, would, want.Flows, want.Packets, want.WouldDrop)
	}
	type cw struct {
		flows, allowed, would, packets uint64
		fn                             string // one function that must be listed
	}
	wantC := map[string]cw{
		"control->supervisory":    {31, 31, 0, 62, ""},
		"engineering->control":    {2, 2, 0, 249, "s7 write_var"},
		"engineering->operations": {2, 1, 1, 4, ""},
		"supervisory->control":    {47, 47, 0, 2218, "modbus read_holding_registers"},
		"supervisory->operations": {14, 14, 0, 36, ""},
	}
	for _, c := range r.Conduits {
		w, ok := wantC[c.ID()]
		if !ok {
			t.Errorf("unexpected conduit %s", c.ID())
			continue
		}
		delete(wantC, c.ID())
		if c.Flows != w.flows || c.Allowed != w.allowed || c.WouldDrop != w.would || c.Packets != w.packets || c.Mode != "monitor" {
			t.Errorf("conduit %s: %+v; want %+v", c.ID(), c, w)
		}
		if w.fn != "" && !contains(c.Functions, w.fn) {
			t.Errorf("conduit %s functions %q lack %q", c.ID(), c.Functions, w.fn)
		}
	}
	for id := range wantC {
		t.Errorf("conduit %s missing", id)
	}
	// The workstation's DNS is what the cleanup rule caught.
	found := false
	for _, c := range r.Conduits {
		for _, row := range c.Rows {
			if row.Verdict == WouldDrop {
				found = true
				if row.Client != "10.20.0.33" || row.Service != "dns" || row.Rule != "cleanup" || row.Packets != 2 {
					t.Errorf("would-drop row %+v", row)
				}
			}
		}
	}
	if !found {
		t.Error("no would-drop row")
	}
	if r.First == nil || r.Last == nil || r.First.Truncate(time.Second) != time.Date(2024, 3, 4, 6, 0, 0, 0, time.UTC) {
		t.Errorf("window %v %v", r.First, r.Last)
	}
	for _, rule := range r.Rules {
		if rule.Name == "default" && rule.QuietFor != "never hit" {
			t.Errorf("default quiet for %q", rule.QuietFor)
		}
	}
}

// TestRefused: with the workstation's S7 writes taken out of its rule,
// the writes are refused by the condition (would-drop in monitor): the
// conduit, its row and its functions say so, and the would-drop packets
// of the map add up to replay's.
func TestRefused(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testdata, "plant.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	narrowed := strings.Replace(string(b), "s7: {functions: [setup_communication, read_var, write_var]}", "s7: {functions: [setup_communication, read_var]}", 1)
	if narrowed == string(b) {
		t.Fatal("the plant's policy changed: no write_var to take out")
	}
	for _, mode := range []string{"monitor", "enforce"} {
		pol, err := rules.Parse("narrowed.yaml", []byte(strings.Replace(narrowed, "mode: monitor", "mode: "+mode, 1)))
		if err != nil {
			t.Fatal(err)
		}
		ev, r := offlineReport(t, pol, filepath.Join(testdata, "plant.pcap"))
		res := ev.Result
		var ews uint64
		for _, h := range res.Rules {
			if h.Name == "ews-programs-s7" {
				ews = h.WouldDrop
			}
		}
		var c *Conduit
		for i := range r.Conduits {
			if r.Conduits[i].ID() == "engineering->control" {
				c = &r.Conduits[i]
			}
		}
		if ews == 0 || c == nil || c.Refused != ews {
			t.Fatalf("%s: the rule refused %d packets; the conduit %+v", mode, ews, c)
		}
		want := WouldDrop
		if mode == "enforce" {
			want = Denied
			if c.RefusedDropped != ews {
				t.Errorf("enforce: %d of %d refused packets dropped", c.RefusedDropped, ews)
			}
		}
		if c.Class() != want || len(c.Rows) != 1 || c.Rows[0].Class() != want || c.Rows[0].Verdict != Allowed {
			t.Errorf("%s: conduit class %s, rows %+v", mode, c.Class(), c.Rows)
		}
		if !contains(c.Functions, "s7 write_var (refused)") || !contains(c.Functions, "s7 read_var") {
			t.Errorf("%s: functions %q", mode, c.Functions)
		}
		if mode == "monitor" {
			var would uint64
			for _, c := range r.Conduits {
				would += c.WouldDropPackets + c.Refused
			}
			if would != res.WouldDrop {
				t.Errorf("map: %d would-drop packets; replay %d", would, res.WouldDrop)
			}
		}
	}
}

// record is an event record as the engine writes it.
func record(attrs ...slog.Attr) slog.Record {
	r := slog.NewRecord(time.Unix(0, 0), slog.LevelInfo, "verdict", 0)
	r.AddAttrs(attrs...)
	return r
}

func verdictLine(mode, verdict, would, rule, reason string, flow uint64, src, dst string, dport int) slog.Record {
	return record(slog.String("event", "verdict"), slog.String("mode", mode), slog.String("verdict", verdict),
		slog.String("would", would), slog.String("rule", rule), slog.String("from_zone", "a"), slog.String("to_zone", "b"),
		slog.String("proto", "tcp"), slog.String("src", src), slog.String("dst", dst), slog.Int("sport", 40000),
		slog.Int("dport", dport), slog.Uint64("flow", flow), slog.String("reason", reason))
}

func flowEnd(flow, po, pr, bo, br uint64) slog.Record {
	return record(slog.String("event", "flow_end"), slog.Uint64("flow", flow),
		slog.Uint64("packets_orig", po), slog.Uint64("packets_reply", pr),
		slog.Uint64("bytes_orig", bo), slog.Uint64("bytes_reply", br))
}

type fakeFlows []engine.FlowInfo

func (f fakeFlows) Flows(fn func(engine.FlowInfo) bool) {
	for _, fi := range f {
		if !fn(fi) {
			return
		}
	}
}

func TestCollector(t *testing.T) {
	tests := []struct {
		name    string
		lines   []slog.Record
		table   fakeFlows
		reqs    []engine.RequestSeen
		want    []Row
		spoofed uint64
	}{
		{
			name: "a flow counted at its end, with its functions",
			lines: []slog.Record{
				verdictLine("monitor", "accept", "accept", "r1", "new-flow", 7, "10.0.0.1", "10.0.1.1", 502),
				flowEnd(7, 3, 2, 300, 200),
			},
			reqs: []engine.RequestSeen{
				{Client: netip.MustParseAddr("10.0.0.1"), Server: netip.MustParseAddr("10.0.1.1"), Proto: 6, Port: 502, Kind: modbus.KindRequest, Code: 3},
				{Client: netip.MustParseAddr("10.0.0.1"), Server: netip.MustParseAddr("10.0.1.1"), Proto: 6, Port: 502, Kind: modbus.KindRequest, Code: 3},
				{Client: netip.MustParseAddr("10.0.0.1"), Server: netip.MustParseAddr("10.0.1.1"), Proto: 6, Port: 502, Kind: engine.KindUnparsed},
			},
			want: []Row{{From: "a", To: "b", Client: "10.0.0.1", Server: "10.0.1.1", Proto: "tcp", Port: 502, Service: "modbus",
				Functions: []string{"modbus read_holding_registers"}, Rule: "r1", Mode: "monitor", Verdict: Allowed, Flows: 1, Packets: 5, Bytes: 500}},
		},
		{
			name: "flows of one service add up; one still tracked is read from the table",
			lines: []slog.Record{
				verdictLine("monitor", "accept", "drop", "cleanup", "new-flow", 1, "10.0.0.1", "10.0.1.1", 53),
				verdictLine("monitor", "accept", "drop", "cleanup", "new-flow", 2, "10.0.0.1", "10.0.1.1", 53),
				flowEnd(1, 1, 0, 70, 0),
			},
			table: fakeFlows{{ID: 2, PacketsOrig: 1, PacketsReply: 1, BytesOrig: 60, BytesReply: 90}, {ID: 99, PacketsOrig: 5}},
			want: []Row{{From: "a", To: "b", Client: "10.0.0.1", Server: "10.0.1.1", Proto: "tcp", Port: 53, Service: "dns",
				Rule: "cleanup", Mode: "monitor", Verdict: WouldDrop, Flows: 2, Packets: 3, Bytes: 220}},
		},
		{
			name: "denied in enforce and untracked: each line is a packet; spoofed and reevaluated lines start nothing",
			lines: []slog.Record{
				verdictLine("enforce", "drop", "drop", "default", "new-flow", 0, "10.0.0.9", "10.0.1.1", 23),
				verdictLine("enforce", "drop", "drop", "default", "new-flow", 0, "10.0.0.9", "10.0.1.1", 23),
				verdictLine("enforce", "drop", "drop", "", "spoofed-source", 0, "10.0.0.9", "10.0.1.1", 23),
				verdictLine("enforce", "drop", "drop", "r1", "reevaluated", 5, "10.0.0.9", "10.0.1.1", 23),
			},
			spoofed: 1,
			want: []Row{{From: "a", To: "b", Client: "10.0.0.9", Server: "10.0.1.1", Proto: "tcp", Port: 23, Service: "telnet",
				Rule: "default", Mode: "enforce", Verdict: Denied, Flows: 2, Packets: 2}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCollector()
			for _, r := range tt.reqs {
				c.OnRequest(r)
			}
			for _, l := range tt.lines {
				if err := c.Handle(context.Background(), l); err != nil {
					t.Fatal(err)
				}
			}
			if tt.table != nil {
				c.Finish(tt.table)
			}
			got := c.Rows()
			if len(got) != len(tt.want) {
				t.Fatalf("rows %+v; want %+v", got, tt.want)
			}
			for i := range got {
				if !rowEqual(got[i], tt.want[i]) {
					t.Errorf("row %d: %+v; want %+v", i, got[i], tt.want[i])
				}
			}
			if c.Spoofed != tt.spoofed {
				t.Errorf("spoofed %d; want %d", c.Spoofed, tt.spoofed)
			}
		})
	}
}

func rowEqual(a, b Row) bool { return reflect.DeepEqual(a, b) }

const layoutPolicy = `mode: monitor
zones:
  enterprise: {level: 5, cidrs: [10.50.0.0/24]}
  business:   {level: 4, cidrs: [10.40.0.0/24]}
  dmz:        {level: dmz, cidrs: [10.35.0.0/24]}
  ops:        {level: 3, cidrs: [10.30.0.0/24]}
  cell:       {level: 1, cidrs: [10.10.0.0/24]}
  safety:     {level: 0, cidrs: [10.0.0.0/24]}
  newvlan:    {level: unknown, cidrs: [10.99.0.0/24]}
conduits:
  - {from: dmz, to: ops, mode: enforce}
rules:
  - {name: a, from: ops, to: cell, proto: tcp, dport: 502}
`

// TestLayout: levels from 5 at the top to 0 at the bottom, the DMZ
// between 4 and 3, zones of unknown level at the side, and a conduit of
// the policy drawn although nothing crossed it.
func TestLayout(t *testing.T) {
	pol, err := rules.Parse("layout.yaml", []byte(layoutPolicy))
	if err != nil {
		t.Fatal(err)
	}
	rows := []Row{{From: "ops", To: "cell", Client: "10.30.0.1", Server: "10.10.0.1", Proto: "tcp", Port: 502, Verdict: Allowed, Flows: 1},
		{From: "unknown", To: "cell", Client: "192.0.2.1", Server: "10.10.0.1", Proto: "tcp", Port: 23, Verdict: WouldDrop, Flows: 1}}
	r, err := Build(pol, Input{Rows: rows})
	if err != nil {
		t.Fatal(err)
	}
	y := map[string]float64{}
	x := map[string]float64{}
	for _, b := range r.Map.Boxes {
		y[b.Zone], x[b.Zone] = b.Y, b.X
	}
	order := []string{"enterprise", "business", "dmz", "ops", "cell", "safety"}
	for i := 1; i < len(order); i++ {
		if y[order[i-1]] >= y[order[i]] {
			t.Errorf("%s (y %v) is not above %s (y %v)", order[i-1], y[order[i-1]], order[i], y[order[i]])
		}
	}
	for _, side := range []string{"newvlan", "unknown"} {
		if _, ok := x[side]; !ok || x[side] < mapLeft+mainWidth {
			t.Errorf("%s not at the side: %v", side, x)
		}
	}
	arrows := map[string]Arrow{}
	for _, a := range r.Map.Arrows {
		arrows[a.Conduit] = a
	}
	if a, ok := arrows["dmz->ops"]; !ok || a.Class != Idle || !strings.Contains(a.Lines[0], "enforce · 0 flows") {
		t.Errorf("the override's arrow: %+v", a)
	}
	if a := arrows["unknown->cell"]; a.Class != WouldDrop {
		t.Errorf("unknown->cell: %+v", a)
	}
	for i, a := range r.Map.Arrows {
		for _, b := range r.Map.Arrows[:i] {
			if a.LabelX < b.LabelX+b.LabelW && b.LabelX < a.LabelX+a.LabelW && a.LabelY < b.LabelY+b.LabelH && b.LabelY < a.LabelY+a.LabelH {
				t.Errorf("labels of %s and %s overlap", a.Conduit, b.Conduit)
			}
		}
	}
}

type readiness []Readiness

func (r readiness) Annotate(rep *Report) error {
	rep.Readiness = r
	for i := range rep.Rules {
		if rep.Rules[i].Name == "cleanup" {
			rep.Rules[i].Coverage = []string{"10.20.0.33 -> 10.30.0.5 udp/53: 2 packets"}
		}
	}
	return nil
}

// TestRender: the page is self-contained, escapes what it shows, and the
// optional sections appear only when an annotator supplies them.
func TestRender(t *testing.T) {
	pol, pcap := plant(t)
	ev, err := Offline(pol, []string{pcap})
	in := ev.Input
	if err != nil {
		t.Fatal(err)
	}
	in.Version = "test<script>"
	for _, tt := range []struct {
		name string
		ann  []Annotator
		want []string
		not  []string
	}{
		{name: "plain", not: []string{`id="readiness-section"`, "Coverage / narrowing"}},
		{name: "annotated", ann: []Annotator{readiness{{Conduit: "engineering->operations", Verdict: "not ready",
			Criteria: []Criterion{{Name: "cleanup quiet", Figure: "quiet 0s of 14d", Pass: false}}}}},
			want: []string{`id="readiness-section"`, "quiet 0s of 14d", "Coverage / narrowing", "udp/53: 2 packets"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Build(pol, in, tt.ann...)
			if err != nil {
				t.Fatal(err)
			}
			var b bytes.Buffer
			if err := Render(&b, r); err != nil {
				t.Fatal(err)
			}
			page := b.String()
			if err := SelfContained(b.Bytes()); err != nil {
				t.Error(err)
			}
			if !strings.Contains(page, "default-src 'none'") {
				t.Error("no content security policy forbidding loads")
			}
			if strings.Contains(page, "test<script>") || !strings.Contains(page, "test&lt;script&gt;") {
				t.Error("the version is not escaped")
			}
			for _, s := range append([]string{pol.SHA256, "2024-03-04 06:00:00Z", "2024-03-04 08:59:59Z", `data-zone="engineering"`,
				`data-conduit="engineering-&gt;operations"`, `class="rule cleanup"`,
				`data-cleanup="cleanup"><b>cleanup</b>: 2 packets, 1 flows, last hit 2024-03-04 06:00:10Z, quiet for <b>2h59m</b>`}, tt.want...) {
				if !strings.Contains(page, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			for _, s := range tt.not {
				if strings.Contains(page, s) {
					t.Errorf("page has %q", s)
				}
			}
		})
	}
}

// TestExternalPattern: the check of TestRender catches what it must.
func TestExternalPattern(t *testing.T) {
	for _, s := range []string{`<script src="x.js">`, `<img src=a.png>`, `<link href="s.css">`, `http://a`, `//cdn.example/x`,
		`style="background:url(a.png)"`, `@import "x.css"`, `fetch("https://x")`} {
		if SelfContained([]byte(s)) == nil {
			t.Errorf("%q not caught", s)
		}
	}
	for _, s := range []string{`marker-end="url(#head-allowed)"`, `<a href="#matrix">`, `data-zone="x"`, `http-equiv="Content-Security-Policy"`} {
		if err := SelfContained([]byte(s)); err != nil {
			t.Errorf("%q caught: %v", s, err)
		}
	}
}
