package main

// The names the e2e tests of this package use for the harness of
// internal/e2e: thin wrappers that keep the tests (and tests written
// against these names) as they were when the harness lived here.

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/internal/plant"
)

const (
	blockTimeout = e2e.BlockTimeout
	passTimeout  = e2e.PassTimeout
	startTimeout = e2e.StartTimeout
	eventTimeout = e2e.EventTimeout
	exitTimeout  = e2e.ExitTimeout

	plcTCP = e2e.PLCTCP
	plcUDP = e2e.PLCUDP
)

func TestMain(m *testing.M) { os.Exit(e2e.Main(m)) }

func binaries(t *testing.T) (conduit, peer string) { t.Helper(); return e2e.Binaries(t) }

var writeFile = e2e.WriteFile

type syncBuffer = e2e.SyncBuffer

// rig is e2e.Rig with its fields under their old names.
type rig struct {
	*e2e.Rig
	t             *testing.T
	p             *plant.Plant
	conduit, peer string
	dir           string
	path          string // the policy file
}

func newRig(t *testing.T) *rig { t.Helper(); return wrapRig(t, e2e.NewRig(t)) }

func wrapRig(t *testing.T, r *e2e.Rig) *rig {
	return &rig{Rig: r, t: t, p: r.P, conduit: r.Conduit, peer: r.Peer, dir: r.Dir, path: r.Path}
}

func (r *rig) server(ns string, args ...string) { r.t.Helper(); r.Server(ns, args...) }
func (r *rig) waitLocal(ns, proto, addr string) { r.t.Helper(); r.WaitLocal(ns, proto, addr) }
func (r *rig) src(f flow) netip.Addr            { return r.Src(f.e2e()) }
func (r *rig) dst(f flow) netip.Addr            { return r.Dst(f.e2e()) }
func (r *rig) addr(f flow) string               { return r.Addr(f.e2e()) }
func (r *rig) probe(f flow, timeout time.Duration) error {
	return r.Probe(f.e2e(), timeout)
}
func (r *rig) mustPass(f flow, why string)  { r.t.Helper(); r.MustPass(f.e2e(), why) }
func (r *rig) mustBlock(f flow, why string) { r.t.Helper(); r.MustBlock(f.e2e(), why) }

// mustPassAll and mustBlockAll are mustPass and mustBlock for each of fs.
func (r *rig) mustPassAll(why string, fs ...flow) { r.t.Helper(); r.MustPassAll(why, e2eFlows(fs)...) }
func (r *rig) mustBlockAll(why string, fs ...flow) {
	r.t.Helper()
	r.MustBlockAll(why, e2eFlows(fs)...)
}
func (r *rig) bigUDP(f flow, size, n int, timeout time.Duration) int {
	r.t.Helper()
	return r.BigUDP(f.e2e(), size, n, timeout)
}
func (r *rig) tablePresent() bool { r.t.Helper(); return r.TablePresent() }
func (r *rig) divertTables()      { r.t.Helper(); r.DivertTables() }
func (r *rig) deleteTables()      { r.t.Helper(); r.DeleteTables() }
func (r *rig) killKeepingTable(d *daemon) {
	r.t.Helper()
	r.KillKeepingTable(d.Daemon)
}

// flow is e2e.Flow with its fields under their old names.
// Its fields, in the order of the literals: desc, from (the client host's
// zone key), proto (tcp, udp, icmp), v6, rule (the rule that decides it),
// fromZone, allowed.
type flow struct {
	desc, from, proto string
	v6                bool
	rule, fromZone    string
	allowed           bool
}

func (f flow) e2e() e2e.Flow {
	return e2e.Flow{Desc: f.desc, From: f.from, Proto: f.proto, V6: f.v6, Rule: f.rule, FromZone: f.fromZone, Allowed: f.allowed}
}

func e2eFlows(fs []flow) []e2e.Flow {
	out := make([]e2e.Flow, len(fs))
	for i, f := range fs {
		out[i] = f.e2e()
	}
	return out
}

