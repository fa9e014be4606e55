package main

// End-to-end tests of `conduit run` inline on the netns plant of
// internal/plant. Each test builds its own plant (unique namespace prefix),
// starts the daemon in the firewall namespace with `ip netns exec`, reads
// its JSON log lines from stdout, and drives real TCP, UDP and ICMP traffic
// between the zone hosts with plantpeer. Outcomes are asserted on both the
// traffic and the log. They need root and iproute2, and skip without them.
// The harness is internal/e2e; e2e_rig_test.go names it for these tests.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/internal/plant"
)

// TestE2EModes drives allowed and denied TCP, UDP and ICMP flows (IPv4 and
// IPv6) through conduit in each mode and checks both what got through and
// the verdict line that explains it.
func TestE2EModes(t *testing.T) {
	for _, mode := range []string{"passthrough", "monitor", "enforce"} {
		t.Run(mode, func(t *testing.T) {
			r := newRig(t)
			d := r.startWith(policy{Mode: mode, FailOpen: true})
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
	d := r.startWith(policy{Mode: "monitor", FailOpen: true})

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
	r.mustBlockAll("after the switch to enforce", entICMP, entTCP)
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
	d := r.startWith(policy{Mode: "enforce", FailOpen: true})
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

	r.mustBlockAll("enforce after the broken file", entTCP, opsTCP6)
	r.mustPassAll("enforce after the broken file", supTCP, supICMP)
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
	r.mustBlockAll("after the fixed file", entTCP, opsUDP)
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
	d := r.startWith(policy{Mode: "monitor", FailOpen: true})
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

// enforcingWithSession starts a fail-open daemon in enforce with an
// allowed HMI session open, after checking that both hold: the session
// exchanges and a denied flow is dropped.
func enforcingWithSession(t *testing.T) (*rig, *daemon, *session) {
	t.Helper()
	r := newRig(t)
	d := r.startWith(policy{Mode: "enforce", FailOpen: true})
	s := r.openSession(supTCP)
	r.mustBlock(entTCP, "enforce")
	if err := s.exchange(passTimeout); err != nil {
		t.Fatalf("allowed session in enforce: %v", err)
	}
	return r, d, s
}

// TestE2ESIGKILL kills the daemon without warning: its table stays, and the
// kernel then does what queue.fail_open says.
func TestE2ESIGKILL(t *testing.T) {
	t.Run("fail-open", func(t *testing.T) {
		r, d, s := enforcingWithSession(t)

		r.killKeepingTable(d)
		// The table stays and queues to no reader: the bypass flag passes
		// what reaches the queue, which is what some rule allows; what no
		// rule allows the kernel pre-filter still drops.
		r.mustPassAll("fail-open after SIGKILL", supTCP6, supUDP, supICMP)
		r.mustBlockAll("the kernel pre-filter after SIGKILL", entTCP, entICMP, opsUDP)
		if err := s.exchange(passTimeout); err != nil {
			t.Errorf("fail-open after SIGKILL: the allowed session broke: %v", err)
		}
		r.deleteTables()
	})

	t.Run("fail-closed", func(t *testing.T) {
		r := newRig(t)
		d := r.startWith(policy{Mode: "enforce", FailOpen: false})
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
		r.mustBlockAll("fail-closed after SIGKILL", supTCP, supUDP, supICMP, entTCP)
		if err := s.exchange(blockTimeout); err == nil {
			t.Error("fail-closed after SIGKILL: the allowed session still works")
		}

		// It was the leftover table: without it the kernel forwards again.
		r.deleteTables()
		r.mustPassAll("after deleting the leftover table", supTCP, entTCP)
	})
}

// TestE2ESIGTERM stops a fail-open daemon cleanly: it exits 0, removes its
// table, and the kernel forwards again, even a flow the policy denies.
// (TestE2EStopFailClosed covers queue.fail_open false.)
func TestE2ESIGTERM(t *testing.T) {
	r, d, s := enforcingWithSession(t)

	mark := d.mark()
	d.stop()
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
	r.mustPassAll("after SIGTERM", entTCP, entICMP, opsTCP6)
	if err := s.exchange(passTimeout); err != nil {
		t.Errorf("after SIGTERM the allowed session broke: %v", err)
	}
}

// TestE2ESecondDaemon starts a second conduit on the queues the first one
// serves: it must refuse with a clear message and leave the first intact.
func TestE2ESecondDaemon(t *testing.T) {
	r := newRig(t)
	d := r.startWith(policy{Mode: "enforce", FailOpen: true, Queue: 40})

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
	d := r.startWith(policy{Mode: "enforce", FailOpen: true, Conduits: monitorEnt})
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
	r.mustBlockAll("the conduit after its switch to enforce", entTCP, entICMP)
	r.mustPass(supTCP, "global enforce after the conduit's switch")
	if l := d.matching(mark, func(l logLine) bool { return l.event() == "mode_change" }); len(l) != 1 {
		t.Errorf("%d mode_change events, want 1 (the global mode did not change)", len(l))
	}
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
	d := r.startWith(policy{Mode: "enforce", FailOpen: false})
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
	d.stop()
	stop := d.wait(0, "the stop event", func(l logLine) bool { return l.event() == "stop" })
	if stop.num("malformed") != 0 {
		t.Errorf("fragments counted as malformed: %s", stop.raw)
	}
	if l := d.matching(0, func(l logLine) bool { return l.str("reason") == "fragment" }); len(l) > 0 {
		t.Errorf("a fragment reached the engine unreassembled: %s", l[0].raw)
	}
}
