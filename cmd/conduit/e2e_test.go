package main

// End-to-end tests of `conduit run` inline on the netns plant of
// internal/plant. Each test builds its own plant (unique namespace prefix),
// starts the daemon in the firewall namespace with `ip netns exec`, reads
// its JSON log lines from stdout, and drives real TCP, UDP and ICMP traffic
// between the zone hosts with plantpeer. Outcomes are asserted on both the
// traffic and the log. They need root and iproute2, and skip without them.
// The harness is internal/e2e; e2e_rig_test.go names it for these tests.

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/internal/e2e"
)

// TestE2EModes drives allowed and denied TCP, UDP and ICMP flows (IPv4 and
// IPv6) through conduit in each mode and checks both what got through and
// the verdict line that explains it.
func TestE2EModes(t *testing.T) {
	for _, mode := range []string{"passthrough", "monitor", "enforce"} {
		t.Run(mode, func(t *testing.T) {
			r := newRig(t)
			d := r.StartWith(e2e.Policy{Mode: mode, FailOpen: true})
			if got := d.Start.Str("mode"); got != mode {
				t.Errorf("start event: mode %q, want %q: %s", got, mode, d.Start.Raw)
			}
			if d.Start.Str("nft_method") == "" || !r.TablePresent() {
				t.Fatalf("no conduit table after the start event: %s", d.Start.Raw)
			}
			for _, f := range e2e.Matrix {
				mark := d.Mark()
				if mode == "enforce" && !f.Allowed {
					r.MustBlock(f, mode)
				} else {
					r.MustPass(f, mode)
				}
				d.ExpectVerdict(mark, f, e2e.WantVerdict(mode, f))
			}
		})
	}
}

// TestE2ESwitchMonitorToEnforce rewrites the policy file from monitor to
// enforce while an allowed session polls: the session never notices, a
// denied session that monitor let through is cut, and the change is logged.
func TestE2ESwitchMonitorToEnforce(t *testing.T) {
	r := newRig(t)
	d := r.StartWith(e2e.Policy{Mode: "monitor", FailOpen: true})

	allowed := r.OpenSession(e2e.SupTCP)
	denied := r.OpenSession(e2e.EntTCP)
	if err := denied.Exchange(e2e.PassTimeout); err != nil {
		t.Fatalf("monitor dropped the denied session: %v", err)
	}
	poll := allowed.Chatter(50 * time.Millisecond)
	poll.WaitFor(t, 0, 5, "in monitor")
	r.MustPass(e2e.EntICMP, "monitor")

	mark := d.Mark()
	before, _ := poll.State()
	e2e.WriteFile(t, r.Path, e2e.Policy{Mode: "enforce", FailOpen: true}.Render(t))
	reload := d.Wait(mark, "a reload after the file changed", func(l e2e.Line) bool { return l.Event() == "reload" })
	if reload.Str("result") != "ok" || reload.Str("trigger") != "file-change" ||
		reload.Str("old_mode") != "monitor" || reload.Str("mode") != "enforce" {
		t.Errorf("reload event: %s", reload.Raw)
	}
	mc := d.Wait(mark, "a mode_change event", func(l e2e.Line) bool { return l.Event() == "mode_change" })
	if mc.Str("old_mode") != "monitor" || mc.Str("new_mode") != "enforce" || mc.Str("conduit") != "" {
		t.Errorf("mode_change event: %s; want the global mode from monitor to enforce", mc.Raw)
	}
	if sha := reload.Str("sha256"); sha == "" || sha == d.Start.Str("sha256") || mc.Str("sha256") != sha {
		t.Errorf("reload sha256 %q, start sha256 %q, mode_change sha256 %q", sha, d.Start.Str("sha256"), mc.Str("sha256"))
	}

	// The allowed session goes on polling across the switch; the denied
	// session that monitor let through is dropped now, as are new ones.
	poll.WaitFor(t, before, 10, "across the switch to enforce")
	if err := denied.Exchange(e2e.BlockTimeout); err == nil {
		t.Error("enforce still passes the denied enterprise session opened in monitor")
	}
	// Both sessions are re-decided once under the new generation, and say so.
	d.ExpectVerdict(mark, e2e.SupTCP, map[string]string{"reason": "reevaluated", "mode": "enforce",
		"verdict": "accept", "would": "accept", "rule": "hmi-polls-plc"})
	d.ExpectVerdict(mark, e2e.EntTCP, map[string]string{"reason": "reevaluated", "mode": "enforce",
		"verdict": "drop", "would": "drop", "rule": "deny-enterprise-to-plant"})
	r.MustBlockAll("after the switch to enforce", e2e.EntICMP, e2e.EntTCP)
	r.MustPass(e2e.SupICMP, "after the switch to enforce")

	n, err := poll.Finish()
	if err != nil {
		t.Errorf("the allowed session broke after %d exchanges: %v", n, err)
	}
	t.Logf("the allowed session made %d exchanges, %d of them after the switch", n, n-before)
}

