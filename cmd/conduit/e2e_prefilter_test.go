package main

// The flood of issue 16, scaled to a test: enforce, fail_open true, two
// queues, a plant policy. An allowed UDP flood from the HMI, a denied UDP
// flood from the enterprise and a SYN flood from operations (denied by
// the default) run at once. Before the kernel pre-filter the queues
// overflowed and the fail-open flag let denied packets reach the PLC; now
// what no rule allows is dropped before the queue, counted per rule and
// logged (rate-limited) as kernel-deny.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/internal/plant"
)

const floodPolicy = `mode: enforce
queue: {num: 110, count: 2, fail_open: true}
log: {file: "-"}
control: {socket: %q}
zones:
  enterprise:  {level: 4, cidrs: [10.40.0.0/16]}
  operations:  {level: 3, cidrs: [10.30.0.0/24]}
  supervisory: {level: 2, cidrs: [10.20.0.0/24]}
  control:     {level: 1, cidrs: [10.10.0.0/24]}
rules:
  - {name: hmi-io-flood, from: supervisory, to: control, proto: udp, dport: 9000}
  - {name: hmi-polls-plc, from: supervisory, to: control, proto: tcp, dport: 502}
  - {name: deny-enterprise-to-plant, from: enterprise, to: [operations, supervisory, control], action: deny}
default: deny
`

// needHping fails the test without hping3, whose SYN floods it needs.
func needHping(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("hping3"); err != nil {
		t.Fatal("hping3 is needed for the SYN flood (apt-get install hping3)")
	}
}

// plcCounter counts, in the PLC's namespace before anything else sees
// them, the TCP SYNs that arrive from src.
func plcCounter(t *testing.T, ns, src string) func() uint64 {
	t.Helper()
	script := fmt.Sprintf(`table ip plccount {
  chain pre {
    type filter hook prerouting priority -500; policy accept;
    ip saddr %s tcp flags & (syn | ack) == syn counter
  }
}
`, src)
	cmd := plant.NSCmd(ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft in the PLC namespace: %v: %s", err, out)
	}
	re := regexp.MustCompile(`counter packets (\d+)`)
	return func() uint64 {
		out, err := plant.NSCmd(ns, "nft", "list", "table", "ip", "plccount").CombinedOutput()
		if err != nil {
			t.Fatalf("nft list: %v: %s", err, out)
		}
		m := re.FindSubmatch(out)
		if m == nil {
			t.Fatalf("no counter in %s", out)
		}
		n, _ := strconv.ParseUint(string(m[1]), 10, 64)
		return n
	}
}

