package main

// End-to-end tests of connection tracking through `conduit run` in enforce
// on the netns plant: a long-lived HMI->PLC session survives a SIGKILL and
// restart (fail-open while down, adopted by pickup after) and a reload; a
// session idle beyond its rule's idle_timeout is cut mid-stream when pickup
// is off, and the log says why; a table far smaller than the number of
// sessions evicts and picks up while every session keeps working. They reuse
// the rig, daemon and session helpers of e2e_test.go and write their own
// policy, since they need conntrack settings the shared template lacks.

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/internal/plant"
)

const (
	ctRule = "hmi-polls-plc" // the rule that allows the HMI's sessions
	// ctBlockWait is how long a message on a cut session waits for an echo
	// that must not come (TCP retransmits within it, so the drop is not a
	// single lost segment).
	ctBlockWait = 1500 * time.Millisecond
	// ctEchoWait bounds one exchange on a session that must work.
	ctEchoWait = 3 * time.Second
)

// ctPoller keeps a session polling in the background, as an HMI polls a
// PLC, and records the first failure and the slowest exchange. Unlike
// chatter, each exchange may take ctEchoWait: a segment in flight when the
// daemon is killed is lost and TCP's retransmission, which backs off from
// 200ms and more on a loaded machine, brings it through (e2e.Session.Poll).
type ctPoller struct{ *e2e.Chatter }

func ctPoll(t *testing.T, s *e2e.Session, every time.Duration) *ctPoller {
	p := &ctPoller{s.Poll(every, ctEchoWait)}
	t.Cleanup(func() { p.Finish() })
	return p
}

// finish stops polling and returns the count, the slowest exchange and
// the first error.
func (p *ctPoller) finish() (int, time.Duration, error) {
	n, err := p.Finish()
	return n, p.Slowest(), err
}

// ctPolicy is the policy of these tests: the HMI may open TCP sessions to
// the PLC's port 502, everything else is denied by default, in enforce.
type ctPolicy struct {
	Queue       int    // first queue number
	Count       int    // queue count
	Capacity    int    // conntrack.capacity; 0 leaves the default
	NoPickup    bool   // conntrack.pickup: false
	NoSeed      bool   // conntrack.seed: false
	IdleTimeout string // the HMI rule's idle_timeout; "" for none
	Revision    int    // shows in a description: a change that decides nothing
	Monitor     string // a zone whose conduit to control runs in monitor; "" for none
	Socket      string // control socket, in the rig's directory (see in)
	NoFastpath  bool   // fastpath: false (every packet reaches the table)
}

// in places the policy's control socket in the rig's directory: never the
// host's default, since tests run daemons side by side.
func (p ctPolicy) in(r *rig) ctPolicy { p.Socket = r.Socket(); return p }

func (p ctPolicy) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# conntrack e2e policy, revision %d\n", p.Revision)
	b.WriteString("mode: enforce\n")
	fmt.Fprintf(&b, "queue: {num: %d, count: %d, fail_open: true}\n", p.Queue, max(p.Count, 1))
	var ct []string
	if p.Capacity > 0 {
		ct = append(ct, fmt.Sprintf("capacity: %d", p.Capacity))
	}
	if p.NoPickup {
		ct = append(ct, "pickup: false")
	}
	if p.NoSeed {
		ct = append(ct, "seed: false")
	}
	if len(ct) > 0 {
		fmt.Fprintf(&b, "conntrack: {%s}\n", strings.Join(ct, ", "))
	}
	if p.Socket != "" {
		fmt.Fprintf(&b, "control: {socket: %q}\n", p.Socket)
	}
	if p.NoFastpath {
		b.WriteString("fastpath: false\n")
	}
	if p.Monitor != "" {
		fmt.Fprintf(&b, "conduits: [{from: %s, to: control, mode: monitor}]\n", p.Monitor)
	}
	b.WriteString(`log: {file: "-"}
zones:
  enterprise:  {level: 4, cidrs: [10.40.0.0/16]}
  supervisory: {level: 2, cidrs: [10.20.0.0/24]}
  control:     {level: 1, cidrs: [10.10.0.0/24]}
rules:
  - name: ` + ctRule + "\n")
	fmt.Fprintf(&b, "    description: the HMI polls the PLC (revision %d)\n", p.Revision)
	b.WriteString("    from: supervisory\n    to: control\n    proto: tcp\n    dport: 502\n")
	if p.IdleTimeout != "" {
		fmt.Fprintf(&b, "    idle_timeout: %s\n", p.IdleTimeout)
	}
	b.WriteString("default: deny\n")
	return b.String()
}

