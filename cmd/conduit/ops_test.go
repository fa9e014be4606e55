package main

// Unit tests of the operator commands against an in-process daemon core
// (engine, store, reloader and control socket; no queues, no root).

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/eventlog"
	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/rules"
)

// opsZones are the zones of the rig's policies, at the plant's addresses.
const opsZones = `zones:
  operations:  {level: 3, cidrs: [10.30.0.0/24]}
  supervisory: {level: 2, cidrs: [10.20.0.0/24]}
  control:     {level: 1, cidrs: [10.10.0.0/24]}
`

const opsTestPolicy = `mode: monitor
queue: {num: 30, count: 2}
` + opsZones + `conduits:
  - {from: operations, to: control, mode: enforce}
rules:
  - {name: hmi-polls-plc, from: supervisory, to: control, proto: tcp, dport: 502}
  - {name: wide, from: supervisory, to: 10.0.0.0/8, proto: udp, dport: 1-4000}
  - {name: cleanup, from: any, to: any, cleanup: true}
default: deny
`

type opsRig struct {
	o      *ops
	socket string
	file   string
}

func newOpsRig(t *testing.T) *opsRig {
	t.Helper()
	return newOpsRigWith(t, opsTestPolicy)
}

// newOpsRigWith is newOpsRig with another policy.
func newOpsRigWith(t *testing.T, policy string) *opsRig {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "conduit.yaml")
	if err := os.WriteFile(file, []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	pol, err := rules.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := inforce.NewStore(pol)
	o := &ops{
		eng:   engine.New(engine.Config{Store: store, Workers: 2, Log: log}),
		store: store, queueNum: 30, started: time.Now().Add(-time.Hour),
		logs: eventlog.NewMux(8), log: log, state: filepath.Join(dir, "state.json"),
	}
	o.reloader = &inforce.Reloader{Path: file, Store: store, Log: log, Load: o.loadPolicy, OnSwap: o.onSwap}
	r := &opsRig{o: o, socket: filepath.Join(dir, "c.sock"), file: file}
	ctl := o.startControl(r.socket)
	if ctl == nil {
		t.Fatal("control socket did not start")
	}
	t.Cleanup(func() { ctl.Close() })
	return r
}

// run runs a client command against the rig and returns stdout, stderr and
// the exit code.
func (r *opsRig) run(t *testing.T, fn func([]string, io.Writer, io.Writer) int, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := fn(append(args, "--socket", r.socket), &out, &errb)
	return out.String(), errb.String(), code
}

// runJSON runs a client command with --json against the rig, fails the
// test unless it exits 0 with JSON, decodes that into v and returns it.
func (r *opsRig) runJSON(t *testing.T, fn func([]string, io.Writer, io.Writer) int, v any, args ...string) string {
	t.Helper()
	out, errOut, code := r.run(t, fn, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("%v --json: exit %d: %s", args, code, errOut)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("%v --json: %v: %q", args, err, out)
	}
	return out
}

// decideFour has the rig's engine decide four SYNs, one on worker 0 and
// three on worker 1: two HMIs' polls that hmi-polls-plc allows, one the
// cleanup rule catches in monitor, and one of the enforced operations ->
// control conduit, which the cleanup rule allows.
func (r *opsRig) decideFour() {
	w0, w1 := r.o.eng.Worker(0), r.o.eng.Worker(1)
	w0.Decide(opsSyn("10.20.0.10", "10.10.0.10", 40000, 502))
	w1.Decide(opsSyn("10.20.0.11", "10.10.0.10", 40001, 502))
	w1.Decide(opsSyn("10.20.0.10", "10.10.0.10", 40002, 503))
	w1.Decide(opsSyn("10.30.0.10", "10.10.0.10", 40003, 502))
}