// TestE2EFloodPrefilter: not one denied packet reaches the PLC under the
// flood, the kernel's drops are in hits and status, and their log lines
// are verdict lines with reason kernel-deny, limited per source.
func TestE2EFloodPrefilter(t *testing.T) {
	r := newRig(t)
	needHping(t)
	sock := r.Socket()
	e2e.WriteFile(t, r.Path, fmt.Sprintf(floodPolicy, sock))
	const burst, window = 5, 2 * time.Second
	d := r.startOps("--state", "", "--denied-burst", strconv.Itoa(burst), "--denied-window", window.String())

	ctl := r.P.Host(plant.Control)
	sup, ent, ops := r.P.Host(plant.Supervisory).IPv4.String(), r.P.Host(plant.Enterprise).IPv4.String(), r.P.Host(plant.Operations).IPv4.String()
	syns := plcCounter(t, ctl.NS, ops)
	sink := r.UDPSink(9000, 90*time.Second, 3*time.Second)

	const floodFor = 8 * time.Second
	allowed := r.StartFlood(plant.Supervisory, sink.Addr, floodFor)
	denied := r.StartFlood(plant.Enterprise, sink.Addr, floodFor)
	syn := plant.NSCmd(r.P.Host(plant.Operations).NS, "timeout", fmt.Sprint(int(floodFor.Seconds())),
		"hping3", "-q", "-S", "-p", strconv.Itoa(e2e.PLCTCP), "--flood", ctl.IPv4.String())
	if err := syn.Start(); err != nil {
		t.Fatal(err)
	}
	// An allowed session still gets through while the floods run.
	time.Sleep(floodFor / 2)
	r.MustPass(e2e.SupTCP, "enforce during the flood")
	_ = syn.Wait() // timeout ends hping3 with 124
	sentBy := map[string]uint64{}
	for name, f := range map[string]*e2e.Flood{"allowed": allowed, "denied": denied} {
		n, err := f.Wait()
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
		sentBy[name] = n
	}
	got := sink.Wait()
	sent := func(name string) uint64 { return sentBy[name] }
	synsAtPLC := syns()

	hits, _ := r.opsHits(sock)
	var st statusReport
	r.opsJSON(sock, &st, "status")
	var unjudged, kdrop uint64
	if st.Table != nil {
		unjudged, kdrop = st.Table.Unjudged, st.Table.Dropped
	}
	var queued, kernelQueueDrops uint64
	for _, q := range st.Queues {
		queued += q.Packets
		kernelQueueDrops += q.KernelDropped
	}
	t.Logf("allowed flood: %d sent, %d at the PLC; denied UDP flood: %d sent, %d at the PLC; SYNs at the PLC from operations: %d",
		sent("allowed"), got.Sources[sup], sent("denied"), got.Sources[ent], synsAtPLC)
	t.Logf("kernel pre-filter dropped %d (deny-enterprise-to-plant %d, default %d); queued %d, queue overflows %d, accepted unjudged %d",
		kdrop, hits["deny-enterprise-to-plant"].WouldDrop, hits["default"].WouldDrop, queued, kernelQueueDrops, unjudged)

	if got.Sources[ent] != 0 {
		t.Errorf("%d denied datagrams from the enterprise reached the PLC", got.Sources[ent])
	}
	if synsAtPLC != 0 {
		t.Errorf("%d denied SYNs from operations reached the PLC", synsAtPLC)
	}
	if got.Sources[sup] == 0 {
		t.Errorf("none of the HMI's %d allowed datagrams reached the PLC", sent("allowed"))
	}
	// The kernel's drops are the rules' counts.
	if h := hits["deny-enterprise-to-plant"]; h.WouldDrop < sent("denied")/10 || h.Packets < h.WouldDrop {
		t.Errorf("deny-enterprise-to-plant: %+v for %d denied datagrams sent", h, sent("denied"))
	}
	if h := hits["default"]; h.WouldDrop == 0 {
		t.Errorf("default: %+v during a SYN flood", h)
	}
	if st.Table == nil || st.Table.Dropped == 0 || st.Table.NFLOGGroup == 0 {
		t.Errorf("status table: %+v", st.Table)
	}

	// Logged as verdict lines, reason kernel-deny, limited per source.
	l := d.WaitTimeout(0, e2e.EventTimeout, "a kernel-deny line for the enterprise flood", func(l e2e.Line) bool {
		return l.Event() == "verdict" && l.Str("src") == ent && l.Str("reason") == "kernel-deny"
	})
	for k, v := range map[string]string{"verdict": "drop", "would": "drop", "rule": "deny-enterprise-to-plant",
		"mode": "enforce", "from_zone": "enterprise", "to_zone": "control", "proto": "udp"} {
		if l.Str(k) != v {
			t.Errorf("kernel-deny line %s = %q, want %q: %s", k, l.Str(k), v, l.Raw)
		}
	}
	if l.Num("dport") != 9000 {
		t.Errorf("kernel-deny line: %s", l.Raw)
	}
	d.WaitTimeout(0, 3*window+5*time.Second, "the suppressed line of the enterprise flood", func(l e2e.Line) bool {
		return l.Str("src") == ent && l.Event() == "suppressed"
	})
	lines := d.Matching(0, func(l e2e.Line) bool { return l.Event() == "verdict" && l.Str("src") == ent })
	windows := int((floodFor+3*window)/window) + 2
	if len(lines) > burst*windows {
		t.Errorf("%d verdict lines for the enterprise flood, want at most %d per %v", len(lines), burst, window)
	}
	t.Logf("%d verdict lines for the enterprise flood", len(lines))
}