// ctPort is the session's client port, which names its flow in the log.
func ctPort(s *e2e.Session) int { return s.C.LocalAddr().(*net.TCPAddr).Port }

// ctFlowLine matches log lines of event ev about the HMI->PLC session s,
// in the request orientation (a reply picked up is logged that way too).
func ctFlowLine(r *rig, s *e2e.Session, ev string) func(e2e.Line) bool {
	src, dst := r.P.Host(plant.Supervisory).IPv4.String(), r.P.Host(plant.Control).IPv4.String()
	port := ctPort(s)
	return func(l e2e.Line) bool {
		return l.Event() == ev && l.Str("proto") == "tcp" && l.Str("src") == src && l.Str("dst") == dst &&
			l.Num("sport") == port && l.Num("dport") == e2e.PLCTCP
	}
}

// ctHMILine matches log lines of event ev about any HMI->PLC session.
func ctHMILine(r *rig, ev string) func(e2e.Line) bool {
	src, dst := r.P.Host(plant.Supervisory).IPv4.String(), r.P.Host(plant.Control).IPv4.String()
	return func(l e2e.Line) bool {
		return l.Event() == ev && l.Str("proto") == "tcp" && l.Str("src") == src && l.Str("dst") == dst &&
			l.Num("dport") == e2e.PLCTCP
	}
}

// ctCheck reports every field of l that differs from want.
func ctCheck(t *testing.T, what string, l e2e.Line, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := l.Str(k); got != v {
			t.Errorf("%s: %s=%q, want %q: %s", what, k, got, v, l.Raw)
		}
	}
}

// ctWaitCount waits until at least n lines from mark on match and returns
// them all, failing the test after timeout.
func ctWaitCount(t *testing.T, d *e2e.Daemon, from, n int, timeout time.Duration, what string, match func(e2e.Line) bool) []e2e.Line {
	t.Helper()
	return d.WaitCount(from, n, timeout, what, match)
}

// ctNoDrops fails the test for every verdict from mark on that dropped a
// packet of an HMI->PLC session, except those of the sessions in cut.
func ctNoDrops(t *testing.T, r *rig, d *e2e.Daemon, from int, why string, cut ...*e2e.Session) {
	t.Helper()
	skip := map[int]bool{}
	for _, s := range cut {
		skip[ctPort(s)] = true
	}
	for _, l := range d.Matching(from, ctHMILine(r, "verdict")) {
		if l.Str("verdict") != "accept" && !skip[l.Num("sport")] {
			t.Errorf("%s: an allowed HMI session was dropped: %s", why, l.Raw)
		}
	}
}