// brokenPolicy returns the enforce policy with a typo in a key and its
// mode set to monitor, plus the line the typo is on. Were any of it taken,
// the denied flows would pass.
func brokenPolicy(t *testing.T) (string, int) {
	good := e2e.Policy{Mode: "enforce", FailOpen: true}.Render(t)
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
	d := r.StartWith(e2e.Policy{Mode: "enforce", FailOpen: true})
	r.MustPass(e2e.SupTCP, "enforce")
	r.MustBlock(e2e.EntTCP, "enforce")

	mark := d.Mark()
	broken, line := brokenPolicy(t)
	e2e.WriteFile(t, r.Path, broken)
	ev := d.Wait(mark, "a reload event for the broken file", func(l e2e.Line) bool { return l.Event() == "reload" })
	if ev.Str("result") != "error" || ev.Str("running_mode") != "enforce" || ev.Str("running_sha256") != d.Start.Str("sha256") {
		t.Errorf("reload event for the broken file: %s", ev.Raw)
	}
	pos := fmt.Sprintf("%s:%d:5", r.Path, line)
	if !strings.Contains(ev.Str("error"), pos) {
		t.Errorf("reload error %q does not name %s", ev.Str("error"), pos)
	}
	// The errors list repeats each problem, one per entry, and must say
	// what it is: an error that refused the file, not a warning.
	want := pos + `: rule hmi-polls-plc: unknown key "dprot"; did you mean "dport"?`
	var list []string
	if l, ok := ev.M["errors"].([]any); ok {
		for _, e := range l {
			list = append(list, fmt.Sprint(e))
		}
	}
	if len(list) != 1 || list[0] != want {
		t.Errorf("reload event errors = %q, want [%q]", list, want)
	}

	r.MustBlockAll("enforce after the broken file", e2e.EntTCP, e2e.OpsTCP6)
	r.MustPassAll("enforce after the broken file", e2e.SupTCP, e2e.SupICMP)
	if l := d.Matching(mark, func(l e2e.Line) bool { return l.Event() == "mode_change" }); len(l) > 0 {
		t.Errorf("a refused file changed the mode: %s", l[0].Raw)
	}

	// The fixed file also lets operations poll the PLC.
	mark = d.Mark()
	extra := "\n  - {name: ops-polls-plc, from: operations, to: control, proto: tcp, dport: 502}"
	e2e.WriteFile(t, r.Path, e2e.Policy{Mode: "enforce", FailOpen: true, Extra: extra}.Render(t))
	ok := d.Wait(mark, "a reload event for the fixed file", func(l e2e.Line) bool { return l.Event() == "reload" })
	if ok.Str("result") != "ok" || ok.Str("mode") != "enforce" || ok.Str("old_sha256") != d.Start.Str("sha256") {
		t.Errorf("reload event for the fixed file: %s", ok.Raw)
	}
	r.MustPass(e2e.OpsTCP, "after the fixed file")
	d.ExpectVerdict(mark, e2e.OpsTCP, map[string]string{"rule": "ops-polls-plc", "verdict": "accept", "mode": "enforce"})
	r.MustBlockAll("after the fixed file", e2e.EntTCP, e2e.OpsUDP)
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
	d := r.StartWith(e2e.Policy{Mode: "monitor", FailOpen: true})
	r.MustPass(e2e.EntTCP, "monitor")

	f, err := os.OpenFile(r.Path, os.O_RDWR, 0)
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
	isReload := func(l e2e.Line) bool { return l.Event() == "reload" }

	mark := d.Mark()
	rewrite(e2e.Policy{Mode: "enforce", FailOpen: true}.Render(t))
	d.Signal(syscall.SIGHUP)
	ev := d.Wait(mark, "a reload on SIGHUP", isReload)
	if ev.Str("result") != "ok" || ev.Str("trigger") != "sighup" || ev.Str("mode") != "enforce" {
		t.Errorf("reload event on SIGHUP: %s", ev.Raw)
	}
	mc := d.Wait(mark, "a mode_change event", func(l e2e.Line) bool { return l.Event() == "mode_change" })
	if mc.Str("old_mode") != "monitor" || mc.Str("new_mode") != "enforce" {
		t.Errorf("mode_change event: %s", mc.Raw)
	}
	r.MustBlock(e2e.EntTCP, "enforce after SIGHUP")
	r.MustPass(e2e.SupTCP, "enforce after SIGHUP")

	// A broken file on SIGHUP is refused as well.
	mark = d.Mark()
	broken, _ := brokenPolicy(t)
	rewrite(broken)
	d.Signal(syscall.SIGHUP)
	ev = d.Wait(mark, "a refused reload on SIGHUP", isReload)
	if ev.Str("result") != "error" || ev.Str("trigger") != "sighup" || ev.Str("running_mode") != "enforce" {
		t.Errorf("reload event for a broken file on SIGHUP: %s", ev.Raw)
	}
	r.MustBlock(e2e.EntTCP, "enforce after a refused SIGHUP reload")
	r.MustPass(e2e.SupTCP, "enforce after a refused SIGHUP reload")

	// The writer closes the file: now the watcher sees it, and refuses it too.
	mark = d.Mark()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	ev = d.Wait(mark, "a reload by the file watcher after the close", isReload)
	if ev.Str("result") != "error" || ev.Str("trigger") != "file-change" || ev.Str("running_mode") != "enforce" {
		t.Errorf("reload event after the close: %s", ev.Raw)
	}
}

