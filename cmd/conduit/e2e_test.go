package main

// End-to-end tests of `conduit run` inline on the netns plant of
// internal/plant. Each test builds its own plant (unique namespace prefix),
// starts the daemon in the firewall namespace with `ip netns exec`, reads
// its JSON log lines from stdout, and drives real TCP, UDP and ICMP traffic
// between the zone hosts with plantpeer. Outcomes are asserted on both the
// traffic and the log. They need root and iproute2, and skip without them.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/google/nftables"

	"github.com/conduit-ot/conduit/engine/nft"
	"github.com/conduit-ot/conduit/internal/plant"
	"github.com/conduit-ot/conduit/internal/plant/planttest"
)

// Timeouts of the e2e tests. A flow that should be dropped counts as
// blocked when no answer came within blockTimeout; one that should pass
// gets passTimeout, which only a failure waits out, so a loaded machine
// does not fail the test. Every wait for a log line or an exit has a
// deadline, so a broken daemon fails the test instead of hanging it.
const (
	blockTimeout = 700 * time.Millisecond
	passTimeout  = 3 * time.Second
	startTimeout = 15 * time.Second // a race-enabled daemon starts slower
	eventTimeout = 5 * time.Second  // reload: debounce 250ms plus parse
	exitTimeout  = 5 * time.Second
)

// Ports of the echo servers on the control host (the PLC).
const (
	plcTCP = 502
	plcUDP = 2222
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// --- binaries ------------------------------------------------------------

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// raceEnabled reports whether this test binary was built with -race; the
// daemon is then built with it too, so the e2e runs race-check it.
func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

// binaries builds conduit and plantpeer once per test binary.
func binaries(t *testing.T) (conduit, peer string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "conduit-e2e-")
		if buildErr != nil {
			return
		}
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		build := func(out, pkg string, race bool) error {
			args := []string{"build", "-o", filepath.Join(binDir, out)}
			if race {
				args = append(args, "-race")
			}
			cmd := exec.Command(gobin, append(args, pkg)...)
			if b, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
			}
			return nil
		}
		if buildErr = build("conduit", ".", raceEnabled()); buildErr != nil {
			return
		}
		// The peers are short-lived helpers; race-checking them is their
		// own package's business.
		buildErr = build("plantpeer", "../plantpeer", false)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "conduit"), filepath.Join(binDir, "plantpeer")
}

// --- plant and traffic ---------------------------------------------------

// rig is one test's plant with echo servers on the PLC and a directory
// for its policy file.
type rig struct {
	t             *testing.T
	p             *plant.Plant
	conduit, peer string
	dir           string
	path          string // the policy file
}

// newRig skips without root or iproute2, builds the binaries and a plant,
// starts the PLC's echo servers and checks that the kernel alone forwards
// a flow the policy denies, so that a blocked probe later is conduit's doing.
func newRig(t *testing.T) *rig {
	t.Helper()
	if testing.Short() {
		t.Skip("netns end-to-end test: skipped in -short mode")
	}
	if why := plant.Available(); why != "" {
		t.Skipf("netns end-to-end tests of conduit run skipped: %s", why)
	}
	conduit, peer := binaries(t)
	r := &rig{t: t, p: planttest.New(t), conduit: conduit, peer: peer, dir: t.TempDir()}
	r.path = filepath.Join(r.dir, "conduit.yaml")
	ctl := r.p.Host(plant.Control).NS
	// [::] is dual-stack: one server each answers IPv4 and IPv6.
	r.server(ctl, "tcp-server", "-l", fmt.Sprintf("[::]:%d", plcTCP), "-for", "5m")
	r.server(ctl, "udp-server", "-l", fmt.Sprintf("[::]:%d", plcUDP), "-for", "5m")
	r.waitLocal(ctl, "tcp", fmt.Sprintf("127.0.0.1:%d", plcTCP))
	r.waitLocal(ctl, "udp", fmt.Sprintf("127.0.0.1:%d", plcUDP))
	for _, f := range []flow{entTCP, opsUDP} {
		if err := r.probe(f, passTimeout); err != nil {
			t.Fatalf("without conduit the kernel does not forward %s: %v", f.desc, err)
		}
	}
	return r
}

// server runs a plantpeer server in ns until the test ends.
func (r *rig) server(ns string, args ...string) {
	r.t.Helper()
	cmd := plant.NSCmd(ns, r.peer, args...)
	var errb syncBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("plantpeer %v: %v", args, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	r.t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if s := errb.String(); s != "" {
			r.t.Logf("plantpeer %v stderr: %s", args, s)
		}
	})
}

// waitLocal waits until a server answers inside its own namespace.
func (r *rig) waitLocal(ns, proto, addr string) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := plant.NSCmd(ns, r.peer, "probe", "-proto", proto, "-addr", addr, "-timeout", "200ms").CombinedOutput()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s server %s never answered: %v: %s", proto, addr, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// flow is one kind of traffic from a zone host to the PLC and what the
// test policy says about it.
type flow struct {
	desc     string
	from     string // zone key of the client host (plant.Supervisory, ...)
	proto    string // tcp, udp or icmp (ICMPv6 when v6)
	v6       bool
	rule     string // the rule that decides it in monitor and enforce
	fromZone string
	allowed  bool
}

