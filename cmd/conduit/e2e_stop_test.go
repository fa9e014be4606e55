package main

// End-to-end tests of how `conduit run` stops and restarts: a steady,
// sequence-numbered UDP stream between the HMI and the PLC counts every
// allowed packet lost while the daemon is restarted as systemd does it
// (SIGTERM the old one, wait for it, start the new one).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/engine/nft"
	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/internal/plant"
)

// udpStream sends one sequence-numbered datagram every interval from a
// zone host to the PLC's UDP echo server over one socket (one flow), and
// records which echoes came back.
type udpStream struct {
	c     *net.UDPConn
	every time.Duration
	stop  chan struct{}
	done  sync.WaitGroup

	mu   sync.Mutex
	sent []time.Time // send time by sequence number
	got  []bool      // echo seen, by sequence number
}

func (r *rig) startStream(f e2e.Flow, every time.Duration) *udpStream {
	r.T.Helper()
	var c *net.UDPConn
	err := r.P.Do(r.P.Host(f.From).NS, func() error {
		raddr, err := net.ResolveUDPAddr("udp", r.Addr(f))
		if err != nil {
			return err
		}
		c, err = net.DialUDP("udp", nil, raddr)
		return err
	})
	if err != nil {
		r.T.Fatalf("open the stream's socket: %v", err)
	}
	r.T.Cleanup(func() { c.Close() })
	_ = c.SetReadBuffer(4 << 20)
	s := &udpStream{c: c, every: every, stop: make(chan struct{})}
	s.done.Go(s.receive)
	s.done.Go(s.send)
	return s
}

func (s *udpStream) send() {
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	var b [8]byte
	for seq := uint64(0); ; seq++ {
		s.mu.Lock()
		s.sent = append(s.sent, time.Now())
		s.got = append(s.got, false)
		s.mu.Unlock()
		binary.BigEndian.PutUint64(b[:], seq)
		_, _ = s.c.Write(b[:]) // a refused send is a loss like any other
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
	}
}

func (s *udpStream) receive() {
	var b [64]byte
	for {
		_ = s.c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := s.c.Read(b[:])
		if err != nil {
			select {
			case <-s.stop:
				// Stragglers had a grace period before stop closed.
				return
			default:
				continue
			}
		}
		if n != 8 {
			continue
		}
		seq := binary.BigEndian.Uint64(b[:])
		s.mu.Lock()
		if seq < uint64(len(s.got)) {
			s.got[seq] = true
		}
		s.mu.Unlock()
	}
}

// streamResult is what a stream lost: runs of consecutive lost datagrams
// by send time.
type streamResult struct {
	sent, lost int
	runs       [][2]time.Time // first and last send time of each run of losses
}

// finish stops sending, gives the last echoes grace to arrive, and
// reports the losses.
func (s *udpStream) finish(grace time.Duration) streamResult {
	// What was sent so far is judged; the sender goes on until stop.
	s.mu.Lock()
	stopAt := len(s.sent)
	s.mu.Unlock()
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		all := true
		for _, g := range s.got[:stopAt] {
			if !g {
				all = false
				break
			}
		}
		s.mu.Unlock()
		if all {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(s.stop)
	s.done.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	res := streamResult{sent: stopAt}
	for i := 0; i < stopAt; i++ {
		if s.got[i] {
			continue
		}
		res.lost++
		if k := len(res.runs); k > 0 && !s.got[i-1] {
			res.runs[k-1][1] = s.sent[i]
		} else {
			res.runs = append(res.runs, [2]time.Time{s.sent[i], s.sent[i]})
		}
	}
	return res
}

// describe says when the losses happened relative to the named instants.
func (res streamResult) describe(marks []mark) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d lost", res.lost, res.sent)
	for _, run := range res.runs {
		fmt.Fprintf(&b, "; run of %v from %s to %s", run[1].Sub(run[0]).Round(time.Millisecond), relTo(run[0], marks), relTo(run[1], marks))
	}
	return b.String()
}

// mark is a named instant of a test.
type mark struct {
	name string
	at   time.Time
}