func TestStatusAndHitsAgree(t *testing.T) {
	r := newOpsRig(t)
	r.decideFour()

	var st map[string]any
	out := r.runJSON(t, runStatus, &st)
	for _, k := range []string{"mode", "conduits", "policy", "uptime_s", "queues", "conntrack", "verdicts", "rules"} {
		if _, ok := st[k]; !ok {
			t.Errorf("status --json lacks %q", k)
		}
	}
	var s statusReport
	json.Unmarshal([]byte(out), &s)
	if s.Mode != "monitor" || len(s.Conduits) != 1 || s.Conduits[0] != (conduitStatus{"operations", "control", "enforce"}) {
		t.Errorf("mode %q conduits %+v", s.Mode, s.Conduits)
	}
	if s.Policy.File != r.file || len(s.Policy.SHA256) != 64 || s.Policy.Generation != 1 || s.UptimeS < 3599 {
		t.Errorf("policy %+v uptime %d", s.Policy, s.UptimeS)
	}
	if len(s.Queues) != 2 || s.Queues[0].Num != 30 || s.Queues[0].Packets != 1 || s.Queues[1].Num != 31 || s.Queues[1].Packets != 3 {
		t.Errorf("queues %+v", s.Queues)
	}
	if m := s.Queues[1].ByMode; m["monitor"].Accept != 2 || m["enforce"].Accept != 1 {
		t.Errorf("queue 31 by mode %+v", m)
	}
	if s.Verdicts.Packets != 4 || s.Verdicts.Accept != 4 || s.Verdicts.Drop != 0 {
		t.Errorf("verdicts %+v", s.Verdicts)
	}
	if s.Conntrack.Entries != 4 || s.Conntrack.Capacity != 65536 {
		t.Errorf("conntrack %+v", s.Conntrack)
	}
	// Four allowed SYNs: four half-open handshakes; every class is listed.
	if c := s.Conntrack; c.EntriesByClass["handshake"] != 4 || len(c.EntriesByClass) != 5 || len(c.EvictionsByClass) != 5 || c.EvictionsByClass["established"] != 0 {
		t.Errorf("conntrack by class: entries %v evictions %v", c.EntriesByClass, c.EvictionsByClass)
	}

	var raw map[string]json.RawMessage
	out = r.runJSON(t, runHits, &raw)
	if len(raw) != 1 || raw["rules"] == nil {
		t.Errorf("hits --json is not {\"rules\": [...]}: %s", out)
	}
	var h hitsJSON
	json.Unmarshal([]byte(out), &h)
	if !reflect.DeepEqual(h.Rules, s.Rules) {
		t.Errorf("hits and status disagree:\n%+v\n%+v", h.Rules, s.Rules)
	}
	want := map[string][2]uint64{"hmi-polls-plc": {2, 2}, "wide": {0, 0}, "cleanup": {2, 2}, "default": {0, 0}}
	for i, rh := range h.Rules {
		if w := want[rh.Name]; rh.Packets != w[0] || rh.Flows != w[1] || rh.Index != i {
			t.Errorf("rule %+v, want packets/flows %v at index %d", rh, w, i)
		}
	}
	var obj []map[string]any
	json.Unmarshal(raw["rules"], &obj)
	for _, k := range []string{"name", "index", "action", "cleanup", "packets", "bytes", "flows", "requests", "first_hit", "last_hit"} {
		if _, ok := obj[0][k]; !ok {
			t.Errorf("rule object lacks %q", k)
		}
	}

	out, _, _ = r.run(t, runHits)
	wantContains(t, "hits table", out, "* cleanup", "cleanup rule", "* wide", "broad: to 10.0.0.0/8, 4000 ports", "QUIET FOR", "cleanup rule cleanup: quiet for 0s")
	out, _, _ = r.run(t, runStatus)
	wantContains(t, "status", out, "mode      monitor", "operations -> control: enforce", "4 packets: 4 accepted", "4 of 65536 flows", "QUEUE")
}