// enforcingWithSession starts a fail-open daemon in enforce with an
// allowed HMI session open, after checking that both hold: the session
// exchanges and a denied flow is dropped.
func enforcingWithSession(t *testing.T) (*rig, *e2e.Daemon, *e2e.Session) {
	t.Helper()
	r := newRig(t)
	d := r.StartWith(e2e.Policy{Mode: "enforce", FailOpen: true})
	s := r.OpenSession(e2e.SupTCP)
	r.MustBlock(e2e.EntTCP, "enforce")
	if err := s.Exchange(e2e.PassTimeout); err != nil {
		t.Fatalf("allowed session in enforce: %v", err)
	}
	return r, d, s
}

// TestE2ESIGKILL kills the daemon without warning: its table stays, and the
// kernel then does what queue.fail_open says.
func TestE2ESIGKILL(t *testing.T) {
	t.Run("fail-open", func(t *testing.T) {
		r, d, s := enforcingWithSession(t)

		r.KillKeepingTable(d)
		// The table stays and queues to no reader: the bypass flag passes
		// what reaches the queue, which is what some rule allows; what no
		// rule allows the kernel pre-filter still drops.
		r.MustPassAll("fail-open after SIGKILL", e2e.SupTCP6, e2e.SupUDP, e2e.SupICMP)
		r.MustBlockAll("the kernel pre-filter after SIGKILL", e2e.EntTCP, e2e.EntICMP, e2e.OpsUDP)
		if err := s.Exchange(e2e.PassTimeout); err != nil {
			t.Errorf("fail-open after SIGKILL: the allowed session broke: %v", err)
		}
		r.DeleteTables()
	})

	t.Run("fail-closed", func(t *testing.T) {
		r := newRig(t)
		d := r.StartWith(e2e.Policy{Mode: "enforce", FailOpen: false})
		if d.Start.Str("fail_open") != "false" {
			t.Errorf("start event: %s; want fail_open false", d.Start.Raw)
		}
		s := r.OpenSession(e2e.SupTCP)
		r.MustPass(e2e.SupUDP, "enforce")
		if err := s.Exchange(e2e.PassTimeout); err != nil {
			t.Fatalf("allowed session in enforce: %v", err)
		}

		r.KillKeepingTable(d)
		// Without a reader and without bypass the kernel drops, allowed or not.
		r.MustBlockAll("fail-closed after SIGKILL", e2e.SupTCP, e2e.SupUDP, e2e.SupICMP, e2e.EntTCP)
		if err := s.Exchange(e2e.BlockTimeout); err == nil {
			t.Error("fail-closed after SIGKILL: the allowed session still works")
		}

		// It was the leftover table: without it the kernel forwards again.
		r.DeleteTables()
		r.MustPassAll("after deleting the leftover table", e2e.SupTCP, e2e.EntTCP)
	})
}