// relTo names t by the last mark before it.
func relTo(t time.Time, marks []mark) string {
	best := -1
	for i, m := range marks {
		if !m.at.After(t) {
			best = i
		}
	}
	if best < 0 {
		return t.Format("15:04:05.000")
	}
	return fmt.Sprintf("%s+%v", marks[best].name, t.Sub(marks[best].at).Round(time.Millisecond))
}

// restart stops d as systemd does (SIGTERM, wait for the exit) and starts
// a new daemon on the same file, recording the instants in between.
func (r *rig) restart(d *e2e.Daemon, marks *[]mark) *e2e.Daemon {
	r.T.Helper()
	*marks = append(*marks, mark{"sigterm", time.Now()})
	d.Stop()
	*marks = append(*marks, mark{"exited", time.Now()})
	d2 := r.StartDaemon("")
	*marks = append(*marks, mark{"started", time.Now()})
	return d2
}

// restartsUnderStream starts an enforce daemon under a steady allowed UDP
// stream, restarts it n times, and returns what the stream saw and the
// instants of each restart (sigterm, exited#i, started#i).
func (r *rig) restartsUnderStream(failOpen bool, n int) (streamResult, []mark) {
	r.T.Helper()
	d := r.StartWith(e2e.Policy{Mode: "enforce", FailOpen: failOpen})
	s := r.startStream(e2e.SupUDP, 100*time.Microsecond)
	time.Sleep(300 * time.Millisecond)
	var marks []mark
	for i := range n {
		d = r.restart(d, &marks)
		marks[len(marks)-2].name = fmt.Sprintf("exited#%d", i+1)
		marks[len(marks)-1].name = fmt.Sprintf("started#%d", i+1)
		time.Sleep(300 * time.Millisecond)
	}
	return s.finish(2 * time.Second), marks
}

// TestE2ERestartFailOpenLosesNothing restarts an enforce daemon with
// fail_open true under a steady allowed UDP stream: not one datagram may
// be lost, neither while the old daemon lets go nor when the new one binds.
func TestE2ERestartFailOpenLosesNothing(t *testing.T) {
	r := newRig(t)
	res, marks := r.restartsUnderStream(true, 5)
	t.Logf("allowed UDP stream over 5 restarts (fail_open true): %s", res.describe(marks))
	if res.sent < 500 {
		t.Fatalf("the stream sent only %d datagrams", res.sent)
	}
	if res.lost > 0 {
		t.Errorf("restarts with fail_open true lost allowed datagrams: %s", res.describe(marks))
	}
	r.MustBlock(e2e.EntUDP, "enforce after the restarts")
}

// ruleset is `nft list ruleset` in the firewall namespace ("" without nft).
func (r *rig) ruleset() string {
	r.T.Helper()
	if _, err := exec.LookPath("nft"); err != nil {
		return ""
	}
	out, err := plant.NSCmd(r.P.FW, "nft", "list", "ruleset").CombinedOutput()
	if err != nil {
		r.T.Fatalf("nft list ruleset: %v: %s", err, out)
	}
	return string(out)
}

// wantHeld checks that a fail-closed conduit that stopped left its table
// with the drop rule first, and that the kernel drops allowed and denied
// traffic alike.
func (r *rig) wantHeld(why string) {
	r.T.Helper()
	if !r.TablePresent() {
		r.T.Fatalf("%s: no conduit table; with fail_open false it must stay", why)
	}
	if rs := r.ruleset(); rs != "" && !strings.Contains(rs, nft.DivertDropComment) {
		r.T.Errorf("%s: the kept table has no drop rule with its comment:\n%s", why, rs)
	}
	r.MustBlockAll(why, e2e.SupTCP, e2e.SupUDP, e2e.SupICMP, e2e.EntTCP, e2e.EntUDP)
}