// TestE2EModbusFloodNoWrite: the HMI floods the PLC over UDP and TCP (allowed)
// while clients on the HMI hammer the PLC with Modbus writes that the
// rule's read-only condition refuses. The queues overflow, and with
// fail_open true the kernel passes what they cannot hold, but the Modbus
// flows have their own queue without the fail-open flag: no write ever
// reaches the PLC unjudged.
func TestE2EModbusFloodNoWrite(t *testing.T) {
	r := newRig(t)
	needHping(t)
	ctl := r.P.Host(plant.Control)
	plc := plant.NSCmd(ctl.NS, r.Peer, "modbus-plc", "-l", fmt.Sprintf("[::]:%d", mbPort), "-for", "5m",
		"-max-clients", "5000") // refused writes leave their connections open
	var plcOut bytes.Buffer
	plc.Stdout = &plcOut
	if err := plc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = plc.Process.Kill() })
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := r.mbDialFrom(ctl.NS, ctl.IPv4, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("modbus-plc never answered locally: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	sock := r.Socket()
	flood := `
  - {name: hmi-io-flood, from: supervisory, to: control, proto: udp, dport: 9000}`
	e2e.WriteFile(t, r.Path, e2e.Policy{Mode: "enforce", FailOpen: true, Queue: 120, Socket: sock,
		Extra: mbRule("") + flood}.Render(t))
	d := r.StartDaemon("")
	if d.Start.Num("app_queue") != 122 {
		t.Errorf("start event: app_queue %v, want 122: %s", d.Start.Str("app_queue"), d.Start.Raw)
	}
	sup := r.P.Host(plant.Supervisory)
	const floodFor = 8 * time.Second
	var wg sync.WaitGroup
	// The kernel balances by addresses and protocol: the TCP flood (SYNs
	// to the allowed tcp/502) fills the queue the Modbus flows hash to,
	// the UDP flood the other.
	for _, cmd := range []*exec.Cmd{
		plant.NSCmd(sup.NS, r.Peer, "flood", "-addr", ctl.IPv4.String()+":9000", "-for", floodFor.String()),
		plant.NSCmd(sup.NS, "timeout", fmt.Sprint(int(floodFor.Seconds())), "hping3", "-q", "-S", "-p", strconv.Itoa(e2e.PLCTCP),
			"--flood", ctl.IPv4.String()),
	} {
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { _ = cmd.Wait() })
	}
	time.Sleep(time.Second) // the queues are full by now
	type hmiOut struct {
		ReadsOK  int `json:"reads_ok"`
		WritesOK int `json:"writes_ok"`
	}
	outs := make([]*bytes.Buffer, 4)
	for i := range outs {
		outs[i] = &bytes.Buffer{}
		cmd := plant.NSCmd(sup.NS, "timeout", "-s", "INT", fmt.Sprint(int(floodFor.Seconds())-2), r.Peer, "modbus-hmi",
			"-addr", fmt.Sprintf("%s:%d", ctl.IPv4, mbPort), "-n", "1000000", "-interval", "0",
			"-write", "-write-reg", "100", "-timeout", "150ms")
		cmd.Stdout = outs[i]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { _ = cmd.Wait() })
	}
	wg.Wait()
	var reads, writes int
	for _, o := range outs {
		var h hmiOut
		_ = json.Unmarshal(o.Bytes(), &h)
		reads += h.ReadsOK
		writes += h.WritesOK
	}
	// The PLC's own view, from its namespace: register 100 still holds 100.
	// The PLC's own count of the writes it executed.
	_ = plc.Process.Signal(syscall.SIGTERM)
	if err := plc.Wait(); err != nil {
		t.Fatalf("modbus-plc: %v: %s", err, plcOut.String())
	}
	var atPLC struct {
		Reads, Writes uint64
	}
	if err := json.Unmarshal(plcOut.Bytes(), &atPLC); err != nil {
		t.Fatalf("modbus-plc output %q: %v", plcOut.String(), err)
	}
	var st statusReport
	r.opsJSON(sock, &st, "status")
	var unjudged uint64
	if st.Table != nil {
		unjudged = st.Table.Unjudged
	}
	var app queueStatus
	if n := len(st.Queues); n == 3 {
		app = st.Queues[2]
	}
	t.Logf("modbus clients: %d reads and %d writes answered; the PLC executed %d reads and %d writes; app queue %d: %d packets, %d dropped by the kernel; %d accepted unjudged",
		reads, writes, atPLC.Reads, atPLC.Writes, app.Num, app.Packets, app.KernelDropped, unjudged)
	if atPLC.Writes != 0 || writes != 0 {
		t.Errorf("a refused Modbus write reached the PLC under the flood: it executed %d writes, %d answered", atPLC.Writes, writes)
	}
	if reads == 0 {
		t.Error("no read was answered: the allowed Modbus flow did not work")
	}
	if app.Num != 122 || app.Packets == 0 {
		t.Errorf("the Modbus flows did not use the app queue: %+v", app)
	}
}

const nestedPolicy = `mode: enforce
queue: {num: 130, count: 1, fail_open: true}
log: {file: "-"}
control: {socket: %q}
zones:
  operations:  {level: 3, cidrs: [10.30.0.0/24]}
  ews:         {level: 3, cidrs: [10.30.0.11/32]}
  control:     {level: 1, cidrs: [10.10.0.0/24]}
rules:
  - {name: ews-programs-plc, from: ews, to: control, proto: tcp, dport: 502}
  - {name: ops-io, from: operations, to: control, proto: udp, dport: 2222}
default: deny
`