func oldFlow(f e2e.Flow) flow {
	return flow{desc: f.Desc, from: f.From, proto: f.Proto, v6: f.V6, rule: f.Rule, fromZone: f.FromZone, allowed: f.Allowed}
}

func (f flow) port() int        { return f.e2e().Port() }
func (f flow) logProto() string { return f.e2e().LogProto() }

var (
	supTCP   = oldFlow(e2e.SupTCP)
	supTCP6  = oldFlow(e2e.SupTCP6)
	supUDP   = oldFlow(e2e.SupUDP)
	supICMP  = oldFlow(e2e.SupICMP)
	supICMP6 = oldFlow(e2e.SupICMP6)
	entTCP   = oldFlow(e2e.EntTCP)
	entUDP   = oldFlow(e2e.EntUDP)
	entICMP  = oldFlow(e2e.EntICMP)
	opsTCP6  = oldFlow(e2e.OpsTCP6)
	opsUDP   = oldFlow(e2e.OpsUDP)
	opsTCP   = oldFlow(e2e.OpsTCP)
)

// matrix is every flow the mode tests drive.
var matrix = []flow{supTCP, supTCP6, supUDP, supICMP, supICMP6, entTCP, entUDP, entICMP, opsTCP6, opsUDP}

func wantVerdict(mode string, f flow) map[string]string { return e2e.WantVerdict(mode, f.e2e()) }

type policy e2e.Policy

func (pol policy) render(t *testing.T) string { t.Helper(); return e2e.Policy(pol).Render(t) }

// logLine is e2e.Line with its fields under their old names.
type logLine struct {
	raw string
	m   map[string]any
}

func line(l e2e.Line) logLine { return logLine{raw: l.Raw, m: l.M} }

func lines(ls []e2e.Line) []logLine {
	out := make([]logLine, len(ls))
	for i, l := range ls {
		out[i] = line(l)
	}
	return out
}

func (l logLine) e2e() e2e.Line       { return e2e.Line{Raw: l.raw, M: l.m} }
func (l logLine) str(k string) string { return l.e2e().Str(k) }
func (l logLine) num(k string) int    { return l.e2e().Num(k) }
func (l logLine) event() string       { return l.e2e().Event() }

// checkViolation checks what every app-violation verdict line of an
// inspection test says: the rule, the mode and its verdict (accept in
// monitor, drop otherwise), that it would drop, the port, the protocol
// and whether conduit reset the flow. It returns the line's app object
// for the protocol's own fields.
func checkViolation(t testing.TB, l logLine, rule, mode, onViolation, proto string, dport int) map[string]any {
	t.Helper()
	app, _ := l.m["app"].(map[string]any)
	verdict := "drop"
	if mode == "monitor" {
		verdict = "accept"
	}
	if l.str("rule") != rule || l.str("mode") != mode || l.str("verdict") != verdict || l.str("would") != "drop" ||
		l.num("dport") != dport || app == nil || app["proto"] != proto {
		t.Errorf("violation line: %s", l.raw)
	}
	if reset, _ := l.m["reset"].(bool); reset != (onViolation == "reset") {
		t.Errorf("violation line says reset %v: %s", reset, l.raw)
	}
	return app
}

// violationMode is one way an inspection test meets a violation: its
// mode and the rule's on_violation ("" for the default, drop).
type violationMode struct{ mode, onViolation string }

// violationModes are the ways every inspection test runs: monitor,
// enforce, and enforce with on_violation reset.
var violationModes = []violationMode{{"monitor", ""}, {"enforce", ""}, {"enforce", "reset"}}

// String names the subtest: the mode, then /onViolation if set.
func (v violationMode) String() string {
	if v.onViolation == "" {
		return v.mode
	}
	return v.mode + "/" + v.onViolation
}

func matcher(match func(logLine) bool) func(e2e.Line) bool {
	return func(l e2e.Line) bool { return match(line(l)) }
}