// TestE2EStopFailClosed: with queue.fail_open false a SIGTERM (systemctl
// stop) leaves the kernel dropping allowed and denied traffic alike until
// conduit starts again; the next start takes over from the kept table,
// seeds the running session and passes allowed traffic again.
func TestE2EStopFailClosed(t *testing.T) {
	r := newRig(t)
	d := r.StartWith(e2e.Policy{Mode: "enforce", FailOpen: false})
	s := r.OpenSession(e2e.SupTCP)
	if err := s.Exchange(e2e.PassTimeout); err != nil {
		t.Fatalf("allowed session in enforce: %v", err)
	}
	r.MustBlock(e2e.EntTCP, "enforce")

	mark := d.Mark()
	d.Stop()
	kept := d.Wait(mark, "the table_kept event", func(l e2e.Line) bool { return l.Event() == "table_kept" })
	if kept.Str("kernel") != "drops" || kept.Str("why") != "queue.fail_open: false" || kept.Str("level") != "WARN" {
		t.Errorf("table_kept event: %s", kept.Raw)
	}
	stop := d.Wait(mark, "the stop event", func(l e2e.Line) bool { return l.Event() == "stop" })
	if stop.Num("packets") <= 0 {
		t.Errorf("stop event: %s", stop.Raw)
	}
	r.wantHeld("after SIGTERM with fail_open false")
	time.Sleep(300 * time.Millisecond) // still held: nothing times it out
	r.MustBlock(e2e.SupUDP, "300ms later")

	d2 := r.StartDaemon("")
	seed := d2.Wait(0, "the seed event", func(l e2e.Line) bool { return l.Event() == "seed" })
	if seed.Num("seeded") < 1 {
		t.Errorf("the restart seeded nothing from the kernel (the held table must keep conntrack): %s", seed.Raw)
	}
	mark = d2.Mark()
	r.MustPassAll("after the restart", e2e.SupTCP, e2e.SupUDP, e2e.SupICMP)
	r.MustBlock(e2e.EntTCP, "after the restart")
	d2.ExpectVerdict(mark, e2e.SupUDP, e2e.WantVerdict("enforce", e2e.SupUDP))
	// The session that ran before the stop (silent while held) is known
	// again and carries on.
	if err := s.Exchange(e2e.PassTimeout); err != nil {
		t.Errorf("the allowed session did not survive the fail-closed stop and restart: %v", err)
	}
	if rs := r.ruleset(); strings.Contains(rs, nft.DivertDropComment) {
		t.Errorf("the new table still has the stop's drop rule:\n%s", rs)
	}
}

// TestE2EStopRemove: decommissioning takes the kept table away on purpose,
// with `run --remove-on-exit` or with `conduit remove` after the stop.
func TestE2EStopRemove(t *testing.T) {
	t.Run("remove-on-exit", func(t *testing.T) {
		r := newRig(t)
		e2e.WriteFile(t, r.Path, e2e.Policy{Mode: "enforce", FailOpen: false}.Render(t))
		d := r.Launch("run", "-c", r.Path, "--state", filepath.Join(r.Dir, "state.json"), "--remove-on-exit")
		d.WaitStart()
		r.MustBlock(e2e.EntTCP, "enforce")
		mark := d.Mark()
		d.Stop()
		gone := d.Wait(mark, "the table_removed event", func(l e2e.Line) bool { return l.Event() == "table_removed" })
		if gone.Str("why") != "--remove-on-exit" {
			t.Errorf("table_removed event: %s", gone.Raw)
		}
		if r.TablePresent() {
			t.Fatal("--remove-on-exit left the table")
		}
		r.MustPassAll("after --remove-on-exit", e2e.EntTCP, e2e.SupUDP)
	})
	t.Run("remove-command", func(t *testing.T) {
		r := newRig(t)
		d := r.StartWith(e2e.Policy{Mode: "enforce", FailOpen: false})
		// Not under a running daemon.
		out, err := plant.NSCmd(r.P.FW, r.Conduit, "remove").CombinedOutput()
		if code := exitCode(err); code != 1 || !strings.Contains(string(out), "may be running") {
			t.Errorf("conduit remove under a running daemon: exit %d, %s; want 1 and a refusal", code, out)
		}
		if !r.TablePresent() {
			t.Fatal("conduit remove took the table from under a running daemon")
		}
		d.Stop()
		r.wantHeld("after SIGTERM")
		out, err = plant.NSCmd(r.P.FW, r.Conduit, "remove").CombinedOutput()
		if code := exitCode(err); code != 0 || !strings.Contains(string(out), "removed nftables table") {
			t.Fatalf("conduit remove: exit %d, %s", code, out)
		}
		if r.TablePresent() {
			t.Fatal("conduit remove left the table")
		}
		r.MustPassAll("after conduit remove", e2e.EntTCP, e2e.SupUDP)
		out, err = plant.NSCmd(r.P.FW, r.Conduit, "remove").CombinedOutput()
		if code := exitCode(err); code != 0 || !strings.Contains(string(out), "nothing to remove") {
			t.Errorf("conduit remove without a table: exit %d, %s", code, out)
		}
	})
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// execd waits until the process of d is conduit itself (ip netns exec
// has exec'd it) and its Go runtime has installed its signal handlers.
func execd(t *testing.T, d *e2e.Daemon) {
	t.Helper()
	pid := d.Cmd.Process.Pid
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if strings.TrimSpace(string(comm)) == "conduit" && sigCaught(string(status), syscall.SIGTERM) {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
	t.Fatalf("conduit (pid %d) never started", pid)
}

// sigCaught reads the SigCgt mask of /proc/PID/status.
func sigCaught(status string, sig syscall.Signal) bool {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "SigCgt:"); ok {
			var mask uint64
			fmt.Sscanf(strings.TrimSpace(v), "%x", &mask)
			return mask&(1<<(uint(sig)-1)) != 0
		}
	}
	return false
}