var (
	supTCP   = flow{"HMI->PLC tcp/502", plant.Supervisory, "tcp", false, "hmi-polls-plc", "supervisory", true}
	supTCP6  = flow{"HMI->PLC tcp/502 over IPv6", plant.Supervisory, "tcp", true, "hmi-polls-plc", "supervisory", true}
	supUDP   = flow{"HMI->PLC udp/2222", plant.Supervisory, "udp", false, "hmi-io-udp", "supervisory", true}
	supICMP  = flow{"HMI->PLC ping", plant.Supervisory, "icmp", false, "hmi-pings-plc", "supervisory", true}
	supICMP6 = flow{"HMI->PLC ping over IPv6", plant.Supervisory, "icmp", true, "hmi-pings-plc-v6", "supervisory", true}
	entTCP   = flow{"enterprise->PLC tcp/502", plant.Enterprise, "tcp", false, "deny-enterprise-to-plant", "enterprise", false}
	entUDP   = flow{"enterprise->PLC udp/2222", plant.Enterprise, "udp", false, "deny-enterprise-to-plant", "enterprise", false}
	entICMP  = flow{"enterprise->PLC ping", plant.Enterprise, "icmp", false, "deny-enterprise-to-plant", "enterprise", false}
	opsTCP6  = flow{"operations->PLC tcp/502 over IPv6", plant.Operations, "tcp", true, "default", "operations", false}
	opsUDP   = flow{"operations->PLC udp/2222", plant.Operations, "udp", false, "default", "operations", false}
	opsTCP   = flow{"operations->PLC tcp/502", plant.Operations, "tcp", false, "default", "operations", false}
)

// matrix is every flow the mode tests drive.
var matrix = []flow{supTCP, supTCP6, supUDP, supICMP, supICMP6, entTCP, entUDP, entICMP, opsTCP6, opsUDP}

func (r *rig) src(f flow) netip.Addr {
	if f.v6 {
		return r.p.Host(f.from).IPv6
	}
	return r.p.Host(f.from).IPv4
}

func (r *rig) dst(f flow) netip.Addr {
	if f.v6 {
		return r.p.Host(plant.Control).IPv6
	}
	return r.p.Host(plant.Control).IPv4
}

func (f flow) port() int {
	switch f.proto {
	case "tcp":
		return plcTCP
	case "udp":
		return plcUDP
	}
	return 0
}

// logProto is the proto field the verdict line carries.
func (f flow) logProto() string {
	if f.proto == "icmp" && f.v6 {
		return "icmpv6"
	}
	return f.proto
}

func (r *rig) addr(f flow) string {
	if f.proto == "icmp" {
		return r.dst(f).String()
	}
	return netip.AddrPortFrom(r.dst(f), uint16(f.port())).String()
}

// probe makes one exchange of f with the PLC (a fresh connection, socket or
// echo id, so a fresh flow) and returns nil when the echo came back.
func (r *rig) probe(f flow, timeout time.Duration) error {
	cmd := plant.NSCmd(r.p.Host(f.from).NS, r.peer, "probe", "-proto", f.proto, "-addr", r.addr(f),
		"-timeout", timeout.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

func (r *rig) mustPass(f flow, why string) {
	r.t.Helper()
	if err := r.probe(f, passTimeout); err != nil {
		r.t.Errorf("%s: %s was blocked, want it to pass: %v", why, f.desc, err)
	}
}

func (r *rig) mustBlock(f flow, why string) {
	r.t.Helper()
	if err := r.probe(f, blockTimeout); err == nil {
		r.t.Errorf("%s: %s passed, want it dropped", why, f.desc)
	}
}

// policy renders the test policy.
type policy struct {
	Mode     string
	Queue    int
	FailOpen bool
	Conduits string // per-conduit modes, as YAML list items
	Extra    string // rules placed first, as YAML list items
	Socket   string // control socket; a fresh temporary path when empty
}

func (pol policy) render(t *testing.T) string {
	t.Helper()
	tmpl, err := template.ParseFiles(filepath.Join("testdata", "e2e-policy.yaml.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	if pol.Queue == 0 {
		pol.Queue = 20
	}
	if pol.Socket == "" {
		// Never the host's default socket: tests run daemons side by side.
		pol.Socket = filepath.Join(t.TempDir(), "conduit.sock")
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, pol); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// writeFile replaces path the way editors and configuration management
// do: write a temporary file beside it, then rename it over.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// --- the daemon ----------------------------------------------------------

// logLine is one JSON line the daemon wrote.
type logLine struct {
	raw string
	m   map[string]any
}

func (l logLine) str(k string) string {
	switch v := l.m[k].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

func (l logLine) num(k string) int {
	if v, ok := l.m[k].(float64); ok {
		return int(v)
	}
	return -1
}

func (l logLine) event() string { return l.str("event") }

// logSink collects the daemon's stdout as JSON lines that tests wait on.
type logSink struct {
	mu      sync.Mutex
	partial []byte
	lines   []logLine
	bad     []string // lines that are not JSON
	changed chan struct{}
}

func newLogSink() *logSink { return &logSink{changed: make(chan struct{})} }

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		raw := string(s.partial[:i])
		s.partial = s.partial[i+1:]
		var m map[string]any
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			s.bad = append(s.bad, raw)
			continue
		}
		s.lines = append(s.lines, logLine{raw: raw, m: m})
		added = true
	}
	if added {
		close(s.changed)
		s.changed = make(chan struct{})
	}
	return len(p), nil
}

// since returns the lines from index from on, and a channel closed when
// more arrive.
func (s *logSink) since(from int) ([]logLine, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]logLine(nil), s.lines[min(from, len(s.lines)):]...), s.changed
}