// daemon is e2e.Daemon with its fields under their old names.
// (err is d.Err: it is set when the process ends.)
type daemon struct {
	*e2e.Daemon
	r      *rig
	cmd    *exec.Cmd
	log    logSink
	stderr *e2e.SyncBuffer
	exited chan struct{}
	start  logLine
}

func (r *rig) wrapDaemon(d *e2e.Daemon) *daemon {
	return &daemon{Daemon: d, r: r, cmd: d.Cmd, log: logSink{d.Log}, stderr: d.Stderr, exited: d.Exited, start: line(d.Start)}
}

// logSink is e2e.LogSink under its old name.
type logSink struct{ *e2e.LogSink }

func (s logSink) since(from int) ([]logLine, <-chan struct{}) {
	ls, changed := s.Since(from)
	return lines(ls), changed
}

func (r *rig) startDaemon(path string) *daemon {
	r.t.Helper()
	return r.wrapDaemon(r.StartDaemon(path))
}
func (r *rig) launch(args ...string) *daemon { r.t.Helper(); return r.wrapDaemon(r.Launch(args...)) }

// startWith writes pol as the rig's policy file and starts the daemon on it.
func (r *rig) startWith(pol policy) *daemon {
	r.t.Helper()
	return r.wrapDaemon(r.StartWith(e2e.Policy(pol)))
}

// waitStart waits for the start event and keeps it in d.start.
func (d *daemon) waitStart() { d.r.t.Helper(); d.start = line(d.WaitStart()) }

func (d *daemon) mark() int { return d.Mark() }
func (d *daemon) wait(from int, what string, match func(logLine) bool) logLine {
	d.r.t.Helper()
	return line(d.Wait(from, what, matcher(match)))
}
func (d *daemon) waitTimeout(from int, timeout time.Duration, what string, match func(logLine) bool) logLine {
	d.r.t.Helper()
	return line(d.WaitTimeout(from, timeout, what, matcher(match)))
}
func (d *daemon) find(from int, timeout time.Duration, match func(logLine) bool) (logLine, bool) {
	l, ok := d.Find(from, timeout, matcher(match))
	return line(l), ok
}
func (d *daemon) matching(from int, match func(logLine) bool) []logLine {
	return lines(d.Matching(from, matcher(match)))
}
func (d *daemon) hasExited() bool              { return d.HasExited() }
func (d *daemon) stop()                        { d.r.t.Helper(); d.Stop() }
func (d *daemon) signal(sig syscall.Signal)    { d.r.t.Helper(); d.Signal(sig) }
func (d *daemon) waitExit(t time.Duration) int { d.r.t.Helper(); return d.WaitExit(t) }
func (d *daemon) verdicts(from int, f flow) []logLine {
	d.r.t.Helper()
	return lines(d.Verdicts(from, f.e2e()))
}
func (d *daemon) expectVerdict(from int, f flow, want map[string]string) {
	d.r.t.Helper()
	d.ExpectVerdict(from, f.e2e(), want)
}

// session is e2e.Session with its connection under its old name.
type session struct {
	*e2e.Session
	c net.Conn
}

func (r *rig) openSession(f flow) *session {
	r.t.Helper()
	s := r.OpenSession(f.e2e())
	return &session{Session: s, c: s.C}
}

// e2e is the session's e2e.Session; a session a test makes itself
// (session{c: conn}) gets one on first use.
func (s *session) e2e() *e2e.Session {
	if s.Session == nil {
		s.Session = &e2e.Session{C: s.c}
	}
	return s.Session
}

func (s *session) exchange(timeout time.Duration) error { return s.e2e().Exchange(timeout) }
func (s *session) chatter(every time.Duration) *chatter { return &chatter{s.e2e().Chatter(every)} }

type chatter struct{ *e2e.Chatter }

func (ch *chatter) state() (int, error)  { return ch.State() }
func (ch *chatter) finish() (int, error) { return ch.Finish() }
func (ch *chatter) waitFor(t *testing.T, base, n int, why string) {
	t.Helper()
	ch.WaitFor(t, base, n, why)
}