// TestE2ENestedZonesInKernel: the kernel pre-filter keeps the engine's
// longest-prefix zones. The engineering workstation's /32 inside the
// operations /24 is its own zone: its rule lets it reach the PLC over TCP,
// the operations rule does not let it use UDP, and the other way round
// for the ordinary operations host. What no rule allows is dropped in
// the kernel (kernel-deny); what some rule allows passes.
func TestE2ENestedZonesInKernel(t *testing.T) {
	r := newRig(t)
	sock := r.Socket()
	e2e.WriteFile(t, r.Path, fmt.Sprintf(nestedPolicy, sock))
	d := r.StartDaemon("")
	ops := r.P.Host(plant.Operations)
	plc := r.P.Host(plant.Control).IPv4
	probe := func(src, proto string, port int) error {
		out, err := plant.NSCmd(ops.NS, r.Peer, "probe", "-proto", proto, "-src", src,
			"-addr", fmt.Sprintf("%s:%d", plc, port), "-timeout", e2e.BlockTimeout.String()).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, bytes.TrimSpace(out))
		}
		return nil
	}
	ews := plant.EWS.String()
	for _, c := range []struct {
		src, proto string
		port       int
		pass       bool
		rule       string
	}{
		{ews, "tcp", e2e.PLCTCP, true, "ews-programs-plc"},
		{ews, "udp", e2e.PLCUDP, false, "default"},
		{ops.IPv4.String(), "udp", e2e.PLCUDP, true, "ops-io"},
		{ops.IPv4.String(), "tcp", e2e.PLCTCP, false, "default"},
	} {
		mark := d.Mark()
		err := probe(c.src, c.proto, c.port)
		if c.pass != (err == nil) {
			t.Errorf("%s %s/%d: passed %v, want %v (%v)", c.src, c.proto, c.port, err == nil, c.pass, err)
		}
		l := d.Wait(mark, "the verdict of "+c.src+" "+c.proto, func(l e2e.Line) bool {
			return l.Event() == "verdict" && l.Str("src") == c.src && l.Num("dport") == c.port
		})
		reason := "new-flow"
		if !c.pass {
			reason = "kernel-deny"
		}
		if l.Str("rule") != c.rule || l.Str("reason") != reason {
			t.Errorf("%s %s/%d: verdict line %s; want rule %s, reason %s", c.src, c.proto, c.port, l.Raw, c.rule, reason)
		}
	}
}

// TestE2EReloadUnderStreamLosesNothing: a reload replaces the kernel's
// pre-filter in place, keeping the base chains and their hooks: removing
// a hook makes the kernel drop every packet queued in the namespace. An
// allowed stream across several reloads, while a flood keeps the queue
// full (fail_open true, so overflow passes), loses nothing.
func TestE2EReloadUnderStreamLosesNothing(t *testing.T) {
	r := newRig(t)
	sock := r.Socket()
	render := func(i int) string {
		extra := fmt.Sprintf(`
  - {name: extra-%d, from: enterprise, to: control, proto: udp, dport: %d, action: deny}
  - {name: hmi-io-flood, from: supervisory, to: control, proto: udp, dport: 9000}`, i, 30000+i)
		return e2e.Policy{Mode: "enforce", FailOpen: true, Socket: sock, Extra: extra}.Render(t)
	}
	e2e.WriteFile(t, r.Path, render(0))
	d := r.StartDaemon("")
	ctl := r.P.Host(plant.Control)
	const reloads = 5
	flood := plant.NSCmd(r.P.Host(plant.Supervisory).NS, r.Peer, "flood", "-addr", ctl.IPv4.String()+":9000",
		"-for", fmt.Sprint(time.Duration(reloads+2)*time.Second))
	if err := flood.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = flood.Process.Kill(); _ = flood.Wait() })
	s := r.startStream(e2e.SupUDP, 100*time.Microsecond)
	time.Sleep(500 * time.Millisecond)
	for i := 1; i <= reloads; i++ {
		mark := d.Mark()
		e2e.WriteFile(t, r.Path, render(i))
		d.WaitTimeout(mark, e2e.EventTimeout, fmt.Sprintf("reload %d", i), func(l e2e.Line) bool {
			return l.Event() == "reload" && l.Str("result") == "ok"
		})
		time.Sleep(500 * time.Millisecond)
	}
	res := s.finish(2 * time.Second)
	var st statusReport
	r.opsJSON(sock, &st, "status")
	t.Logf("allowed UDP stream over %d reloads under a flood: %s; generation %d; accepted unjudged %d",
		reloads, res.describe(nil), st.Policy.Generation, st.Table.Unjudged)
	if res.lost > 0 {
		t.Errorf("a reload lost allowed packets: %s", res.describe(nil))
	}
	if st.Policy.Generation != reloads+1 {
		t.Errorf("generation %d after %d reloads", st.Policy.Generation, reloads)
	}
	r.MustBlock(e2e.EntUDP, "enforce after the reloads")
}