// daemon is a `conduit run` process in the plant's firewall namespace.
type daemon struct {
	r      *rig
	cmd    *exec.Cmd
	log    *logSink
	stderr *syncBuffer
	exited chan struct{}
	err    error // cmd.Wait's, valid once exited is closed
	start  logLine
}

// startDaemon runs conduit on the rig's policy file (or path, if given) and
// waits for its start event: queues bound and the table installed.
func (r *rig) startDaemon(path string) *daemon {
	t := r.t
	t.Helper()
	if path == "" {
		path = r.path
	}
	// The hit counters persist in the rig's directory, never the host's.
	d := r.launch("run", "-c", path, "--state", filepath.Join(r.dir, "state.json"))
	d.start = d.waitTimeout(0, startTimeout, "the start event", func(l logLine) bool { return l.event() == "start" })
	return d
}

// launch starts conduit with args in the firewall namespace, its stdout
// collected as log lines, and stops it when the test ends.
func (r *rig) launch(args ...string) *daemon {
	t := r.t
	t.Helper()
	cmd := plant.NSCmd(r.p.FW, r.conduit, args...)
	// ip netns exec execs conduit in place, so signals reach it directly.
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	d := &daemon{r: r, cmd: cmd, log: newLogSink(), stderr: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = d.log, d.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start conduit: %v", err)
	}
	go func() { d.err = cmd.Wait(); close(d.exited) }()
	t.Cleanup(d.cleanup)
	return d
}

// cleanup stops the daemon if it still runs and reports races and stray
// output; on failure it shows the daemon's log.
func (d *daemon) cleanup() {
	t := d.r.t
	select {
	case <-d.exited:
	default:
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.exited:
		case <-time.After(exitTimeout):
			t.Errorf("conduit ignored SIGTERM for %v; killing it", exitTimeout)
			_ = d.cmd.Process.Kill()
			<-d.exited
		}
	}
	errOut := d.stderr.String()
	if strings.Contains(errOut, "WARNING: DATA RACE") {
		t.Errorf("the race detector fired in conduit:\n%s", errOut)
	}
	d.log.mu.Lock()
	bad, lines := d.log.bad, d.log.lines
	d.log.mu.Unlock()
	if len(bad) > 0 {
		t.Errorf("conduit wrote %d lines that are not JSON to stdout, first: %q", len(bad), bad[0])
	}
	if t.Failed() {
		var b strings.Builder
		for _, l := range lines[max(0, len(lines)-80):] {
			b.WriteString(l.raw)
			b.WriteByte('\n')
		}
		t.Logf("conduit (%v) log, last %d of %d lines:\n%sstderr:\n%s", d.err, min(80, len(lines)), len(lines), b.String(), errOut)
	}
}

// mark is the position in the log after which to look for new lines.
func (d *daemon) mark() int {
	d.log.mu.Lock()
	defer d.log.mu.Unlock()
	return len(d.log.lines)
}

// wait returns the first line from mark on that matches, failing the test
// after eventTimeout.
func (d *daemon) wait(from int, what string, match func(logLine) bool) logLine {
	d.r.t.Helper()
	return d.waitTimeout(from, eventTimeout, what, match)
}

func (d *daemon) waitTimeout(from int, timeout time.Duration, what string, match func(logLine) bool) logLine {
	d.r.t.Helper()
	l, ok := d.find(from, timeout, match)
	if !ok {
		d.r.t.Fatalf("conduit did not log %s within %v (exited: %v, stderr: %s)", what, timeout, d.hasExited(), d.stderr.String())
	}
	return l
}

// find waits up to timeout for a matching line from mark on.
func (d *daemon) find(from int, timeout time.Duration, match func(logLine) bool) (logLine, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		lines, changed := d.log.since(from)
		for _, l := range lines {
			if match(l) {
				return l, true
			}
		}
		from += len(lines)
		select {
		case <-changed:
		case <-deadline.C:
			return logLine{}, false
		case <-d.exited:
			// The writer has finished: one last look.
			lines, _ := d.log.since(from)
			for _, l := range lines {
				if match(l) {
					return l, true
				}
			}
			return logLine{}, false
		}
	}
}

// matching returns every line from mark on that matches, without waiting.
func (d *daemon) matching(from int, match func(logLine) bool) []logLine {
	lines, _ := d.log.since(from)
	var out []logLine
	for _, l := range lines {
		if match(l) {
			out = append(out, l)
		}
	}
	return out
}

func (d *daemon) hasExited() bool {
	select {
	case <-d.exited:
		return true
	default:
		return false
	}
}

func (d *daemon) signal(sig syscall.Signal) {
	d.r.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.r.t.Fatalf("signal conduit: %v", err)
	}
}

