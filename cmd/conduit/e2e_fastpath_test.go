package main

// End-to-end test of the kernel fast path on the netns plant: a decided
// flow's packets stop reaching conduit, and conduit still owns it — its
// counters (from conntrack accounting) match what was sent, its rule's idle
// timeout ends it, a narrowing reload stops it within one packet in
// enforce — while a flow with a Modbus condition is never offloaded.

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/simonvetter/modbus"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/internal/plant"
)

type fastpathPolicy struct {
	Mode    string
	Queue   int
	Socket  string
	TCPPort int
	Idle    string
}

func (p fastpathPolicy) render(t *testing.T) string {
	t.Helper()
	return e2e.RenderFile(t, filepath.Join("testdata", "e2e-fastpath-policy.yaml.tmpl"), p)
}

// udpSession is one UDP socket of the HMI to the PLC's echo server: all
// its exchanges are one flow.
type udpSession struct {
	c   net.Conn
	seq int
}

// fpUDPPayload: every datagram is 20 (IP) + 8 (UDP) + 64 bytes.
const fpUDPPayload = 64

func (r *rig) openUDP(f e2e.Flow) *udpSession {
	r.T.Helper()
	var c net.Conn
	if err := r.P.Do(r.P.Host(f.From).NS, func() error {
		var err error
		c, err = net.Dial("udp", r.Addr(f))
		return err
	}); err != nil {
		r.T.Fatal(err)
	}
	r.T.Cleanup(func() { c.Close() })
	return &udpSession{c: c}
}

func (s *udpSession) exchange(timeout time.Duration) error {
	s.seq++
	msg := []byte(fmt.Sprintf("%-*d", fpUDPPayload, s.seq))
	s.c.SetDeadline(time.Now().Add(timeout))
	if _, err := s.c.Write(msg); err != nil {
		return err
	}
	buf := make([]byte, 2*fpUDPPayload)
	n, err := s.c.Read(buf)
	if err != nil {
		return fmt.Errorf("exchange %d: %w", s.seq, err)
	}
	if string(buf[:n]) != string(msg) {
		return fmt.Errorf("exchange %d: echo %q", s.seq, buf[:n])
	}
	return nil
}

// flowOf returns the flow of rule from `flows --json`.
func (r *rig) flowOf(sock, rule string) (engine.FlowInfo, bool) {
	r.T.Helper()
	var fr flowsReply
	r.opsJSON(sock, &fr, "flows", "--rule", rule)
	if len(fr.Flows) == 0 {
		return engine.FlowInfo{}, false
	}
	return fr.Flows[len(fr.Flows)-1], true
}