// TestE2ESIGTERM stops a fail-open daemon cleanly: it exits 0, removes its
// table, and the kernel forwards again, even a flow the policy denies.
// (TestE2EStopFailClosed covers queue.fail_open false.)
func TestE2ESIGTERM(t *testing.T) {
	r, d, s := enforcingWithSession(t)

	mark := d.Mark()
	d.Stop()
	stop := d.Wait(mark, "the stop event", func(l e2e.Line) bool { return l.Event() == "stop" })
	if stop.Num("packets") <= 0 || stop.Num("dropped")+stop.Num("kernel_dropped") <= 0 {
		t.Errorf("stop event counts no packets or drops: %s", stop.Raw)
	}
	gone := d.Wait(mark, "the table_removed event", func(l e2e.Line) bool { return l.Event() == "table_removed" })
	if gone.Str("kernel") != "forwards" || gone.Str("why") != "queue.fail_open: true" {
		t.Errorf("table_removed event: %s", gone.Raw)
	}
	if r.TablePresent() {
		t.Fatal("the conduit table is still there after SIGTERM")
	}
	r.MustPassAll("after SIGTERM", e2e.EntTCP, e2e.EntICMP, e2e.OpsTCP6)
	if err := s.Exchange(e2e.PassTimeout); err != nil {
		t.Errorf("after SIGTERM the allowed session broke: %v", err)
	}
}

// TestE2ESecondDaemon starts a second conduit on the queues the first one
// serves: it must refuse with a clear message and leave the first intact.
func TestE2ESecondDaemon(t *testing.T) {
	r := newRig(t)
	d := r.StartWith(e2e.Policy{Mode: "enforce", FailOpen: true, Queue: 40})

	second := r.Launch("run", "-c", r.Path)
	if code := second.WaitExit(e2e.StartTimeout); code != 1 {
		t.Errorf("second conduit: exit %d, want 1", code)
	}
	msg := second.Stderr.String()
	if !strings.Contains(msg, "queue is already bound by another process") || !strings.Contains(msg, "queue.num") {
		t.Errorf("second conduit's message does not say the queue is bound and what to do: %q", msg)
	}

	if d.HasExited() {
		t.Fatal("the first conduit died when the second one started")
	}
	if !r.TablePresent() {
		t.Fatal("the second conduit removed the first one's table")
	}
	mark := d.Mark()
	r.MustBlock(e2e.EntTCP, "the first conduit after the second failed")
	r.MustPass(e2e.SupTCP, "the first conduit after the second failed")
	d.ExpectVerdict(mark, e2e.SupTCP, e2e.WantVerdict("enforce", e2e.SupTCP))
}