// waitExit waits for the process to end and returns its exit code.
func (d *daemon) waitExit(timeout time.Duration) int {
	d.r.t.Helper()
	select {
	case <-d.exited:
	case <-time.After(timeout):
		d.r.t.Fatalf("conduit still running %v after the signal", timeout)
	}
	var ee *exec.ExitError
	if errors.As(d.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return -int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if d.err != nil {
		d.r.t.Fatalf("conduit: %v", d.err)
	}
	return 0
}

// verdicts returns the verdict lines of flow f from mark on, waiting up
// to eventTimeout for the first.
func (d *daemon) verdicts(from int, f flow) []logLine {
	d.r.t.Helper()
	r := d.r
	src, dst := r.src(f).String(), r.dst(f).String()
	match := func(l logLine) bool {
		return l.event() == "verdict" && l.str("src") == src && l.str("dst") == dst &&
			l.str("proto") == f.logProto() && (f.port() == 0 || l.num("dport") == f.port())
	}
	d.wait(from, "a verdict for "+f.desc, match)
	return d.matching(from, match)
}

// expectVerdict checks the verdict lines of f from mark on.
func (d *daemon) expectVerdict(from int, f flow, want map[string]string) {
	d.r.t.Helper()
	for _, l := range d.verdicts(from, f) {
		for k, v := range want {
			if got := l.str(k); got != v {
				d.r.t.Errorf("%s: verdict line has %s=%q, want %q: %s", f.desc, k, got, v, l.raw)
			}
		}
	}
}

// wantVerdict is what the verdict line of f says in mode.
func wantVerdict(mode string, f flow) map[string]string {
	w := map[string]string{"mode": mode, "from_zone": f.fromZone, "to_zone": "control",
		"proto": f.logProto(), "rule": f.rule, "reason": "new-flow", "verdict": "accept", "would": "accept"}
	switch mode {
	case "passthrough":
		w["rule"], w["reason"] = "", "passthrough"
	case "monitor":
		if !f.allowed {
			w["would"] = "drop"
		}
	case "enforce":
		if !f.allowed {
			// No allow rule could match these flows by zones, protocol and
			// port: the kernel pre-filter drops them before the queue.
			w["verdict"], w["would"], w["reason"] = "drop", "drop", "kernel-deny"
		}
	}
	return w
}

// tablePresent reports whether a conduit table exists in the firewall
// namespace (`nft list tables`, over netlink).
func (r *rig) tablePresent() bool {
	r.t.Helper()
	f, err := os.Open("/run/netns/" + r.p.FW)
	if err != nil {
		r.t.Fatal(err)
	}
	defer f.Close()
	ok, err := nft.Present(int(f.Fd()))
	if err != nil {
		r.t.Fatal(err)
	}
	return ok
}

// divertTables puts an accept rule first in the conduit tables a killed
// daemon left behind: the kernel forwards everything, as it did before the
// pre-filter dropped what no rule allows, and keeps tracking connections.
func (r *rig) divertTables() {
	r.t.Helper()
	f, err := os.Open("/run/netns/" + r.p.FW)
	if err != nil {
		r.t.Fatal(err)
	}
	defer f.Close()
	if n, err := nft.Divert(int(f.Fd()), false); err != nil || n == 0 {
		r.t.Fatalf("divert the leftover conduit table: %d tables, %v", n, err)
	}
}

// deleteTables removes the conduit tables a killed daemon left behind.
func (r *rig) deleteTables() {
	r.t.Helper()
	f, err := os.Open("/run/netns/" + r.p.FW)
	if err != nil {
		r.t.Fatal(err)
	}
	defer f.Close()
	conn, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		r.t.Fatal(err)
	}
	tables, err := conn.ListTables()
	if err != nil {
		r.t.Fatal(err)
	}
	for _, tb := range tables {
		if tb.Name == nft.TableName {
			conn.DelTable(tb)
		}
	}
	if err := conn.Flush(); err != nil {
		r.t.Fatalf("delete the leftover conduit table: %v", err)
	}
}

// --- long-lived sessions -------------------------------------------------

// session is a TCP connection from a zone host to the PLC's echo server,
// opened in-process in the host's namespace.
type session struct {
	c   net.Conn
	seq int
}

func (r *rig) openSession(f flow) *session {
	r.t.Helper()
	var c net.Conn
	err := r.p.Do(r.p.Host(f.from).NS, func() error {
		var err error
		c, err = net.DialTimeout("tcp", r.addr(f), passTimeout)
		return err
	})
	if err != nil {
		r.t.Fatalf("open a session for %s: %v", f.desc, err)
	}
	r.t.Cleanup(func() { c.Close() })
	return &session{c: c}
}

