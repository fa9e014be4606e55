package main

// End-to-end tests of the operator's interface of `conduit run` on the
// netns plant: status, hits and flows over the control socket agree with
// the traffic sent; the cleanup rule's last hit moves only when an unknown
// flow appears; hit counters survive SIGTERM and a restart; a syslog
// receiver on the firewall namespace's loopback gets well-formed RFC 5424
// messages; a flood of denied flows yields a bounded number of lines with
// a correct suppressed count; the metrics endpoint serves the metrics.
// They reuse the rig and daemon helpers of e2e_test.go, with their own
// policy template (a cleanup rule, the control socket in the test's
// directory) and daemon flags (the state file, the denied-line limit).

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/internal/plant"
)

// opsUDPBytes is the IPv4 size of one plantpeer UDP probe datagram and of
// its echo: 20 (IP) + 8 (UDP) + len("conduit-probe ") + 32 hex digits.
const opsUDPBytes = 20 + 8 + 14 + 32

// opsPolicy renders testdata/e2e-ops-policy.yaml.tmpl.
type opsPolicy struct {
	Mode    string
	Queue   int
	Socket  string
	Syslog  string // e.g. udp://127.0.0.1:5514; "" for none
	Metrics string // listen address; "" for none
}

func (p opsPolicy) render(t *testing.T) string {
	t.Helper()
	return e2e.RenderFile(t, filepath.Join("testdata", "e2e-ops-policy.yaml.tmpl"), p)
}

// startOps is startDaemon with extra flags for `conduit run`.
func (r *rig) startOps(args ...string) *e2e.Daemon {
	t := r.T
	t.Helper()
	d := r.Launch(append([]string{"run", "-c", r.Path}, args...)...)
	d.WaitStart()
	return d
}

// opsCLI runs a conduit client command (outside any namespace: the
// control socket is a path) and returns its stdout; a failure fails the
// test unless wantCode says otherwise.
func (r *rig) opsCLI(socket string, wantCode int, args ...string) string {
	r.T.Helper()
	cmd := exec.Command(r.Conduit, append(args, "--socket", socket)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.T.Fatalf("conduit %v: %v", args, err)
	}
	if code != wantCode {
		r.T.Fatalf("conduit %v: exit %d, want %d; stderr: %s", args, code, wantCode, stderr.String())
	}
	return string(out)
}

func (r *rig) opsJSON(socket string, v any, args ...string) {
	r.T.Helper()
	out := r.opsCLI(socket, 0, append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		r.T.Fatalf("conduit %v --json: %v: %s", args, err, out)
	}
}

// opsHits returns `hits --json` by rule name, and the list.
func (r *rig) opsHits(socket string) (map[string]engine.RuleHits, []engine.RuleHits) {
	r.T.Helper()
	var h struct {
		Rules []engine.RuleHits `json:"rules"`
	}
	r.opsJSON(socket, &h, "hits")
	m := map[string]engine.RuleHits{}
	for _, x := range h.Rules {
		m[x.Name] = x
	}
	return m, h.Rules
}