// TestE2ESignalDuringStart sends SIGTERM at instants through the start of
// `conduit run`; each must end the start cleanly (exit 0) and leave the
// table as queue.fail_open says. The first instant is made deterministic
// with a policy file that is a FIFO: the daemon blocks reading it, right
// after it subscribed to its signals, until the test has sent SIGTERM and
// then writes the policy. The others are the moment the table is in place
// (before the start event) and fixed delays after exec.
func TestE2ESignalDuringStart(t *testing.T) {
	for _, failOpen := range []bool{true, false} {
		t.Run(fmt.Sprintf("fail_open=%v", failOpen), func(t *testing.T) {
			r := newRig(t)
			text := e2e.Policy{Mode: "enforce", FailOpen: failOpen}.Render(t)
			e2e.WriteFile(t, r.Path, text)
			wantTable := func(when string) {
				t.Helper()
				if present := r.TablePresent(); present == failOpen {
					t.Fatalf("SIGTERM %s: table present %v with fail_open %v", when, present, failOpen)
				}
			}
			stopped := func(d *e2e.Daemon, when string) {
				t.Helper()
				if code := d.WaitExit(e2e.StartTimeout); code != 0 {
					t.Fatalf("SIGTERM %s: conduit exited %d, want 0; stderr: %s", when, code, d.Stderr.String())
				}
				stop := d.Wait(0, "the stop event", func(l e2e.Line) bool { return l.Event() == "stop" })
				wantTable(when)
				t.Logf("SIGTERM %s: exit 0, %s", when, stop.Raw)
			}

			// While the policy is being read.
			d, write := r.launchBlocked(text)
			d.Signal(syscall.SIGTERM)
			time.Sleep(50 * time.Millisecond) // the signal is in; a default action would have killed it by now
			write()
			stopped(d, "while reading the policy")
			if d.Matching(0, func(l e2e.Line) bool { return l.Event() == "stop" && l.Str("during_start") == "true" }) == nil {
				t.Error("the stop while reading the policy was not logged as during_start")
			}

			// Once the table is in place, before the start event.
			d = r.Launch("run", "-c", r.Path, "--state", filepath.Join(r.Dir, "state.json"))
			d.WaitTimeout(0, e2e.StartTimeout, "the table installed", func(l e2e.Line) bool { return l.Str("msg") == "nftables table installed" })
			d.Signal(syscall.SIGTERM)
			stopped(d, "once the table is installed")

			// Fixed delays after exec, wherever the start then is (the Go
			// runtime's own start, before any Go code can ask for a
			// signal, takes 1-3ms idle; the rest is margin for load).
			for _, delay := range []time.Duration{60 * time.Millisecond, 120 * time.Millisecond} {
				d := r.Launch("run", "-c", r.Path, "--state", filepath.Join(r.Dir, "state.json"))
				execd(t, d)
				time.Sleep(delay)
				d.Signal(syscall.SIGTERM)
				stopped(d, fmt.Sprintf("%v after exec", delay))
			}
			if failOpen {
				r.MustPass(e2e.EntTCP, "fail-open after the interrupted starts")
			} else {
				r.wantHeld("fail-closed after the interrupted starts")
			}
			// A start that is left alone works.
			r.StartDaemon("")
			r.MustPass(e2e.SupUDP, "a full start after the interrupted ones")
			r.MustBlock(e2e.EntTCP, "a full start after the interrupted ones")
		})
	}
}