// exchange sends one message and waits for its echo.
func (s *session) exchange(timeout time.Duration) error {
	s.seq++
	msg := fmt.Sprintf("poll %08d\n", s.seq)
	if err := s.c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := io.WriteString(s.c, msg); err != nil {
		return fmt.Errorf("message %d: send: %w", s.seq, err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(s.c, got); err != nil {
		return fmt.Errorf("message %d: no echo: %w", s.seq, err)
	}
	if string(got) != msg {
		return fmt.Errorf("message %d: echo %q, want %q", s.seq, got, msg)
	}
	return nil
}

// chatter keeps a session exchanging messages in the background, the way
// an HMI polls a PLC, and records the first failure.
type chatter struct {
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	ok   int
	err  error
}

func (s *session) chatter(every time.Duration) *chatter {
	ch := &chatter{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(ch.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			err := s.exchange(passTimeout)
			ch.mu.Lock()
			if err != nil {
				ch.err = err
			} else {
				ch.ok++
			}
			ch.mu.Unlock()
			if err != nil {
				return
			}
			select {
			case <-ch.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return ch
}

func (ch *chatter) state() (int, error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.ok, ch.err
}

// waitFor waits until n more exchanges than base succeeded.
func (ch *chatter) waitFor(t *testing.T, base, n int, why string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, err := ch.state()
		if err != nil {
			t.Fatalf("%s: the allowed session broke after %d exchanges: %v", why, ok, err)
		}
		if ok >= base+n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the allowed session made %d of %d exchanges in 5s", why, ok-base, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (ch *chatter) finish() (int, error) {
	close(ch.stop)
	<-ch.done
	return ch.state()
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// --- the tests -----------------------------------------------------------

// TestE2EModes drives allowed and denied TCP, UDP and ICMP flows (IPv4 and
// IPv6) through conduit in each mode and checks both what got through and
// the verdict line that explains it.
func TestE2EModes(t *testing.T) {
	for _, mode := range []string{"passthrough", "monitor", "enforce"} {
		t.Run(mode, func(t *testing.T) {
			r := newRig(t)
			writeFile(t, r.path, policy{Mode: mode, FailOpen: true}.render(t))
			d := r.startDaemon("")
			if got := d.start.str("mode"); got != mode {
				t.Errorf("start event: mode %q, want %q: %s", got, mode, d.start.raw)
			}
			if d.start.str("nft_method") == "" || !r.tablePresent() {
				t.Fatalf("no conduit table after the start event: %s", d.start.raw)
			}
			for _, f := range matrix {
				mark := d.mark()
				if mode == "enforce" && !f.allowed {
					r.mustBlock(f, mode)
				} else {
					r.mustPass(f, mode)
				}
				d.expectVerdict(mark, f, wantVerdict(mode, f))
			}
		})
	}
}

// TestE2ESwitchMonitorToEnforce rewrites the policy file from monitor to
// enforce while an allowed session polls: the session never notices, a
// denied session that monitor let through is cut, and the change is logged.
func TestE2ESwitchMonitorToEnforce(t *testing.T) {
	r := newRig(t)
	writeFile(t, r.path, policy{Mode: "monitor", FailOpen: true}.render(t))
	d := r.startDaemon("")

	allowed := r.openSession(supTCP)
	denied := r.openSession(entTCP)
	if err := denied.exchange(passTimeout); err != nil {
		t.Fatalf("monitor dropped the denied session: %v", err)
	}
	poll := allowed.chatter(50 * time.Millisecond)
	poll.waitFor(t, 0, 5, "in monitor")
	r.mustPass(entICMP, "monitor")

	mark := d.mark()
	before, _ := poll.state()
	writeFile(t, r.path, policy{Mode: "enforce", FailOpen: true}.render(t))
	reload := d.wait(mark, "a reload after the file changed", func(l logLine) bool { return l.event() == "reload" })
	if reload.str("result") != "ok" || reload.str("trigger") != "file-change" ||
		reload.str("old_mode") != "monitor" || reload.str("mode") != "enforce" {
		t.Errorf("reload event: %s", reload.raw)
	}
	mc := d.wait(mark, "a mode_change event", func(l logLine) bool { return l.event() == "mode_change" })
	if mc.str("old_mode") != "monitor" || mc.str("new_mode") != "enforce" || mc.str("conduit") != "" {
		t.Errorf("mode_change event: %s; want the global mode from monitor to enforce", mc.raw)
	}
	if sha := reload.str("sha256"); sha == "" || sha == d.start.str("sha256") || mc.str("sha256") != sha {
		t.Errorf("reload sha256 %q, start sha256 %q, mode_change sha256 %q", sha, d.start.str("sha256"), mc.str("sha256"))
	}

	// The allowed session goes on polling across the switch; the denied
	// session that monitor let through is dropped now, as are new ones.
	poll.waitFor(t, before, 10, "across the switch to enforce")
	if err := denied.exchange(blockTimeout); err == nil {
		t.Error("enforce still passes the denied enterprise session opened in monitor")
	}
	// Both sessions are re-decided once under the new generation, and say so.
	d.expectVerdict(mark, supTCP, map[string]string{"reason": "reevaluated", "mode": "enforce",
		"verdict": "accept", "would": "accept", "rule": "hmi-polls-plc"})
	d.expectVerdict(mark, entTCP, map[string]string{"reason": "reevaluated", "mode": "enforce",
		"verdict": "drop", "would": "drop", "rule": "deny-enterprise-to-plant"})
	r.mustBlock(entICMP, "after the switch to enforce")
	r.mustBlock(entTCP, "after the switch to enforce")
	r.mustPass(supICMP, "after the switch to enforce")

	n, err := poll.finish()
	if err != nil {
		t.Errorf("the allowed session broke after %d exchanges: %v", n, err)
	}
	t.Logf("the allowed session made %d exchanges, %d of them after the switch", n, n-before)
}

// brokenPolicy returns the enforce policy with a typo in a key and its
// mode set to monitor, plus the line the typo is on. Were any of it taken,
// the denied flows would pass.
func brokenPolicy(t *testing.T) (string, int) {
	good := policy{Mode: "enforce", FailOpen: true}.render(t)
	text := strings.Replace(good, "mode: enforce", "mode: monitor", 1)
	i := strings.Index(text, "    dport: 502\n")
	if i < 0 || text == good {
		t.Fatal("the policy template changed; update brokenPolicy")
	}
	text = text[:i] + "    dprot: 502\n" + text[i+len("    dport: 502\n"):]
	return text, strings.Count(text[:i], "\n") + 1
}

// TestE2EBrokenReload writes an invalid policy while conduit enforces: the
// reload is refused with the error's line and column and enforce goes on
// unchanged; a fixed file is then taken.
func TestE2EBrokenReload(t *testing.T) {
	r := newRig(t)
	writeFile(t, r.path, policy{Mode: "enforce", FailOpen: true}.render(t))
	d := r.startDaemon("")
	r.mustPass(supTCP, "enforce")
	r.mustBlock(entTCP, "enforce")

	mark := d.mark()
	broken, line := brokenPolicy(t)
	writeFile(t, r.path, broken)
	ev := d.wait(mark, "a reload event for the broken file", func(l logLine) bool { return l.event() == "reload" })
	if ev.str("result") != "error" || ev.str("running_mode") != "enforce" || ev.str("running_sha256") != d.start.str("sha256") {
		t.Errorf("reload event for the broken file: %s", ev.raw)
	}
	pos := fmt.Sprintf("%s:%d:5", r.path, line)
	if !strings.Contains(ev.str("error"), pos) {
		t.Errorf("reload error %q does not name %s", ev.str("error"), pos)
	}
	// The errors list repeats each problem, one per entry, and must say
	// what it is: an error that refused the file, not a warning.
	want := pos + `: rule hmi-polls-plc: unknown key "dprot"; did you mean "dport"?`
	var list []string
	if l, ok := ev.m["errors"].([]any); ok {
		for _, e := range l {
			list = append(list, fmt.Sprint(e))
		}
	}
	if len(list) != 1 || list[0] != want {
		t.Errorf("reload event errors = %q, want [%q]", list, want)
	}

	r.mustBlock(entTCP, "enforce after the broken file")
	r.mustBlock(opsTCP6, "enforce after the broken file")
	r.mustPass(supTCP, "enforce after the broken file")
	r.mustPass(supICMP, "enforce after the broken file")
	if l := d.matching(mark, func(l logLine) bool { return l.event() == "mode_change" }); len(l) > 0 {
		t.Errorf("a refused file changed the mode: %s", l[0].raw)
	}

	// The fixed file also lets operations poll the PLC.
	mark = d.mark()
	extra := "\n  - {name: ops-polls-plc, from: operations, to: control, proto: tcp, dport: 502}"
	writeFile(t, r.path, policy{Mode: "enforce", FailOpen: true, Extra: extra}.render(t))
	ok := d.wait(mark, "a reload event for the fixed file", func(l logLine) bool { return l.event() == "reload" })
	if ok.str("result") != "ok" || ok.str("mode") != "enforce" || ok.str("old_sha256") != d.start.str("sha256") {
		t.Errorf("reload event for the fixed file: %s", ok.raw)
	}
	r.mustPass(opsTCP, "after the fixed file")
	d.expectVerdict(mark, opsTCP, map[string]string{"rule": "ops-polls-plc", "verdict": "accept", "mode": "enforce"})
	r.mustBlock(entTCP, "after the fixed file")
	r.mustBlock(opsUDP, "after the fixed file")
}

// TestE2ESIGHUPReload proves that SIGHUP alone loads an edit. The test
// rewrites the policy in place through a descriptor it keeps open: the
// file watcher reloads a file when its writer closes it or renames it into
// place, never while it may be half-written, so until the close the edit
// is invisible to it and only SIGHUP can load it. The start event comes
// after the watcher's first comparison of the file with the policy in
// force (which would load any edit it finds), so no edit after the start
// event can reach it that way either. Closing the descriptor at the end
// shows that the watcher was there all along.
func TestE2ESIGHUPReload(t *testing.T) {
	r := newRig(t)
	writeFile(t, r.path, policy{Mode: "monitor", FailOpen: true}.render(t))
	d := r.startDaemon("")
	r.mustPass(entTCP, "monitor")

	f, err := os.OpenFile(r.path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rewrite := func(content string) {
		t.Helper()
		if err := f.Truncate(0); err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte(content), 0); err != nil {
			t.Fatal(err)
		}
	}
	isReload := func(l logLine) bool { return l.event() == "reload" }

	mark := d.mark()
	rewrite(policy{Mode: "enforce", FailOpen: true}.render(t))
	d.signal(syscall.SIGHUP)
	ev := d.wait(mark, "a reload on SIGHUP", isReload)
	if ev.str("result") != "ok" || ev.str("trigger") != "sighup" || ev.str("mode") != "enforce" {
		t.Errorf("reload event on SIGHUP: %s", ev.raw)
	}
	mc := d.wait(mark, "a mode_change event", func(l logLine) bool { return l.event() == "mode_change" })
	if mc.str("old_mode") != "monitor" || mc.str("new_mode") != "enforce" {
		t.Errorf("mode_change event: %s", mc.raw)
	}
	r.mustBlock(entTCP, "enforce after SIGHUP")
	r.mustPass(supTCP, "enforce after SIGHUP")

	// A broken file on SIGHUP is refused as well.
	mark = d.mark()
	broken, _ := brokenPolicy(t)
	rewrite(broken)
	d.signal(syscall.SIGHUP)
	ev = d.wait(mark, "a refused reload on SIGHUP", isReload)
	if ev.str("result") != "error" || ev.str("trigger") != "sighup" || ev.str("running_mode") != "enforce" {
		t.Errorf("reload event for a broken file on SIGHUP: %s", ev.raw)
	}
	r.mustBlock(entTCP, "enforce after a refused SIGHUP reload")
	r.mustPass(supTCP, "enforce after a refused SIGHUP reload")

	// The writer closes the file: now the watcher sees it, and refuses it too.
	mark = d.mark()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	ev = d.wait(mark, "a reload by the file watcher after the close", isReload)
	if ev.str("result") != "error" || ev.str("trigger") != "file-change" || ev.str("running_mode") != "enforce" {
		t.Errorf("reload event after the close: %s", ev.raw)
	}
}

// killKeepingTable SIGKILLs the daemon and checks that its table stayed.
func (r *rig) killKeepingTable(d *daemon) {
	r.t.Helper()
	d.signal(syscall.SIGKILL)
	if code := d.waitExit(exitTimeout); code != -int(syscall.SIGKILL) {
		r.t.Fatalf("conduit exit %d, want killed", code)
	}
	if !r.tablePresent() {
		r.t.Fatal("the conduit table is gone after SIGKILL; this test needs it to stay")
	}
}

// TestE2ESIGKILL kills the daemon without warning: its table stays, and the
// kernel then does what queue.fail_open says.
func TestE2ESIGKILL(t *testing.T) {
	t.Run("fail-open", func(t *testing.T) {
		r := newRig(t)
		writeFile(t, r.path, policy{Mode: "enforce", FailOpen: true}.render(t))
		d := r.startDaemon("")
		s := r.openSession(supTCP)
		r.mustBlock(entTCP, "enforce")
		if err := s.exchange(passTimeout); err != nil {
			t.Fatalf("allowed session in enforce: %v", err)
		}

		r.killKeepingTable(d)
		// The table stays and queues to no reader: the bypass flag passes
		// what reaches the queue, which is what some rule allows; what no
		// rule allows the kernel pre-filter still drops.
		r.mustPass(supTCP6, "fail-open after SIGKILL")
		r.mustPass(supUDP, "fail-open after SIGKILL")
		r.mustPass(supICMP, "fail-open after SIGKILL")
		r.mustBlock(entTCP, "the kernel pre-filter after SIGKILL")
		r.mustBlock(entICMP, "the kernel pre-filter after SIGKILL")
		r.mustBlock(opsUDP, "the kernel pre-filter after SIGKILL")
		if err := s.exchange(passTimeout); err != nil {
			t.Errorf("fail-open after SIGKILL: the allowed session broke: %v", err)
		}
		r.deleteTables()
	})

	t.Run("fail-closed", func(t *testing.T) {
		r := newRig(t)
		writeFile(t, r.path, policy{Mode: "enforce", FailOpen: false}.render(t))
		d := r.startDaemon("")
		if d.start.str("fail_open") != "false" {
			t.Errorf("start event: %s; want fail_open false", d.start.raw)
		}
		s := r.openSession(supTCP)
		r.mustPass(supUDP, "enforce")
		if err := s.exchange(passTimeout); err != nil {
			t.Fatalf("allowed session in enforce: %v", err)
		}

		r.killKeepingTable(d)
		// Without a reader and without bypass the kernel drops, allowed or not.
		r.mustBlock(supTCP, "fail-closed after SIGKILL")
		r.mustBlock(supUDP, "fail-closed after SIGKILL")
		r.mustBlock(supICMP, "fail-closed after SIGKILL")
		r.mustBlock(entTCP, "fail-closed after SIGKILL")
		if err := s.exchange(blockTimeout); err == nil {
			t.Error("fail-closed after SIGKILL: the allowed session still works")
		}

		// It was the leftover table: without it the kernel forwards again.
		r.deleteTables()
		r.mustPass(supTCP, "after deleting the leftover table")
		r.mustPass(entTCP, "after deleting the leftover table")
	})
}

// TestE2ESIGTERM stops a fail-open daemon cleanly: it exits 0, removes its
// table, and the kernel forwards again, even a flow the policy denies.
// (TestE2EStopFailClosed covers queue.fail_open false.)
func TestE2ESIGTERM(t *testing.T) {
	r := newRig(t)
	writeFile(t, r.path, policy{Mode: "enforce", FailOpen: true}.render(t))
	d := r.startDaemon("")
	s := r.openSession(supTCP)
	r.mustBlock(entTCP, "enforce")
	if err := s.exchange(passTimeout); err != nil {
		t.Fatalf("allowed session in enforce: %v", err)
	}

	mark := d.mark()
	d.signal(syscall.SIGTERM)
	if code := d.waitExit(exitTimeout); code != 0 {
		t.Fatalf("conduit exited %d after SIGTERM, want 0; stderr: %s", code, d.stderr.String())
	}
	stop := d.wait(mark, "the stop event", func(l logLine) bool { return l.event() == "stop" })
	if stop.num("packets") <= 0 || stop.num("dropped")+stop.num("kernel_dropped") <= 0 {
		t.Errorf("stop event counts no packets or drops: %s", stop.raw)
	}
	gone := d.wait(mark, "the table_removed event", func(l logLine) bool { return l.event() == "table_removed" })
	if gone.str("kernel") != "forwards" || gone.str("why") != "queue.fail_open: true" {
		t.Errorf("table_removed event: %s", gone.raw)
	}
	if r.tablePresent() {
		t.Fatal("the conduit table is still there after SIGTERM")
	}
	r.mustPass(entTCP, "after SIGTERM")
	r.mustPass(entICMP, "after SIGTERM")
	r.mustPass(opsTCP6, "after SIGTERM")
	if err := s.exchange(passTimeout); err != nil {
		t.Errorf("after SIGTERM the allowed session broke: %v", err)
	}
}

// TestE2ESecondDaemon starts a second conduit on the queues the first one
// serves: it must refuse with a clear message and leave the first intact.
func TestE2ESecondDaemon(t *testing.T) {
	r := newRig(t)
	writeFile(t, r.path, policy{Mode: "enforce", FailOpen: true, Queue: 40}.render(t))
	d := r.startDaemon("")

	cmd := plant.NSCmd(r.p.FW, r.conduit, "run", "-c", r.path)
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(startTimeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("a second conduit on queue 40 kept running; stdout: %s", stdout.String())
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("second conduit: %v, want exit status 1", err)
	}
	msg := stderr.String()
	if !strings.Contains(msg, "queue is already bound by another process") || !strings.Contains(msg, "queue.num") {
		t.Errorf("second conduit's message does not say the queue is bound and what to do: %q", msg)
	}

	if d.hasExited() {
		t.Fatal("the first conduit died when the second one started")
	}
	if !r.tablePresent() {
		t.Fatal("the second conduit removed the first one's table")
	}
	mark := d.mark()
	r.mustBlock(entTCP, "the first conduit after the second failed")
	r.mustPass(supTCP, "the first conduit after the second failed")
	d.expectVerdict(mark, supTCP, wantVerdict("enforce", supTCP))
}

// TestE2EConduitOverride runs the plant in enforce with one conduit held in
// monitor, then moves that conduit to enforce by editing the file.
func TestE2EConduitOverride(t *testing.T) {
	r := newRig(t)
	monitorEnt := "\n  - {from: enterprise, to: control, mode: monitor}"
	writeFile(t, r.path, policy{Mode: "enforce", FailOpen: true, Conduits: monitorEnt}.render(t))
	d := r.startDaemon("")
	if d.start.num("conduits") != 1 {
		t.Errorf("start event: %s; want 1 conduit", d.start.raw)
	}
	for _, c := range []struct {
		f    flow
		mode string
	}{{entTCP, "monitor"}, {entICMP, "monitor"}, {opsUDP, "enforce"}, {supTCP, "enforce"}} {
		mark := d.mark()
		if c.mode == "enforce" && !c.f.allowed {
			r.mustBlock(c.f, "global enforce")
		} else {
			r.mustPass(c.f, c.mode+" conduit")
		}
		d.expectVerdict(mark, c.f, wantVerdict(c.mode, c.f))
	}

	mark := d.mark()
	enforceEnt := "\n  - {from: enterprise, to: control, mode: enforce}"
	writeFile(t, r.path, policy{Mode: "enforce", FailOpen: true, Conduits: enforceEnt}.render(t))
	mc := d.wait(mark, "a mode_change event", func(l logLine) bool { return l.event() == "mode_change" })
	if mc.str("conduit") != "enterprise->control" || mc.str("old_mode") != "monitor" || mc.str("new_mode") != "enforce" {
		t.Errorf("mode_change event: %s; want conduit enterprise->control from monitor to enforce", mc.raw)
	}
	r.mustBlock(entTCP, "the conduit after its switch to enforce")
	r.mustBlock(entICMP, "the conduit after its switch to enforce")
	r.mustPass(supTCP, "global enforce after the conduit's switch")
	if l := d.matching(mark, func(l logLine) bool { return l.event() == "mode_change" }); len(l) != 1 {
		t.Errorf("%d mode_change events, want 1 (the global mode did not change)", len(l))
	}
}

// bigUDP sends n datagrams of size bytes (larger than the MTU, so the
// sender fragments them) from f's host to the PLC's UDP echo and returns
// how many came back.
func (r *rig) bigUDP(f flow, size, n int, timeout time.Duration) int {
	r.t.Helper()
	cmd := plant.NSCmd(r.p.Host(f.from).NS, r.peer, "pingpong", "-proto", "udp", "-addr", r.addr(f),
		"-size", fmt.Sprint(size), "-n", fmt.Sprint(n), "-warmup", "0", "-timeout", timeout.String(), "-json")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	var res struct {
		N    int `json:"n"`
		Lost int `json:"lost"`
	}
	if err != nil || json.Unmarshal(out, &res) != nil || res.N != n {
		r.t.Fatalf("pingpong %s: %v: %s %s", f.desc, err, out, errb.String())
	}
	return n - res.Lost
}

// TestE2EFragments sends UDP datagrams larger than the MTU through enforce:
// the fragments of an allowed flow are reassembled and decided as one
// datagram, those of a denied flow are dropped, and nothing is malformed.
func TestE2EFragments(t *testing.T) {
	r := newRig(t)
	const size, n = 4000, 3
	if got := r.bigUDP(entUDP, size, n, passTimeout); got != n {
		t.Fatalf("without conduit %d of %d fragmented datagrams came back", got, n)
	}
	writeFile(t, r.path, policy{Mode: "enforce", FailOpen: false}.render(t))
	d := r.startDaemon("")
	supUDP6 := supUDP
	supUDP6.desc, supUDP6.v6 = "HMI->PLC udp/2222 over IPv6", true
	for _, f := range []flow{supUDP, supUDP6, entUDP} {
		mark := d.mark()
		want, timeout := 0, blockTimeout
		if f.allowed {
			want, timeout = n, passTimeout
		}
		if got := r.bigUDP(f, size, n, timeout); got != want {
			t.Errorf("%s, %d-byte datagrams: %d of %d came back, want %d", f.desc, size, got, n, want)
		}
		d.expectVerdict(mark, f, wantVerdict("enforce", f))
	}
	d.signal(syscall.SIGTERM)
	if code := d.waitExit(exitTimeout); code != 0 {
		t.Fatalf("conduit exited %d after SIGTERM", code)
	}
	stop := d.wait(0, "the stop event", func(l logLine) bool { return l.event() == "stop" })
	if stop.num("malformed") != 0 {
		t.Errorf("fragments counted as malformed: %s", stop.raw)
	}
	if l := d.matching(0, func(l logLine) bool { return l.str("reason") == "fragment" }); len(l) > 0 {
		t.Errorf("a fragment reached the engine unreassembled: %s", l[0].raw)
	}
}