// TestConntrackRestartAndReload keeps an HMI->PLC session polling while the
// daemon is SIGKILLed (fail-open: the kernel passes its packets), restarted
// (the new daemon adopts the session mid-stream by pickup and enforces
// again), and while its policy file is rewritten with a change that decides
// nothing (the tracked flow carries on, neither dropped nor re-adopted).
func TestConntrackRestartAndReload(t *testing.T) {
	r := newRig(t)
	// Without seeding, so that the restarted daemon meets the session
	// mid-stream (TestConntrackSeedAcrossRestart covers seeding).
	pol := ctPolicy{Queue: 60, Count: 2, Revision: 1, NoSeed: true}
	e2e.WriteFile(t, r.Path, pol.in(r).text())
	d1 := r.StartDaemon("")

	s := r.OpenSession(e2e.SupTCP)
	if err := s.Exchange(ctEchoWait); err != nil {
		t.Fatalf("allowed session in enforce: %v", err)
	}
	opened := d1.Wait(0, "the session's new-flow verdict", ctFlowLine(r, s, "verdict"))
	ctCheck(t, "the session's first verdict", opened, map[string]string{"reason": "new-flow",
		"verdict": "accept", "mode": "enforce", "rule": ctRule})
	r.MustBlock(e2e.EntTCP, "enforce")

	poll := ctPoll(t, s, 50*time.Millisecond)
	poll.WaitFor(t, 0, 5, "before the kill")

	d1.Signal(syscall.SIGKILL)
	if code := d1.WaitExit(e2e.ExitTimeout); code != -int(syscall.SIGKILL) {
		t.Fatalf("conduit exit %d, want killed", code)
	}
	if !r.TablePresent() {
		t.Fatal("the conduit table is gone after SIGKILL; this test needs it to stay")
	}
	down, _ := poll.State()
	poll.WaitFor(t, down, 5, "while the daemon is down (fail-open)")
	// Fail-open passes what some rule allows; what none allows the
	// kernel's pre-filter still drops.
	r.MustPass(e2e.SupTCP, "fail-open while the daemon is down")
	r.MustBlock(e2e.EntTCP, "the kernel pre-filter while the daemon is down")

	// The restarted daemon has an empty table: the session's next packet
	// is mid-stream and must be adopted, not dropped.
	d2 := r.StartDaemon("")
	up, _ := poll.State()
	picked := d2.WaitTimeout(0, e2e.EventTimeout, "a pickup verdict for the running session", ctFlowLine(r, s, "verdict"))
	ctCheck(t, "the session's first verdict after the restart", picked, map[string]string{"reason": "pickup",
		"verdict": "accept", "would": "accept", "mode": "enforce", "rule": ctRule,
		"from_zone": "supervisory", "to_zone": "control"})
	pe := d2.WaitTimeout(0, e2e.EventTimeout, "the pickup event of the running session", ctFlowLine(r, s, "pickup"))
	ctCheck(t, "the pickup event", pe, map[string]string{"rule": ctRule, "mode": "enforce", "flow": picked.Str("flow")})
	poll.WaitFor(t, up, 10, "after the restart")
	r.MustBlock(e2e.EntTCP, "enforce after the restart") // the session passes by decision, not by bypass
	ctNoDrops(t, r, d2, 0, "after the restart")

	// A rewrite that changes only a description: a new generation, the
	// same decision. The flow stays tracked, so the session produces no
	// new verdict line at all (no pickup, no drop).
	mark := d2.Mark()
	pol.Revision = 2
	e2e.WriteFile(t, r.Path, pol.in(r).text())
	reload := d2.Wait(mark, "a reload after the rewrite", func(l e2e.Line) bool { return l.Event() == "reload" })
	if reload.Str("result") != "ok" || reload.Str("sha256") == d2.Start.Str("sha256") {
		t.Errorf("reload event: %s; want result ok and a new sha256", reload.Raw)
	}
	before, _ := poll.State()
	poll.WaitFor(t, before, 10, "after the reload")
	for _, l := range d2.Matching(mark, ctFlowLine(r, s, "verdict")) {
		t.Errorf("after a reload that decides nothing new the session got a verdict line (its flow was lost or re-decided differently): %s", l.Raw)
	}
	for _, l := range d2.Matching(mark, ctFlowLine(r, s, "flow_end")) {
		t.Errorf("the session's flow ended across the reload: %s", l.Raw)
	}

	n, slowest, err := poll.finish()
	if err != nil {
		t.Errorf("the session broke after %d exchanges: %v", n, err)
	}
	t.Logf("the session made %d exchanges: %d before the kill, %d while down, %d after the restart; slowest %v",
		n, down, up-down, n-up, slowest.Round(time.Millisecond))
}