func TestFlowsFilter(t *testing.T) {
	r := newOpsRig(t)
	w := r.o.eng.Worker(0)
	w.Decide(opsSyn("10.20.0.10", "10.10.0.10", 40000, 502))
	w.Decide(opsSyn("10.20.0.11", "10.10.0.10", 40001, 503))
	w.Decide(opsSyn("10.30.0.10", "10.10.0.12", 40002, 502))
	for _, c := range []struct {
		args  []string
		ports []uint16
	}{
		{nil, []uint16{40000, 40001, 40002}},
		{[]string{"--zone", "supervisory"}, []uint16{40000, 40001}},
		{[]string{"--zone", "control"}, []uint16{40000, 40001, 40002}},
		{[]string{"--rule", "cleanup"}, []uint16{40001, 40002}},
		{[]string{"--addr", "10.10.0.12"}, []uint16{40002}},
		{[]string{"--addr", "10.20.0.0/24"}, []uint16{40000, 40001}},
		{[]string{"--zone", "supervisory", "--rule", "cleanup"}, []uint16{40001}},
		{[]string{"--limit", "1"}, []uint16{40000}},
	} {
		out, errOut, code := r.run(t, runFlows, append(c.args, "--json")...)
		if code != 0 {
			t.Fatalf("flows %v: %s", c.args, errOut)
		}
		var fr flowsReply
		json.Unmarshal([]byte(out), &fr)
		var got []uint16
		for _, f := range fr.Flows {
			got = append(got, f.Sport)
		}
		if !reflect.DeepEqual(got, c.ports) || fr.Total != 3 {
			t.Errorf("flows %v: ports %v (total %d), want %v", c.args, got, fr.Total, c.ports)
		}
	}
	for _, args := range [][]string{{"--zone", "nowhere"}, {"--rule", "nope"}, {"--addr", "x"}} {
		if _, errOut, code := r.run(t, runFlows, args...); code != 1 || errOut == "" || strings.Contains(errOut, "flows: flows:") {
			t.Errorf("flows %v: exit %d %q, want 1 with a message", args, code, errOut)
		}
	}
	if _, errOut, _ := r.run(t, runFlows, "--zone", "contrl"); errOut != "conduit flows: no zone \"contrl\" in the policy in force (zones: operations, supervisory, control)\n" {
		t.Errorf("flows --zone contrl: %q", errOut)
	}
	out, _, _ := r.run(t, runFlows, "--zone", "operations")
	if !strings.Contains(out, "10.30.0.10:40002") || !strings.Contains(out, "operations -> control") || !strings.Contains(out, "1 of 3 tracked flows") {
		t.Errorf("flows table:\n%s", out)
	}

	// A full table is shown a page at a time unless asked otherwise.
	for i := range 200 {
		w.Decide(opsSyn("10.20.0.10", "10.10.0.10", uint16(41000+i), 502))
	}
	out, _, _ = r.run(t, runFlows)
	if !strings.Contains(out, "200 of 203 tracked flows shown (203 matched; --limit 0 shows all)") {
		t.Errorf("default page:\n%s", out[max(0, len(out)-200):])
	}
	out, _, _ = r.run(t, runFlows, "--limit", "0", "--json")
	var all flowsReply
	if err := json.Unmarshal([]byte(out), &all); err != nil || len(all.Flows) != 203 {
		t.Errorf("--limit 0: %d flows, %v", len(all.Flows), err)
	}
}