// waitFlow polls the flows of rule until ok accepts one.
func (r *rig) waitFlow(sock, rule, what string, ok func(engine.FlowInfo) bool) engine.FlowInfo {
	r.T.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, found := r.flowOf(sock, rule)
		if found && ok(f) {
			return f
		}
		if time.Now().After(deadline) {
			r.T.Fatalf("%s: flow of %s is %+v (found %v)", what, rule, f, found)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// queued is how many packets conduit judged, less the IPv6 neighbour
// discovery and MLD the plant's hosts send on their own.
func (r *rig) queued(sock string) uint64 {
	var st statusReport
	r.opsJSON(sock, &st, "status")
	return st.Verdicts.Packets - st.Verdicts.LinkControl
}

// kernelEntries lists the firewall's conntrack entries of UDP port 2222.
func (r *rig) kernelEntries() string {
	out, _ := plant.NSCmd(r.P.FW, "conntrack", "-L", "-p", "udp", "--dport", "2222").CombinedOutput()
	return string(out)
}

func TestE2EFastpath(t *testing.T) {
	r := newModbusRig(t)
	e2e.Need(t, "conntrack")
	sock := r.Socket()
	pol := fastpathPolicy{Mode: "enforce", Queue: 90, Socket: sock, TCPPort: e2e.PLCTCP, Idle: "4s"}
	e2e.WriteFile(t, r.Path, pol.render(t))
	d := r.StartDaemon(r.Path)
	var st statusReport
	r.opsJSON(sock, &st, "status")
	if !st.Fastpath.Enabled || st.Fastpath.Method != "ctnetlink" {
		t.Fatalf("fast path %+v, want enabled through ctnetlink (this kernel has no CONFIG_NETFILTER_NETLINK_GLUE_CT)", st.Fastpath)
	}

	// 1. An offloaded UDP flow: conduit judges its first packets only, and
	// its counters, from the kernel's accounting, match what was sent.
	const n = 400
	u := r.openUDP(e2e.SupUDP)
	before := r.queued(sock)
	for range n {
		if err := u.exchange(e2e.PassTimeout); err != nil {
			t.Fatal(err)
		}
	}
	const size = 20 + 8 + fpUDPPayload
	f := r.waitFlow(sock, "hmi-io-udp", "counters from the kernel", func(f engine.FlowInfo) bool {
		return f.Offloaded && f.PacketsOrig == n && f.PacketsReply == n
	})
	if f.BytesOrig != n*size || f.BytesReply != n*size {
		t.Errorf("bytes %d/%d, want %d each", f.BytesOrig, f.BytesReply, n*size)
	}
	if q := r.queued(sock) - before; q > 10 {
		t.Errorf("conduit judged %d of the flow's %d packets, want only the first few", q, 2*n)
	}
	r.opsJSON(sock, &st, "status")
	if st.Fastpath.Flows < 1 || st.Fastpath.Offloads < 1 || st.Fastpath.AcceptedPackets < 2*n-10 {
		t.Errorf("status fastpath %+v, want the flow offloaded and ~%d packets accepted in the kernel", st.Fastpath, 2*n)
	}
	out := r.opsCLI(sock, 0, "flows", "--rule", "hmi-io-udp")
	if !strings.Contains(out, "PATH") || !strings.Contains(out, "kernel") {
		t.Errorf("flows does not show the flow on the kernel path:\n%s", out)
	}

	// 2. The rule's idle timeout (4s) still applies to an offloaded flow:
	// busy for longer, it lives on; silent, conduit ends it and removes the
	// kernel entry. A fresh socket: the checks above may have taken longer
	// than the timeout on a loaded machine.
	u = r.openUDP(e2e.SupUDP)
	sport := uint16(u.c.LocalAddr().(*net.UDPAddr).Port)
	for range 3 {
		if err := u.exchange(e2e.PassTimeout); err != nil {
			t.Fatal(err)
		}
	}
	id := r.waitFlow(sock, "hmi-io-udp", "the second udp flow offloaded", func(f engine.FlowInfo) bool {
		return f.Sport == sport && f.Offloaded
	}).ID
	from := d.Mark()
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); {
		if err := u.exchange(e2e.PassTimeout); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if g, _ := r.flowOf(sock, "hmi-io-udp"); g.ID != id {
		t.Fatalf("a busy offloaded flow ended after its idle timeout (flow %d, now %+v)", id, g)
	}
	end := d.WaitTimeout(from, 12*time.Second, "the idle flow_end", func(l e2e.Line) bool {
		return l.Event() == "flow_end" && l.Num("flow") == int(id)
	})
	if end.Str("reason") != "idle" || end.Str("offloaded") != "true" {
		t.Errorf("flow_end %s, want reason idle of an offloaded flow", end.Raw)
	}
	if idle := time.Duration(end.Num("idle")); idle < 4*time.Second {
		t.Errorf("flow_end idle %v, want at least the 4s idle timeout", idle)
	}
	// The sweep removes the entry just after it ends the flow.
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		k := r.kernelEntries()
		if !strings.Contains(k, "dport=2222") {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the kernel entry outlived the flow's idle timeout:\n%s", k)
			break
		}
	}
	// The socket's next exchange is a new flow, judged again.
	from = d.Mark()
	if err := u.exchange(e2e.PassTimeout); err != nil {
		t.Fatalf("after the idle end: %v", err)
	}
	d.Wait(from, "a new verdict for the idle flow", func(l e2e.Line) bool {
		return l.Event() == "verdict" && l.Str("rule") == "hmi-io-udp" && l.Str("reason") == "new-flow"
	})

	// 3. A flow with a Modbus condition is never offloaded: every request
	// is inspected.
	mb := r.hmiClient(e2e.PassTimeout)
	before = r.queued(sock)
	for i := range 30 {
		if _, err := mb.ReadRegisters(0, 1, modbus.HOLDING_REGISTER); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	time.Sleep(1500 * time.Millisecond) // a sweep
	if f, ok := r.flowOf(sock, "hmi-modbus"); !ok || f.Offloaded || f.PacketsOrig < 30 {
		t.Errorf("modbus flow %+v, want tracked, not offloaded, every request seen", f)
	}
	if q := r.queued(sock) - before; q < 60 {
		t.Errorf("conduit judged %d packets of 30 Modbus exchanges, want every one", q)
	}

	// 4. A narrowing reload stops an offloaded TCP session within one
	// packet in enforce.
	s := r.OpenSession(e2e.SupTCP)
	for range 20 {
		if err := s.Exchange(e2e.PassTimeout); err != nil {
			t.Fatal(err)
		}
	}
	r.waitFlow(sock, "hmi-polls-plc", "the tcp session offloaded", func(f engine.FlowInfo) bool { return f.Offloaded })
	before = r.queued(sock)
	for range 50 {
		if err := s.Exchange(e2e.PassTimeout); err != nil {
			t.Fatal(err)
		}
	}
	if q := r.queued(sock) - before; q > 10 {
		t.Errorf("conduit judged %d packets of 50 offloaded exchanges", q)
	}
	pol.TCPPort = e2e.PLCTCP + 1
	e2e.WriteFile(t, r.Path, pol.render(t))
	from = d.Mark()
	r.opsCLI(sock, 0, "reload")
	if err := s.Exchange(e2e.BlockTimeout); err == nil {
		t.Fatal("the first message after a narrowing reload passed")
	}
	l := d.Wait(from, "the reevaluated verdict", func(l e2e.Line) bool {
		return l.Event() == "verdict" && l.Str("reason") == "reevaluated" && l.Num("dport") == e2e.PLCTCP
	})
	if l.Str("verdict") != "drop" || l.Str("rule") != "default" {
		t.Errorf("reevaluated verdict %s, want a drop by the default", l.Raw)
	}
	_ = plant.Control
}