// TestConntrackSeedAcrossRestart: with pickup off, a session that ran while
// conduit was stopped (SIGTERM: the table goes, the kernel forwards alone)
// is taken over from the kernel's connection table when conduit starts
// again, so its next message passes instead of meeting no-flow, while a
// denied flow is blocked again.
func TestConntrackSeedAcrossRestart(t *testing.T) {
	r := newRig(t)
	e2e.WriteFile(t, r.Path, ctPolicy{Queue: 66, Count: 2, NoPickup: true}.in(r).text())
	d1 := r.StartDaemon("")
	s := r.OpenSession(e2e.SupTCP)
	if err := s.Exchange(ctEchoWait); err != nil {
		t.Fatalf("allowed session in enforce: %v", err)
	}
	poll := ctPoll(t, s, 50*time.Millisecond)
	poll.WaitFor(t, 0, 5, "before the stop")

	d1.Stop()
	down, _ := poll.State()
	poll.WaitFor(t, down, 5, "while conduit is stopped (the kernel forwards)")

	d2 := r.StartDaemon("")
	seed := d2.WaitTimeout(0, e2e.EventTimeout, "the seed event", func(l e2e.Line) bool { return l.Event() == "seed" })
	if seed.Num("seeded") < 1 {
		t.Errorf("seed event: %s; want at least the session seeded", seed.Raw)
	}
	line := d2.WaitTimeout(0, e2e.EventTimeout, "the session's seeded verdict", ctFlowLine(r, s, "verdict"))
	ctCheck(t, "the session's verdict after the restart", line, map[string]string{"reason": "seeded",
		"verdict": "accept", "mode": "enforce", "rule": ctRule})
	up, _ := poll.State()
	poll.WaitFor(t, up, 10, "after the restart, pickup off")
	r.MustBlock(e2e.EntTCP, "enforce after the restart")
	ctNoDrops(t, r, d2, 0, "after the restart")
}

