package main

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/internal/plant"
	"github.com/conduit-ot/conduit/learn"
	"github.com/simonvetter/modbus"
)

// TestE2EInlineMatrix: the inline daemon keeps the live matrix. Its
// baseline holds the HMI's Modbus service with its polling period, it
// survives the stop in the matrix file beside the hit counters, and
// learn --diff of the baselines of two runs — the second polled slower
// and with a stall — flags both.
func TestE2EInlineMatrix(t *testing.T) {
	r := newModbusRig(t)
	sock := filepath.Join(r.Dir, "inline.sock")
	e2e.WriteFile(t, r.Path, e2e.Policy{Mode: "monitor", FailOpen: true, Queue: 88, Extra: mbRule(""), Socket: sock}.Render(t))
	hmi, plc := r.P.Host(plant.Supervisory).IPv4, r.P.Host(plant.Control).IPv4
	key := learn.ServiceKey{Client: hmi, Server: plc, Proto: 6, Port: mbPort}
	poll := func(n int, every time.Duration, during func(i int)) {
		t.Helper()
		c := r.hmiClient(20 * time.Second) // waits out the stall
		for i := range n {
			if during != nil {
				during(i)
			}
			if _, err := c.ReadRegisters(0, 10, modbus.HOLDING_REGISTER); err != nil {
				t.Fatalf("poll %d: %v", i, err)
			}
			time.Sleep(every)
		}
		c.Close()
	}
	read := func(path string) *learn.Service {
		t.Helper()
		m, err := learn.ReadBaselineFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s := m.Lookup(key)
		if s == nil || s.Health == nil {
			t.Fatalf("%s has no %v service with health: %+v", path, key, m.Services())
		}
		return s
	}
	run := func(name string, n int, every time.Duration, during func(i int)) string {
		t.Helper()
		dir := filepath.Join(r.Dir, name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		d := r.startOps("--state", filepath.Join(dir, "state.json"))
		poll(n, every, during)
		base := filepath.Join(r.Dir, name+".json")
		if out := r.opsCLI(sock, 0, "baseline", "save", "-o", base); !strings.Contains(out, "saved to "+base) {
			t.Errorf("baseline save: %s", out)
		}
		s := read(base)
		if s.Health.Requests < uint64(n) || s.Health.Replies < uint64(n) || s.ToServer == 0 || s.ToClient == 0 {
			t.Errorf("%s: the Modbus service %+v, health %+v: want >= %d requests and replies", name, s, s.Health, n)
		}
		if p := s.Health.Periods.Cycle().Quantile(0.5); p < every || p > every+every/2 {
			t.Errorf("%s: polling period %v, want about %v", name, p, every)
		}
		// A draft from the inline daemon's matrix, which check accepts.
		draft := filepath.Join(r.Dir, name+"-draft.yaml")
		if code, out, errOut := evRun(t, runLearn, "--socket", sock, "-o", draft); code != 0 {
			t.Errorf("learn --socket: exit %d\n%s%s", code, out, errOut)
		}
		if code, out, errOut := evRun(t, runCheck, "-c", draft); code != 0 {
			t.Errorf("check of the inline draft: exit %d\n%s%s", code, out, errOut)
		}
		if b, _ := os.ReadFile(draft); !strings.Contains(string(b), fmt.Sprint(mbPort)) || !strings.Contains(string(b), plc.String()) {
			t.Errorf("the inline draft lacks the HMI's Modbus service:\n%s", b)
		}
		d.Signal(syscall.SIGTERM)
		if code := d.WaitExit(3 * e2e.ExitTimeout); code != 0 {
			t.Fatalf("%s: exit %d", name, code)
		}
		stop := d.Wait(0, "the stop event", func(l e2e.Line) bool { return l.Event() == "stop" })
		if _, ok := stop.M["matrix_dropped"]; !ok || stop.Num("matrix_dropped") != 0 {
			t.Errorf("%s: stop event's matrix_dropped: %s", name, stop.Raw)
		}
		// Kept across the restart, beside the hit counters.
		if s := read(filepath.Join(dir, "matrix.json")); s.Health.Requests < uint64(n) {
			t.Errorf("%s: the saved matrix has %d requests, want >= %d", name, s.Health.Requests, n)
		}
		return base
	}

	before := run("before", 20, 200*time.Millisecond, nil)
	// A slower polling rate, and a stall on the way to the PLC (the
	// bridge drops what goes to it for 3 s).
	after := run("after", 20, 500*time.Millisecond, func(i int) {
		if i == 10 {
			r.Stall(plc, 3*time.Second)
		}
	})

	code, out, errOut := evRun(t, runLearn, "--diff", before, after)
	if code != 3 {
		t.Fatalf("exit %d, want 3 (changed):\n%s%s", code, out, errOut)
	}
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "changed") && strings.Contains(l, netip.AddrPortFrom(plc, mbPort).String()) {
			line = l
		}
	}
	for _, want := range []string{"polling period 20", "ms -> 50", "stall: a ", fmt.Sprintf("silence in flow %s:", hmi)} {
		if !strings.Contains(line, want) {
			t.Errorf("the Modbus service's line lacks %q:\n%s", want, out)
		}
	}
	t.Logf("%s", out)
}

// TestE2EInlineMatrixFastpath: a flow the fast path takes off the queue
// keeps counting in the inline matrix, from the kernel's accounting.
func TestE2EInlineMatrixFastpath(t *testing.T) {
	r := newModbusRig(t)
	if _, err := exec.LookPath("conntrack"); err != nil {
		t.Skip("needs the conntrack tool")
	}
	sock := r.Socket()
	e2e.WriteFile(t, r.Path, fastpathPolicy{Mode: "enforce", Queue: 94, Socket: sock, TCPPort: e2e.PLCTCP, Idle: "30s"}.render(t))
	r.StartDaemon(r.Path)
	const n = 400
	u := r.openUDP(e2e.SupUDP)
	for range n {
		if err := u.exchange(e2e.PassTimeout); err != nil {
			t.Fatal(err)
		}
	}
	r.waitFlow(sock, "hmi-io-udp", "counters from the kernel", func(f engine.FlowInfo) bool {
		return f.Offloaded && f.PacketsOrig == n && f.PacketsReply == n
	})
	key := learn.ServiceKey{Client: r.P.Host(plant.Supervisory).IPv4, Server: r.P.Host(plant.Control).IPv4, Proto: 17, Port: 2222}
	base := filepath.Join(r.Dir, "fastpath.json")
	var s *learn.Service
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		r.opsCLI(sock, 0, "baseline", "save", "-o", base)
		m, err := learn.ReadBaselineFile(base)
		if err != nil {
			t.Fatal(err)
		}
		if s = m.Lookup(key); s != nil && s.ToServer == n && s.ToClient == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the matrix's %v service: %+v; want %d packets each way (most from the kernel's accounting)", key, s, n)
		}
	}
	if s.Bytes != 2*n*(20+8+fpUDPPayload) {
		t.Errorf("bytes %d, want %d", s.Bytes, 2*n*(20+8+fpUDPPayload))
	}
}