// TestE2ERestartFailClosedWindow restarts a fail-closed daemon under a
// steady allowed stream: what is lost is what was sent while no daemon
// ran (the operator's choice), and nothing before the stop or after the
// new daemon's start.
func TestE2ERestartFailClosedWindow(t *testing.T) {
	r := newRig(t)
	res, marks := r.restartsUnderStream(false, 3)
	t.Logf("allowed UDP stream over 3 restarts (fail_open false): %s", res.describe(marks))
	var down time.Duration
	for i := 0; i+2 < len(marks); i += 3 {
		down += marks[i+2].at.Sub(marks[i].at)
	}
	t.Logf("SIGTERM to start event, summed over the restarts: %v", down.Round(time.Millisecond))
	// While no daemon runs the kernel drops: each restart's losses span
	// the instant the old daemon had exited.
	for i := 1; i < len(marks); i += 3 {
		spanned := false
		for _, run := range res.runs {
			if !run[0].After(marks[i].at) && !run[1].Before(marks[i].at) {
				spanned = true
			}
		}
		if !spanned {
			t.Errorf("allowed datagrams passed at %s although no daemon ran (fail_open false): %s", marks[i].name, res.describe(marks))
		}
	}
	// An echo of a request that passed just before the stop may meet the
	// drop on its way back: allow one round trip before the SIGTERM.
	const rtt = 50 * time.Millisecond
	for _, run := range res.runs {
		inside := false
		for i := 0; i+2 < len(marks); i += 3 {
			if !run[0].Before(marks[i].at.Add(-rtt)) && !run[1].After(marks[i+2].at) {
				inside = true
			}
		}
		if !inside {
			t.Errorf("allowed datagrams lost outside the stops (%s to %s): %s", relTo(run[0], marks), relTo(run[1], marks), res.describe(marks))
		}
	}
}

// TestE2ERestartAfterKill: a daemon killed outright (a crash; systemd
// restarts it) leaves its table queueing to nobody, and with fail_open true
// the kernel passes. The new daemon takes over from that table without
// losing what the old table queues to it before its table is in place:
// only what the killed daemon held at the instant of the kill is lost.
func TestE2ERestartAfterKill(t *testing.T) {
	r := newRig(t)
	d := r.StartWith(e2e.Policy{Mode: "enforce", FailOpen: true})
	s := r.startStream(e2e.SupUDP, 100*time.Microsecond)
	time.Sleep(300 * time.Millisecond)
	var marks []mark
	for i := range 3 {
		marks = append(marks, mark{fmt.Sprintf("kill#%d", i+1), time.Now()})
		r.KillKeepingTable(d)
		marks = append(marks, mark{fmt.Sprintf("dead#%d", i+1), time.Now()})
		time.Sleep(100 * time.Millisecond)
		marks = append(marks, mark{fmt.Sprintf("restart#%d", i+1), time.Now()})
		d = r.StartDaemon("")
		marks = append(marks, mark{fmt.Sprintf("started#%d", i+1), time.Now()})
		time.Sleep(300 * time.Millisecond)
	}
	res := s.finish(2 * time.Second)
	t.Logf("allowed UDP stream over 3 kills and restarts (fail_open true): %s", res.describe(marks))
	const rtt = 50 * time.Millisecond
	for _, run := range res.runs {
		atKill := false
		// Between the kill and the end of the process (its queues close
		// only then), give or take a round trip.
		for i := 0; i+1 < len(marks); i += 4 {
			if !run[0].Before(marks[i].at.Add(-rtt)) && !run[1].After(marks[i+1].at.Add(rtt)) {
				atKill = true
			}
		}
		if !atKill {
			t.Errorf("allowed datagrams lost away from the kills (%s to %s): %s", relTo(run[0], marks), relTo(run[1], marks), res.describe(marks))
		}
	}
	r.MustBlock(e2e.EntUDP, "enforce after the restarts")
}