// TestConntrackIdleTimeoutNoPickup lets a session sit idle beyond its rule's
// idle_timeout with pickup off: the flow ends (flow_end, reason idle) and the
// session's next message is mid-stream without a flow, so the default rule
// drops it (reason no-flow). A session that keeps polling faster than the
// timeout, and a fresh session, are unaffected.
func TestConntrackIdleTimeoutNoPickup(t *testing.T) {
	const idle = 2 * time.Second
	r := newRig(t)
	e2e.WriteFile(t, r.Path, ctPolicy{Queue: 62, Count: 1, NoPickup: true, IdleTimeout: idle.String()}.in(r).text())
	d := r.StartDaemon("")

	quiet := r.OpenSession(e2e.SupTCP)
	if err := quiet.Exchange(ctEchoWait); err != nil {
		t.Fatalf("allowed session in enforce: %v", err)
	}
	lastSent := time.Now() // its flow's last packet (the ACK of the echo) comes after
	opened := d.Wait(0, "the quiet session's new-flow verdict", ctFlowLine(r, quiet, "verdict"))
	ctCheck(t, "the quiet session's first verdict", opened, map[string]string{"reason": "new-flow",
		"verdict": "accept", "rule": ctRule})
	busy := r.OpenSession(e2e.SupTCP)
	poll := ctPoll(t, busy, idle/5)

	// The sweeper runs every second: the flow ends within idle plus that.
	end := d.WaitTimeout(0, idle+e2e.EventTimeout, "the quiet session's flow_end", ctFlowLine(r, quiet, "flow_end"))
	ctCheck(t, "flow_end of the quiet session", end, map[string]string{"reason": "idle",
		"state": "established", "rule": ctRule, "flow": opened.Str("flow")})
	if got := time.Duration(end.Num("idle")); got < idle {
		t.Errorf("flow_end after %v idle, want at least the rule's idle_timeout %v: %s", got, idle, end.Raw)
	}
	if time.Since(lastSent) < idle {
		t.Errorf("the flow ended %v after the session's last message, before its idle_timeout %v", time.Since(lastSent), idle)
	}
	// SYN, ACK, the message and its ACK one way; SYN-ACK and the echo back.
	if end.Num("packets_orig") < 3 || end.Num("packets_reply") < 2 || end.Num("bytes_orig") <= 0 || end.Num("bytes_reply") <= 0 {
		t.Errorf("flow_end counts too little traffic for a handshake and one exchange: %s", end.Raw)
	}

	mark := d.Mark()
	if err := quiet.Exchange(ctBlockWait); err == nil {
		t.Errorf("a message on a session idle beyond its idle_timeout (%v) got through with pickup off", idle)
	}
	cut := d.Wait(mark, "a no-flow verdict for the quiet session", ctFlowLine(r, quiet, "verdict"))
	ctCheck(t, "the quiet session's verdict after its flow ended", cut, map[string]string{"reason": "no-flow",
		"verdict": "drop", "would": "drop", "mode": "enforce", "rule": "default"})

	// Idleness, not age, ended it: the busy session outlived the timeout.
	ok, _ := poll.State()
	poll.WaitFor(t, ok, 3, "the busy session after the quiet one was cut")
	for _, l := range d.Matching(0, ctFlowLine(r, busy, "flow_end")) {
		t.Errorf("the busy session's flow ended although it polled every %v: %s", idle/5, l.Raw)
	}
	ctNoDrops(t, r, d, 0, "apart from the quiet session", quiet)
	if l := d.Matching(0, func(l e2e.Line) bool { return l.Str("reason") == "pickup" }); len(l) > 0 {
		t.Errorf("a flow was picked up with conntrack.pickup false: %s", l[0].Raw)
	}
	r.MustPass(e2e.SupTCP, "a fresh session after the quiet one was cut")
	if n, _, err := poll.finish(); err != nil {
		t.Errorf("the busy session broke after %d exchanges: %v", n, err)
	}
}