// waitRequests waits up to e2e.EventTimeout for `hits` to count want
// requests for rule, failing t if it never does: the counters lag the
// verdicts.
func (r *rig) waitRequests(t testing.TB, sock, rule string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(e2e.EventTimeout)
	for {
		hits, _ := r.opsHits(sock)
		got := hits[rule].Requests
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s requests = %d, want %d", rule, got, want)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// udpExchanges makes n UDP exchanges of f with the PLC, each from a fresh
// socket (a new flow of two packets).
func (r *rig) udpExchanges(f e2e.Flow, n int) {
	r.T.Helper()
	cmd := plant.NSCmd(r.P.Host(f.From).NS, r.Peer, "probe", "-proto", "udp", "-addr", r.Addr(f),
		"-n", strconv.Itoa(n), "-timeout", "2s")
	if out, err := cmd.CombinedOutput(); err != nil {
		r.T.Fatalf("%d exchanges of %s: %v: %s", n, f.Desc, err, out)
	}
}

func wantHits(t *testing.T, h map[string]engine.RuleHits, rule string, packets, flows, bytes uint64) {
	t.Helper()
	got := h[rule]
	if got.Packets != packets || got.Flows != flows || (bytes > 0 && got.Bytes != bytes) {
		t.Errorf("rule %s: %d packets, %d flows, %d bytes; want %d, %d, %d", rule, got.Packets, got.Flows, got.Bytes, packets, flows, bytes)
	}
}

// TestE2EOpsCountersAndCleanup sends known flows in monitor mode and
// checks the operator commands against them, the cleanup rule's last hit,
// and that the counts survive a restart.
func TestE2EOpsCountersAndCleanup(t *testing.T) {
	r := newRig(t)
	sock := r.Socket()
	state := filepath.Join(r.Dir, "state", "hits.json")
	e2e.WriteFile(t, r.Path, opsPolicy{Mode: "monitor", Queue: 70, Socket: sock}.render(t))
	d := r.startOps("--state", state)
	if d.Start.Str("control_socket") != sock {
		t.Errorf("start event: %s; want control_socket %s", d.Start.Raw, sock)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket: %v %v, want mode 0600", fi, err)
	}

	const known, denied = 10, 4
	r.udpExchanges(e2e.SupUDP, known)  // hmi-io-udp: 2 packets a flow
	r.udpExchanges(e2e.EntUDP, denied) // deny-enterprise-to-plant, passed in monitor

	var st statusReport
	r.opsJSON(sock, &st, "status")
	h, list := r.opsHits(sock)
	wantHits(t, h, "hmi-io-udp", 2*known, known, 2*known*opsUDPBytes)
	wantHits(t, h, "deny-enterprise-to-plant", 2*denied, denied, 2*denied*opsUDPBytes)
	wantHits(t, h, "hmi-polls-plc", 0, 0, 0)
	if c := h["cleanup"]; c.Packets != 0 || c.LastHit != nil || !c.Cleanup || c.Index != 4 {
		t.Errorf("cleanup before any unknown flow: %+v", c)
	}
	if d := h["default"]; d.Index != 5 || d.Action != "deny" {
		t.Errorf("default: %+v", d)
	}
	if !reflect.DeepEqual(st.Rules, list) {
		t.Errorf("status rules and hits disagree:\nstatus %+v\nhits   %+v", st.Rules, list)
	}
	if st.Mode != "monitor" || st.Policy.File != r.Path || st.Policy.Generation != 1 || len(st.Policy.SHA256) != 64 {
		t.Errorf("status mode %q policy %+v", st.Mode, st.Policy)
	}
	var qPackets uint64
	for i, q := range st.Queues {
		qPackets += q.Packets
		if q.Num != uint16(70+i) || q.Kernel == nil || q.Kernel.Num != q.Num || q.KernelDropped != 0 {
			t.Errorf("queue %d: %+v (kernel %+v)", i, q, q.Kernel)
		}
	}
	v := st.Verdicts
	if len(st.Queues) != 2 || qPackets != v.Packets {
		t.Errorf("%d queues with %d packets; verdicts count %d", len(st.Queues), qPackets, v.Packets)
	}
	// Rule-less packets (IPv6 neighbour discovery) may come on top.
	if ruled := uint64(2*known + 2*denied); v.Packets-v.LinkControl != ruled || v.Accept != v.Packets || v.Drop != 0 || v.WouldDrop != 2*denied {
		t.Errorf("verdicts %+v; want %d packets decided by rules, all accepted, %d would drop", v, ruled, 2*denied)
	}
	if st.Conntrack.Entries != known+denied || st.Conntrack.Capacity != 65536 || st.Conntrack.Evictions != 0 {
		t.Errorf("conntrack %+v; want %d entries", st.Conntrack, known+denied)
	}

	// Known traffic does not touch the cleanup rule ...
	r.udpExchanges(e2e.SupUDP, 3)
	r.MustPass(e2e.SupICMP, "monitor")
	h, _ = r.opsHits(sock)
	if c := h["cleanup"]; c.LastHit != nil {
		t.Fatalf("known traffic moved the cleanup rule's last hit: %+v", c)
	}
	wantHits(t, h, "hmi-pings-plc", 2, 1, 0)
	// ... an unknown flow does ...
	r.udpExchanges(e2e.OpsUDP, 1)
	h, _ = r.opsHits(sock)
	first := h["cleanup"]
	if first.LastHit == nil || first.Packets != 2 || first.Flows != 1 {
		t.Fatalf("an unknown flow did not hit the cleanup rule: %+v", first)
	}
	// ... known traffic again leaves it where it was ...
	time.Sleep(20 * time.Millisecond)
	r.udpExchanges(e2e.SupUDP, 2)
	h, _ = r.opsHits(sock)
	if c := h["cleanup"]; c.LastHit == nil || !c.LastHit.Equal(*first.LastHit) || c.Packets != 2 {
		t.Errorf("known traffic moved the cleanup rule: %+v, was %+v", c, first)
	}
	out := r.opsCLI(sock, 0, "hits")
	if !strings.Contains(out, "* cleanup") || !strings.Contains(out, "cleanup rule cleanup: quiet for") {
		t.Errorf("hits table does not highlight the cleanup rule:\n%s", out)
	}
	// ... and the next unknown flow moves it.
	r.udpExchanges(e2e.OpsUDP, 1)
	h, _ = r.opsHits(sock)
	moved := h["cleanup"]
	if moved.LastHit == nil || !moved.LastHit.After(*first.LastHit) || moved.Packets != 4 || moved.Flows != 2 {
		t.Errorf("a second unknown flow: %+v, was %+v", moved, first)
	}
	var fr flowsReply
	r.opsJSON(sock, &fr, "flows", "--rule", "cleanup")
	if fr.Matched != 2 || len(fr.Flows) != 2 || fr.Flows[0].FromZone != "operations" || fr.Flows[0].Src != r.Src(e2e.OpsUDP) {
		t.Errorf("flows --rule cleanup: %+v", fr)
	}
	if out := r.opsCLI(sock, 0, "reload"); !strings.HasPrefix(out, "unchanged:") {
		t.Errorf("reload of the unchanged file: %q", out)
	}

	// SIGTERM saves the counters; the next daemon starts from them.
	_, before := r.opsHits(sock)
	d.Stop()
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("control socket left behind after SIGTERM: %v", err)
	}
	d2 := r.startOps("--state", state)
	d2.Wait(0, "the restored hit counters", func(l e2e.Line) bool { return l.Event() == "state" && l.Num("rules") == len(before) })
	_, after := r.opsHits(sock)
	if !reflect.DeepEqual(after, before) {
		t.Errorf("counters after restart differ:\nbefore %+v\nafter  %+v", before, after)
	}
	r.udpExchanges(e2e.SupUDP, 1)
	h, _ = r.opsHits(sock)
	wantHits(t, h, "hmi-io-udp", 2*(known+3+2+1), known+3+2+1, 0)
	if c := h["cleanup"]; c.LastHit == nil || !c.LastHit.Equal(*moved.LastHit) {
		t.Errorf("cleanup after restart: %+v, want last hit %v", c, moved.LastHit)
	}
}

// rfc5424Line is HEADER SP "-" SP MSG as the syslog sink writes it.
var rfc5424Line = regexp.MustCompile(`^<([0-9]{1,3})>1 ([0-9T:.\-]+Z) (\S{1,255}) conduit ([0-9]{1,10}) (\S{1,32}) - (\{.*\})$`)

// syslogReceiver collects datagrams on a UDP socket.
type syslogReceiver struct {
	pc   net.PacketConn
	mu   sync.Mutex
	msgs []string
}

func (s *syslogReceiver) read() {
	buf := make([]byte, 65536)
	for {
		n, _, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.msgs = append(s.msgs, string(buf[:n]))
		s.mu.Unlock()
	}
}

func (s *syslogReceiver) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// TestE2EOpsSyslogFloodMetrics runs enforce with a syslog receiver and a
// metrics listener on the firewall namespace's loopback, floods the PLC
// with denied flows from one enterprise address, and checks the lines, the
// syslog messages and the metrics.
func TestE2EOpsSyslogFloodMetrics(t *testing.T) {
	r := newRig(t)
	rcv := &syslogReceiver{}
	var metricsAddr string
	err := r.P.Do(r.P.FW, func() error {
		var err error
		if rcv.pc, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
			return err
		}
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			return err
		}
		metricsAddr = l.Addr().String()
		return l.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	go rcv.read()
	t.Cleanup(func() { rcv.pc.Close() })

	sock := r.Socket()
	e2e.WriteFile(t, r.Path, opsPolicy{Mode: "enforce", Queue: 72, Socket: sock,
		Syslog: "udp://" + rcv.pc.LocalAddr().String(), Metrics: metricsAddr}.render(t))
	const burst, window = 10, 2 * time.Second
	d := r.startOps("--state", "", "--denied-burst", strconv.Itoa(burst), "--denied-window", window.String())
	mark := d.Mark()

	// The flood: n new denied flows from one address (distinct source
	// ports, so the per-flow limit of the packet path lets each through).
	const n = 300
	ent := r.P.Host(plant.Enterprise).IPv4
	dst := &net.UDPAddr{IP: r.P.Host(plant.Control).IPv4.AsSlice(), Port: e2e.PLCUDP}
	err = r.P.Do(r.P.Host(plant.Enterprise).NS, func() error {
		for i := range n {
			c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: ent.AsSlice(), Port: 21000 + i})
			if err != nil {
				return err
			}
			_, err = c.WriteTo([]byte("flood"), dst)
			c.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r.MustPass(e2e.SupUDP, "enforce during the flood")

	src := ent.String()
	fromEnt := func(l e2e.Line) bool { return l.Str("src") == src }
	sup := d.WaitTimeout(mark, 3*window+5*time.Second, "the suppressed line", func(l e2e.Line) bool {
		return fromEnt(l) && l.Event() == "suppressed"
	})
	var verdicts, suppressed int
	for _, l := range d.Matching(mark, fromEnt) {
		switch l.Event() {
		case "verdict":
			verdicts++
			if l.Str("rule") != "deny-enterprise-to-plant" || l.Str("verdict") != "drop" {
				t.Errorf("flood verdict line: %s", l.Raw)
			}
		case "suppressed":
			suppressed += l.Num("suppressed")
		default:
			t.Errorf("unexpected line for the flooding source: %s", l.Raw)
		}
	}
	// The flood takes well under a window here; should it straddle two,
	// each window logs its burst, and the sum still accounts for all.
	if verdicts < burst || verdicts > 2*burst || verdicts+suppressed != n {
		t.Errorf("flood of %d denied flows: %d verdict lines and %d suppressed (first: %s); want %d lines (at most %d) accounting for all %d",
			n, verdicts, suppressed, sup.Raw, burst, 2*burst, n)
	}

	t.Logf("flood: %d verdict lines, %d suppressed", verdicts, suppressed)
	// Syslog: every message is RFC 5424 with the JSON line as MSG, and the
	// start, verdict and suppressed lines all arrived.
	deadline := time.Now().Add(5 * time.Second)
	seen := map[string]int{}
	for {
		seen = map[string]int{}
		for _, m := range rcv.all() {
			g := rfc5424Line.FindStringSubmatch(m)
			if g == nil {
				t.Fatalf("not an RFC 5424 message: %q", m)
			}
			pri, _ := strconv.Atoi(g[1])
			if _, err := time.Parse(time.RFC3339Nano, g[2]); err != nil || pri/8 != 16 || pri > 191 {
				t.Errorf("bad PRI or TIMESTAMP: %q", m)
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(g[6]), &body); err != nil {
				t.Fatalf("MSG is not JSON: %q", m)
			}
			ev, _ := body["event"].(string)
			if ev != "" && g[5] != ev {
				t.Errorf("MSGID %q, event %q", g[5], ev)
			}
			if ev == "verdict" && body["src"] == src && pri%8 != 4 {
				t.Errorf("a denied verdict with severity %d, want 4 (warning): %q", pri%8, m)
			}
			seen[ev]++
		}
		if seen["start"] == 1 && seen["verdict"] >= verdicts && seen["suppressed"] >= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if seen["start"] != 1 || seen["verdict"] < verdicts || seen["suppressed"] < 1 {
		t.Errorf("syslog received %v; want the start, %d+ verdicts and a suppressed line", seen, verdicts)
	}
	var st statusReport
	r.opsJSON(sock, &st, "status")
	if len(st.Log.Sinks) != 2 || st.Log.Sinks[1].Written == 0 || st.Log.Sinks[1].Failed != 0 || st.Log.Sinks[1].Dropped != 0 {
		t.Errorf("log sinks %+v", st.Log.Sinks)
	}

	// Metrics.
	body := scrape(t, r, metricsAddr)
	for _, want := range []string{
		`conduit_packets_total{queue="72"}`,
		`conduit_verdicts_total{mode="enforce",queue="72",verdict="drop"}`,
		`conduit_would_drop_total{mode="enforce",queue="73"}`,
		fmt.Sprintf(`conduit_rule_packets_total{rule="deny-enterprise-to-plant"} %d`, n),
		fmt.Sprintf(`conduit_rule_would_drop_packets_total{rule="deny-enterprise-to-plant"} %d`, n),
		fmt.Sprintf(`conduit_conduit_would_drop_packets_total{from="enterprise",to="control"} %d`, n),
		`conduit_conduit_denied_flows_total{from="enterprise",to="control"}`,
		`conduit_rule_packets_total{rule="hmi-io-udp"} 2`,
		`conduit_rule_last_hit_timestamp_seconds{rule="hmi-io-udp"}`,
		"conduit_conntrack_entries 1",
		"conduit_conntrack_capacity 65536",
		"conduit_conntrack_evictions_total 0",
		"conduit_conntrack_pickups_total 0",
		`conduit_kernel_queue_dropped_total{queue="72"} 0`,
		`conduit_kernel_queue_user_dropped_total{queue="73"} 0`,
		`conduit_reloads_total{result="error"} 0`,
		`conduit_log_lines_dropped_total{reason="buffer_full",sink="event-buffer"} 0`,
		`conduit_log_lines_dropped_total{reason="write_failed",sink="syslog:udp://` + rcv.pc.LocalAddr().String() + `"} 0`,
		`conduit_verdict_latency_seconds_bucket{le="+Inf"}`,
		"conduit_policy_generation 1",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	drops := regexp.MustCompile(`(?m)^conduit_verdicts_total\{mode="enforce",queue="7[23]",verdict="drop"\} ([0-9]+)$`).FindAllStringSubmatch(body, -1)
	total := 0
	for _, m := range drops {
		v, _ := strconv.Atoi(m[1])
		total += v
	}
	if total != n {
		t.Errorf("metrics count %d drops in enforce, want %d", total, n)
	}
	if m := regexp.MustCompile(`(?m)^conduit_verdict_latency_seconds_count ([0-9]+)$`).FindStringSubmatch(body); m == nil || m[1] == "0" {
		t.Errorf("no sampled verdict latency: %v", m)
	}
}

// scrape GETs /metrics from a listener in the firewall namespace.
func scrape(t *testing.T, r *rig, addr string) string {
	t.Helper()
	var c net.Conn
	if err := r.P.Do(r.P.FW, func() error {
		var err error
		c, err = net.DialTimeout("tcp", addr, 2*time.Second)
		return err
	}); err != nil {
		t.Fatalf("metrics endpoint: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n", addr)
	b, err := io.ReadAll(bufio.NewReader(c))
	if err != nil {
		t.Fatal(err)
	}
	head, body, ok := strings.Cut(string(b), "\r\n\r\n")
	if !ok || !strings.HasPrefix(head, "HTTP/1.0 200") {
		t.Fatalf("metrics answer: %q", head)
	}
	return body
}