func TestReloadCommand(t *testing.T) {
	r := newOpsRig(t)
	out, _, code := r.run(t, runReload)
	if code != 0 || !strings.HasPrefix(out, "unchanged:") {
		t.Errorf("reload of the same file: %d %q", code, out)
	}
	os.WriteFile(r.file, []byte(strings.Replace(opsTestPolicy, "mode: monitor", "mode: enforce", 1)), 0o644)
	out, _, code = r.run(t, runReload, "--json")
	var rr reloadReply
	json.Unmarshal([]byte(out), &rr)
	if code != 0 || rr.Result != "ok" || rr.Generation != 2 || rr.Mode != "enforce" || len(rr.Changes) != 1 || len(rr.Warnings) == 0 {
		t.Errorf("reload to enforce: %d %+v", code, rr)
	}
	os.WriteFile(r.file, []byte(opsTestPolicy+"bogus: 1\n  - x\n"), 0o644)
	out, errOut, code := r.run(t, runReload)
	if code != 1 || !strings.Contains(errOut, "generation 2") || !strings.Contains(errOut, "conduit.yaml:") || out != "" {
		t.Errorf("broken reload: %d %q %q", code, out, errOut)
	}
	if c := r.o.reloadCounts(); c.OK != 1 || c.Unchanged != 1 || c.Error != 1 {
		t.Errorf("reload counts %+v", c)
	}
	// status shows the refused file beside the generation in force, until
	// a reload succeeds.
	sum := sha256.Sum256([]byte(opsTestPolicy + "bogus: 1\n  - x\n"))
	out, _, _ = r.run(t, runStatus, "--json")
	var st statusReport
	json.Unmarshal([]byte(out), &st)
	if f := st.Policy.Refused; st.Policy.Generation != 2 || f == nil || f.SHA256 != hex.EncodeToString(sum[:]) || len(f.Errors) == 0 ||
		!strings.Contains(f.Errors[0], "conduit.yaml:") || f.Time.IsZero() || f.File != r.file {
		t.Errorf("status after a refused reload: %+v %+v", st.Policy, st.Policy.Refused)
	}
	out, _, _ = r.run(t, runStatus)
	if !strings.Contains(out, "refused at ") || !strings.Contains(out, hex.EncodeToString(sum[:])) || !strings.Contains(out, "generation 2 stays in force") {
		t.Errorf("status text after a refused reload:\n%s", out)
	}
	os.WriteFile(r.file, []byte(opsTestPolicy), 0o644)
	if _, errOut, code := r.run(t, runReload); code != 0 {
		t.Fatalf("reload: %d %s", code, errOut)
	}
	out, _, _ = r.run(t, runStatus, "--json")
	st = statusReport{}
	json.Unmarshal([]byte(out), &st)
	if st.Policy.Refused != nil || st.Policy.Generation != 3 {
		t.Errorf("status after a good reload: %+v", st.Policy)
	}
}

func TestClientUnreachableAndUsage(t *testing.T) {
	var out, errb bytes.Buffer
	code := runStatus([]string{"--socket", filepath.Join(t.TempDir(), "none.sock")}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "cannot reach the conduit daemon") {
		t.Errorf("unreachable: %d %q", code, errb.String())
	}
	if code := runHits([]string{"extra"}, &out, &errb); code != 2 {
		t.Errorf("extra argument: exit %d, want 2", code)
	}
	// The socket comes from the policy file's control.socket.
	dir := t.TempDir()
	file := filepath.Join(dir, "p.yaml")
	os.WriteFile(file, []byte(strings.Replace(opsTestPolicy, "mode: monitor", "mode: monitor\ncontrol: {socket: "+dir+"/x.sock}", 1)), 0o644)
	cf := &clientFlags{config: file}
	if got := cf.socketPath(); got != dir+"/x.sock" {
		t.Errorf("socket from the policy: %q", got)
	}
	if got := (&clientFlags{config: filepath.Join(dir, "none.yaml")}).socketPath(); got != defaultSocket {
		t.Errorf("socket without a policy: %q", got)
	}
}