// TestConntrackCapacity runs twice as many HMI sessions as a table of 4 can
// hold (one queue, so one shard of 4): opening them evicts, every session's
// next message is then adopted by pickup (evicting another), and every
// session keeps exchanging, one after another and all at once.
func TestConntrackCapacity(t *testing.T) {
	const capacity, sessions = 4, 8
	r := newRig(t)
	// Every message must reach the full table to evict and pick up.
	e2e.WriteFile(t, r.Path, ctPolicy{Queue: 64, Count: 1, Capacity: capacity, NoFastpath: true}.in(r).text())
	d := r.StartDaemon("")
	if got := d.Start.Num("conntrack_capacity"); got != capacity {
		t.Fatalf("start event: conntrack_capacity %d, want %d: %s", got, capacity, d.Start.Raw)
	}

	var ss []*e2e.Session
	for i := range sessions {
		s := r.OpenSession(e2e.SupTCP)
		if err := s.Exchange(ctEchoWait); err != nil {
			t.Fatalf("session %d of %d: %v", i+1, sessions, err)
		}
		ss = append(ss, s)
	}
	// Round robin over more sessions than the table holds: the four most
	// recent are never the next one, so each message is a pickup.
	for round := range 2 {
		for i, s := range ss {
			if err := s.Exchange(ctEchoWait); err != nil {
				t.Fatalf("round %d, session %d: %v", round+1, i+1, err)
			}
		}
	}
	var polls []*ctPoller
	for _, s := range ss {
		polls = append(polls, ctPoll(t, s, 20*time.Millisecond))
	}
	for i, p := range polls {
		p.WaitFor(t, 0, 10, fmt.Sprintf("session %d polling alongside %d others", i+1, sessions-1))
	}
	for i, p := range polls {
		if n, _, err := p.finish(); err != nil {
			t.Errorf("session %d broke after %d concurrent exchanges: %v", i+1, n, err)
		}
	}

	// Opening evicted sessions-capacity flows, the first round one per
	// message; later messages evict more, in an order the kernel decides.
	evs := ctWaitCount(t, d, 0, 2*sessions-capacity, e2e.EventTimeout, "eviction events", ctHMILine(r, "eviction"))
	for _, l := range evs {
		if l.Str("reason") != "capacity" || l.Str("idle") == "" {
			t.Errorf("eviction event without reason capacity or idle time: %s", l.Raw)
			break
		}
	}
	for i, s := range ss {
		picks := d.Matching(0, func(l e2e.Line) bool {
			return ctFlowLine(r, s, "verdict")(l) && l.Str("reason") == "pickup"
		})
		if len(picks) == 0 {
			t.Errorf("session %d (port %d) was never picked up after its flow was evicted", i+1, ctPort(s))
			continue
		}
		ctCheck(t, fmt.Sprintf("session %d's pickup", i+1), picks[0], map[string]string{
			"verdict": "accept", "mode": "enforce", "rule": ctRule})
	}
	ctNoDrops(t, r, d, 0, "at capacity")
	if l := d.Matching(0, func(l e2e.Line) bool { return l.Event() == "occupancy_high" }); len(l) == 0 {
		t.Error("the table filled up without an occupancy_high event")
	} else if l[0].Num("capacity") != capacity {
		t.Errorf("occupancy_high event: %s; want capacity %d", l[0].Raw, capacity)
	}
	t.Logf("%d sessions through a table of %d: %d evictions, %d pickups logged", sessions, capacity, len(evs),
		len(d.Matching(0, func(l e2e.Line) bool { return ctHMILine(r, "verdict")(l) && l.Str("reason") == "pickup" })))
}