// TestE2ESecondDaemonStopped: a second conduit on the queues a running one
// serves, stopped at instants through its start, must leave the running
// one's table alone whatever its fail_open says (never remove it, never
// divert it).
func TestE2ESecondDaemonStopped(t *testing.T) {
	for _, failOpen := range []bool{true, false} {
		t.Run(fmt.Sprintf("fail_open=%v", failOpen), func(t *testing.T) {
			r := newRig(t)
			e2e.WriteFile(t, r.Path, e2e.Policy{Mode: "enforce", FailOpen: failOpen}.Render(t))
			first := r.StartDaemon("")
			text := e2e.Policy{Mode: "enforce", FailOpen: failOpen}.Render(t)
			for i := range 3 {
				// Stopped while it reads its policy (before it can fail on
				// the queue), or at a moment later in its start.
				var d *e2e.Daemon
				if i == 0 {
					var write func()
					d, write = r.launchBlocked(text)
					d.Signal(syscall.SIGTERM)
					time.Sleep(50 * time.Millisecond)
					write()
				} else {
					d = r.Launch("run", "-c", r.Path, "--state", filepath.Join(r.Dir, "state2.json"))
					execd(t, d)
					time.Sleep(time.Duration(i) * 60 * time.Millisecond)
					_ = d.Cmd.Process.Signal(syscall.SIGTERM) // it may have failed on the bound queue already
				}
				delay := fmt.Sprintf("case %d", i)
				if code := d.WaitExit(e2e.StartTimeout); code != 0 && code != 1 {
					t.Fatalf("second conduit stopped (%s): exit %d, want 0 or 1; stderr: %s", delay, code, d.Stderr.String())
				}
				if first.HasExited() {
					t.Fatal("the first conduit died")
				}
				if !r.TablePresent() {
					t.Fatalf("the second conduit, stopped (%s), removed the first one's table", delay)
				}
				if rs := r.ruleset(); strings.Contains(rs, nft.DivertDropComment) || strings.Contains(rs, nft.DivertAcceptComment) {
					t.Fatalf("the second conduit, stopped (%s), diverted the first one's table:\n%s", delay, rs)
				}
			}
			r.MustBlock(e2e.EntTCP, "the first conduit after the second was stopped")
			r.MustPass(e2e.SupTCP, "the first conduit after the second was stopped")
		})
	}
}

// launchBlocked starts conduit on a policy file that is a FIFO, and
// returns once the daemon has opened it: it then blocks reading it, after
// subscribing to its signals and before anything else. write gives it the
// policy text.
func (r *rig) launchBlocked(text string) (d *e2e.Daemon, write func()) {
	t := r.T
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "policy.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	d = r.Launch("run", "-c", fifo, "--state", filepath.Join(r.Dir, "state-fifo.json"))
	var w *os.File
	for deadline := time.Now().Add(e2e.StartTimeout); w == nil; {
		// Opening a FIFO's write end without blocking succeeds once its
		// reader has it open.
		f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		switch {
		case err == nil:
			w = f
		case time.Now().After(deadline):
			t.Fatalf("conduit never opened its policy file: %v", err)
		case d.HasExited():
			t.Fatalf("conduit exited before reading its policy: %s", d.Stderr.String())
		default:
			time.Sleep(time.Millisecond)
		}
	}
	return d, func() {
		t.Helper()
		defer w.Close()
		if _, err := w.WriteString(text); err != nil {
			t.Fatalf("writing the policy to conduit (did a signal kill it?): %v", err)
		}
	}
}