// TestE2EConduitOverride runs the plant in enforce with one conduit held in
// monitor, then moves that conduit to enforce by editing the file.
func TestE2EConduitOverride(t *testing.T) {
	r := newRig(t)
	monitorEnt := "\n  - {from: enterprise, to: control, mode: monitor}"
	d := r.StartWith(e2e.Policy{Mode: "enforce", FailOpen: true, Conduits: monitorEnt})
	if d.Start.Num("conduits") != 1 {
		t.Errorf("start event: %s; want 1 conduit", d.Start.Raw)
	}
	for _, c := range []struct {
		f    e2e.Flow
		mode string
	}{{e2e.EntTCP, "monitor"}, {e2e.EntICMP, "monitor"}, {e2e.OpsUDP, "enforce"}, {e2e.SupTCP, "enforce"}} {
		mark := d.Mark()
		if c.mode == "enforce" && !c.f.Allowed {
			r.MustBlock(c.f, "global enforce")
		} else {
			r.MustPass(c.f, c.mode+" conduit")
		}
		d.ExpectVerdict(mark, c.f, e2e.WantVerdict(c.mode, c.f))
	}

	mark := d.Mark()
	enforceEnt := "\n  - {from: enterprise, to: control, mode: enforce}"
	e2e.WriteFile(t, r.Path, e2e.Policy{Mode: "enforce", FailOpen: true, Conduits: enforceEnt}.Render(t))
	mc := d.Wait(mark, "a mode_change event", func(l e2e.Line) bool { return l.Event() == "mode_change" })
	if mc.Str("conduit") != "enterprise->control" || mc.Str("old_mode") != "monitor" || mc.Str("new_mode") != "enforce" {
		t.Errorf("mode_change event: %s; want conduit enterprise->control from monitor to enforce", mc.Raw)
	}
	r.MustBlockAll("the conduit after its switch to enforce", e2e.EntTCP, e2e.EntICMP)
	r.MustPass(e2e.SupTCP, "global enforce after the conduit's switch")
	if l := d.Matching(mark, func(l e2e.Line) bool { return l.Event() == "mode_change" }); len(l) != 1 {
		t.Errorf("%d mode_change events, want 1 (the global mode did not change)", len(l))
	}
}

// TestE2EFragments sends UDP datagrams larger than the MTU through enforce:
// the fragments of an allowed flow are reassembled and decided as one
// datagram, those of a denied flow are dropped, and nothing is malformed.
func TestE2EFragments(t *testing.T) {
	r := newRig(t)
	const size, n = 4000, 3
	if got := r.BigUDP(e2e.EntUDP, size, n, e2e.PassTimeout); got != n {
		t.Fatalf("without conduit %d of %d fragmented datagrams came back", got, n)
	}
	d := r.StartWith(e2e.Policy{Mode: "enforce", FailOpen: false})
	supUDP6 := e2e.SupUDP
	supUDP6.Desc, supUDP6.V6 = "HMI->PLC udp/2222 over IPv6", true
	for _, f := range []e2e.Flow{e2e.SupUDP, supUDP6, e2e.EntUDP} {
		mark := d.Mark()
		want, timeout := 0, e2e.BlockTimeout
		if f.Allowed {
			want, timeout = n, e2e.PassTimeout
		}
		if got := r.BigUDP(f, size, n, timeout); got != want {
			t.Errorf("%s, %d-byte datagrams: %d of %d came back, want %d", f.Desc, size, got, n, want)
		}
		d.ExpectVerdict(mark, f, e2e.WantVerdict("enforce", f))
	}
	d.Stop()
	stop := d.Wait(0, "the stop event", func(l e2e.Line) bool { return l.Event() == "stop" })
	if stop.Num("malformed") != 0 {
		t.Errorf("fragments counted as malformed: %s", stop.Raw)
	}
	if l := d.Matching(0, func(l e2e.Line) bool { return l.Str("reason") == "fragment" }); len(l) > 0 {
		t.Errorf("a fragment reached the engine unreassembled: %s", l[0].Raw)
	}
}