// TestConntrackEvictionSparesIdleSession: a table of 64 (one queue, one
// shard) with pickup off, and an HMI->PLC session that exchanged once and
// then idles, as a historian's session does between polls. A SYN spray from
// the enterprise zone (denied; its conduit runs in monitor, so the flows are
// tracked — enforce would drop them untracked) and 150 short connections of
// the HMI run the table over several times. Eviction takes the denied and
// the closed flows, never the established allowed session, whose next
// request still passes; with least-recently-seen eviction it was evicted
// and that request met no-flow in enforce.
func TestConntrackEvictionSparesIdleSession(t *testing.T) {
	const capacity, spray, short = 64, 200, 150
	r := newRig(t)
	// The short connections must close where the table sees it.
	pol := ctPolicy{Queue: 68, Count: 1, Capacity: capacity, NoPickup: true, NoSeed: true, Monitor: "enterprise", NoFastpath: true}.in(r)
	e2e.WriteFile(t, r.Path, pol.text())
	d := r.StartDaemon("")
	if got := d.Start.Num("conntrack_capacity"); got != capacity {
		t.Fatalf("start event: conntrack_capacity %d, want %d: %s", got, capacity, d.Start.Raw)
	}

	idle := r.OpenSession(e2e.SupTCP)
	// Idle means idle: no keepalive probe of ours may refresh the flow.
	if err := idle.C.(*net.TCPConn).SetKeepAlive(false); err != nil {
		t.Fatal(err)
	}
	if err := idle.Exchange(ctEchoWait); err != nil {
		t.Fatalf("allowed session in enforce: %v", err)
	}
	opened := d.Wait(0, "the idle session's new-flow verdict", ctFlowLine(r, idle, "verdict"))
	ctCheck(t, "the idle session's first verdict", opened, map[string]string{"reason": "new-flow",
		"verdict": "accept", "mode": "enforce", "rule": ctRule})

	// The spray: one SYN per source port to a closed PLC port, answered
	// by an RST (monitor passes it).
	plc := r.P.Host(plant.Control).IPv4.String()
	refused := 0
	err := r.P.Do(r.P.Host(plant.Enterprise).NS, func() error {
		for range spray {
			c, err := net.DialTimeout("tcp", net.JoinHostPort(plc, "503"), e2e.BlockTimeout)
			if err == nil {
				c.Close()
				return fmt.Errorf("a connection to the closed port 503 was accepted")
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				refused++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if refused < spray/2 {
		t.Fatalf("only %d of %d SYNs of the spray were answered: the monitored conduit did not pass them", refused, spray)
	}
	// The HMI's short connections: open, one exchange, close.
	err = r.P.Do(r.P.Host(plant.Supervisory).NS, func() error {
		for i := range short {
			c, err := net.DialTimeout("tcp", r.Addr(e2e.SupTCP), e2e.PassTimeout)
			if err != nil {
				return fmt.Errorf("short connection %d: %w", i+1, err)
			}
			s := &e2e.Session{C: c}
			err = s.Exchange(ctEchoWait)
			c.Close()
			if err != nil {
				return fmt.Errorf("short connection %d: %w", i+1, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	mark := d.Mark()
	if err := idle.Exchange(ctEchoWait); err != nil {
		for _, l := range d.Matching(0, ctFlowLine(r, idle, "eviction")) {
			t.Logf("the idle session was evicted: %s", l.Raw)
		}
		t.Fatalf("the idle allowed session broke after the spray and %d short connections: %v", short, err)
	}
	for _, l := range d.Matching(0, ctFlowLine(r, idle, "eviction")) {
		t.Errorf("the idle allowed session was evicted: %s", l.Raw)
	}
	for _, l := range d.Matching(mark, ctFlowLine(r, idle, "verdict")) {
		t.Errorf("the idle session's request got a verdict line (its flow was lost): %s", l.Raw)
	}

	// Many flows were evicted, none of them established; status and the
	// log agree on it.
	evs := ctWaitCount(t, d, 0, spray+short-capacity, e2e.EventTimeout, "eviction events", func(l e2e.Line) bool { return l.Event() == "eviction" })
	byClass := map[string]int{}
	for _, l := range evs {
		byClass[l.Str("class")]++
		if c := l.Str("class"); c != "denied" && c != "closing" || l.Str("level") != "INFO" || l.Str("reason") != "capacity" {
			t.Errorf("eviction %s: want class denied or closing, level INFO, reason capacity", l.Raw)
		}
	}
	if byClass["denied"] == 0 || byClass["closing"] == 0 {
		t.Errorf("evictions by class in the log %v: want both the spray's denied flows and closed short connections", byClass)
	}
	var st statusReport
	r.opsJSON(pol.Socket, &st, "status")
	ct := st.Conntrack
	sum := uint64(0)
	for _, v := range ct.EvictionsByClass {
		sum += v
	}
	if ct.Evictions < uint64(spray+short-capacity) || sum != ct.Evictions || ct.EvictionsByClass["established"] != 0 ||
		ct.EvictionsByClass["denied"] == 0 || ct.EvictionsByClass["closing"] == 0 {
		t.Errorf("status conntrack %+v: want at least %d evictions, by class summing to them, none established", ct, spray+short-capacity)
	}
	if ct.EntriesByClass["established"] < 1 || ct.Entries > capacity {
		t.Errorf("status conntrack entries %d by class %v: want the idle session established, within capacity", ct.Entries, ct.EntriesByClass)
	}
	t.Logf("%d SYNs (%d refused) and %d short connections through a table of %d: %d evictions %v; the idle session exchanged again",
		spray, refused, short, capacity, ct.Evictions, ct.EvictionsByClass)
}