func TestBroadness(t *testing.T) {
	pol, err := rules.Parse("t.yaml", []byte(`zones:
  a: {level: 2, cidrs: [10.20.0.0/24]}
  b: {level: 1, cidrs: [10.10.0.0/24]}
rules:
  - {name: narrow, from: a, to: b, proto: tcp, dport: 502}
  - {name: any-port, from: a, to: b, proto: tcp}
  - {name: any-proto, from: a, to: b}
  - {name: any-src, from: any, to: b, proto: udp, dport: [1-2000]}
  - {name: wide-cidr, from: 10.0.0.0/8, to: "fd00::/16", proto: icmp}
  - {name: denied, from: any, to: any, action: deny}
  - {name: few-ports, from: a, to: b, proto: udp, dport: [1-1024]}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"narrow": "", "any-port": "any port", "any-proto": "any protocol", "any-src": "from any, 2000 ports",
		"wide-cidr": "from 10.0.0.0/8, to fd00::/16", "denied": "", "few-ports": "",
	}
	for i := range pol.Rules {
		r := &pol.Rules[i]
		if got := broadness(r); got != want[r.Name] {
			t.Errorf("%s: %q, want %q", r.Name, got, want[r.Name])
		}
	}
}

func TestHumanFormats(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 59 * time.Second: "59s", 61 * time.Second: "1m01s", 3*time.Hour + 12*time.Minute: "3h12m",
		19*24*time.Hour + 4*time.Hour: "19d04h", -time.Second: "0s",
	} {
		if got := fmtAgo(d); got != want {
			t.Errorf("fmtAgo(%v) = %q, want %q", d, got, want)
		}
	}
	for n, want := range map[uint64]string{9999: "9999", 12345: "12.3k", 4_500_000: "4.5M", 6_700_000_000: "6.7G"} {
		if got := fmtCount(n); got != want {
			t.Errorf("fmtCount(%d) = %q", n, got)
		}
	}
	for n, want := range map[uint64]string{512: "512B", 1536: "1.5KiB", 3 << 20: "3.0MiB"} {
		if got := fmtBytes(n); got != want {
			t.Errorf("fmtBytes(%d) = %q", n, got)
		}
	}
}

// TestReloadMovesLog: a reload that changes log.file moves the log there
// without a restart; one whose file cannot be opened keeps the running log.
func TestReloadMovesLog(t *testing.T) {
	r := newOpsRig(t)
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first.log"), filepath.Join(dir, "second.log")
	withLog := func(path string) string {
		return strings.Replace(opsTestPolicy, "zones:", fmt.Sprintf("log: {file: %q}\nzones:", path), 1)
	}
	logs, err := openLogs(rules.LogConfig{File: first}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	r.o.logs, r.o.log = logs, slog.New(slog.NewJSONHandler(logs, nil))
	t.Cleanup(func() { logs.Close(time.Second) })
	if err := os.WriteFile(r.file, []byte(withLog(first)), 0o644); err != nil {
		t.Fatal(err)
	}
	r.o.reloader.Reload("test")
	r.o.log.Info("before")

	if err := os.WriteFile(r.file, []byte(withLog(second)), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := r.o.reloader.Reload("test"); res.Err != nil || !res.Changed {
		t.Fatalf("reload: %+v", res)
	}
	r.o.log.Info("after")
	if err := os.WriteFile(r.file, []byte(withLog(filepath.Join(dir, "missing", "x.log"))), 0o644); err != nil {
		t.Fatal(err)
	}
	r.o.reloader.Reload("test")
	r.o.log.Info("still")
	logs.Close(time.Second)

	read := func(p string) string {
		b, _ := os.ReadFile(p)
		return string(b)
	}
	a, b := read(first), read(second)
	for _, c := range []struct {
		file, text, want string
		in               bool
	}{
		{"first", a, `"msg":"before"`, true},
		{"first", a, `"msg":"log sinks changing"`, true},
		{"first", a, `"msg":"after"`, false},
		{"second", b, `"msg":"log sinks changed"`, true},
		{"second", b, `"msg":"after"`, true},
		{"second", b, `"msg":"log settings refused; the running sinks stay"`, true},
		{"second", b, `"msg":"still"`, true},
	} {
		if strings.Contains(c.text, c.want) != c.in {
			t.Errorf("%s log has %s: %v, want %v\n%s", c.file, c.want, !c.in, c.in, c.text)
		}
	}
}

// TestReloadAppliesTimeouts: conntrack.timeouts changed in the file apply
// to the running table at the reload.
func TestReloadAppliesTimeouts(t *testing.T) {
	r := newOpsRig(t)
	text := strings.Replace(opsTestPolicy, "zones:", "conntrack: {timeouts: {udp: 90s, tcp_established: 48h}}\nzones:", 1)
	if err := os.WriteFile(r.file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if res := r.o.reloader.Reload("test"); res.Err != nil || !res.Changed {
		t.Fatalf("reload: %+v", res)
	}
	if got := r.o.eng.Conntrack().Timeouts(); got.UDP != 90*time.Second || got.TCPEstablished != 48*time.Hour {
		t.Errorf("running timeouts %+v after the reload", got)
	}
}
