package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/internal/plant"
	"github.com/conduit-ot/conduit/internal/plant/planttest"
)

// peer runs this test binary as plantpeer inside ns.
func peer(ns string, args ...string) *exec.Cmd { return e2e.Self(ns, "PLANTPEER_MAIN", args...) }

// startServer starts a long-running peer and stops it (SIGTERM) at cleanup;
// the returned function stops it early and returns its stdout.
func startServer(t *testing.T, p *plant.Plant, ns string, args ...string) func() string {
	t.Helper()
	cmd := peer(ns, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	bg, err := e2e.StartBackground(t, cmd, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	stop := func() string {
		_ = bg.Stop()
		if errb.Len() > 0 {
			t.Logf("%s stderr: %s", args[0], errb.String())
		}
		return out.String()
	}
	t.Cleanup(func() { stop() })
	return stop
}

// runPeer runs a client peer and decodes its JSON line into v.
func runPeer(t *testing.T, p *plant.Plant, ns string, v any, args ...string) (exitCode int) {
	t.Helper()
	cmd := peer(ns, args...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	out, err := cmd.Output()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("%v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	if v != nil {
		if jerr := json.Unmarshal(out, v); jerr != nil {
			t.Fatalf("%v: output %q (stderr %q) is not JSON: %v", args, out, errb.String(), jerr)
		}
	}
	return code
}

// waitListening polls with probe until a server answers.
func waitListening(t *testing.T, p *plant.Plant, ns string, args ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if runPeer(t, p, ns, nil, append([]string{"probe", "-timeout", "200ms"}, args...)...) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server never answered probe %v", args)
}

// TestPeersAcrossPlant runs every peer through the plant's bridge.
func TestPeersAcrossPlant(t *testing.T) {
	p := planttest.New(t)
	ctl, sup, ops := p.Host(plant.Control), p.Host(plant.Supervisory), p.Host(plant.Operations)
	udpAddr := ctl.IPv4.String() + ":7000"
	tcpAddr := ctl.IPv4.String() + ":7001"
	tcp6Addr := fmt.Sprintf("[%s]:7001", ctl.IPv6)
	mbAddr := ctl.IPv4.String() + ":502"

	startServer(t, p, ctl.NS, "udp-server", "-l", udpAddr, "-for", "1m")
	startServer(t, p, ctl.NS, "tcp-server", "-l", tcpAddr, "-for", "1m")
	startServer(t, p, ctl.NS, "tcp-server", "-l", tcp6Addr, "-for", "1m")
	stopPLC := startServer(t, p, ctl.NS, "modbus-plc", "-l", mbAddr, "-for", "1m")
	waitListening(t, p, sup.NS, "-proto", "tcp", "-addr", tcpAddr)
	waitListening(t, p, sup.NS, "-proto", "tcp", "-addr", tcp6Addr)
	waitListening(t, p, sup.NS, "-proto", "udp", "-addr", udpAddr)

	t.Run("probe", func(t *testing.T) {
		tests := []struct {
			ns   string
			args []string
			ok   bool
		}{
			{sup.NS, []string{"-proto", "tcp", "-addr", tcpAddr, "-n", "3"}, true},
			{sup.NS, []string{"-proto", "tcp", "-addr", tcp6Addr}, true},
			{sup.NS, []string{"-proto", "udp", "-addr", udpAddr, "-n", "3"}, true},
			{sup.NS, []string{"-proto", "icmp", "-addr", ctl.IPv4.String()}, true},
			{sup.NS, []string{"-proto", "icmp", "-addr", ctl.IPv6.String()}, true},
			{ops.NS, []string{"-proto", "tcp", "-addr", tcpAddr, "-src", plant.EWS.String()}, true},
			{sup.NS, []string{"-proto", "tcp", "-addr", ctl.IPv4.String() + ":7999"}, false},
			{sup.NS, []string{"-proto", "udp", "-addr", ctl.IPv4.String() + ":7999", "-timeout", "200ms"}, false},
			{sup.NS, []string{"-proto", "icmp", "-addr", "10.99.0.1", "-timeout", "200ms"}, false},
		}
		for _, tt := range tests {
			var res probeResult
			code := runPeer(t, p, tt.ns, &res, append([]string{"probe"}, tt.args...)...)
			if res.OK != tt.ok || (code == 0) != tt.ok {
				t.Errorf("probe %v from %s: exit %d, %+v; want ok=%v", tt.args, tt.ns, code, res, tt.ok)
			}
			if tt.ok && res.RTTus <= 0 {
				t.Errorf("probe %v: rtt_us = %v", tt.args, res.RTTus)
			}
			if !tt.ok && res.Err == "" {
				t.Errorf("probe %v failed without an error message", tt.args)
			}
		}
	})

	t.Run("pingpong", func(t *testing.T) {
		for _, proto := range []string{"udp", "tcp"} {
			addr := udpAddr
			if proto == "tcp" {
				addr = tcpAddr
			}
			var l latency
			if code := runPeer(t, p, sup.NS, &l, "pingpong", "-proto", proto, "-addr", addr, "-n", "300", "-warmup", "20", "-json"); code != 0 {
				t.Fatalf("pingpong %s: exit %d", proto, code)
			}
			if l.N != 300 || l.Lost != 0 || l.P50us <= 0 || l.P50us > l.P90us || l.P90us > l.P99us || l.P99us > l.MaxUs {
				t.Errorf("pingpong %s: %+v", proto, l)
			}
		}
	})

	t.Run("flood", func(t *testing.T) {
		sinkAddr := ctl.IPv4.String() + ":9000"
		sink := peer(ctl.NS, "udp-sink", "-l", sinkAddr, "-for", "10s", "-idle", "300ms", "-by-source")
		var sinkOut bytes.Buffer
		sink.Stdout = &sinkOut
		if err := sink.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // let the sink bind; early datagrams would be refused
		var fr floodResult
		if code := runPeer(t, p, sup.NS, &fr, "flood", "-addr", sinkAddr, "-for", "500ms"); code != 0 {
			t.Fatalf("flood: exit %d", code)
		}
		if err := sink.Wait(); err != nil {
			t.Fatalf("udp-sink: %v", err)
		}
		var sr sinkResult
		if err := json.Unmarshal(sinkOut.Bytes(), &sr); err != nil {
			t.Fatalf("udp-sink output %q: %v", sinkOut.String(), err)
		}
		if fr.Sent == 0 || sr.Packets == 0 || sr.Packets > fr.Sent || sr.PPS <= 0 || sr.Bytes != 64*sr.Packets {
			t.Errorf("flood %+v, sink %+v", fr, sr)
		}
		if src := sup.IPv4.String(); len(sr.Sources) != 1 || sr.Sources[src] != sr.Packets {
			t.Errorf("sink sources %v, want all %d from %s", sr.Sources, sr.Packets, src)
		}
		t.Logf("flood sent %d (%.0f/s), sink got %d (%.0f/s)", fr.Sent, fr.PPS, sr.Packets, sr.PPS)
	})

	t.Run("modbus", func(t *testing.T) {
		var r hmiResult
		if code := runPeer(t, p, sup.NS, &r, "modbus-hmi", "-addr", mbAddr, "-n", "4", "-interval", "10ms", "-write"); code != 0 {
			t.Errorf("modbus-hmi: exit %d, %+v", code, r)
		}
		if r.ReadsOK != 4 || r.WritesOK != 4 || r.ReadsFailed+r.WritesFailed != 0 || len(r.Errors) != 0 {
			t.Errorf("modbus-hmi = %+v, want 4 reads and 4 writes ok", r)
		}
		if code := runPeer(t, p, ops.NS, &r, "modbus-hmi", "-addr", mbAddr, "-n", "2", "-interval", "0s", "-src", plant.EWS.String()); code != 0 || r.ReadsOK != 2 {
			t.Errorf("modbus-hmi from the EWS: exit %d, %+v", code, r)
		}
		noPLC := ctl.IPv4.String() + ":5020"
		if code := runPeer(t, p, sup.NS, &r, "modbus-hmi", "-addr", noPLC, "-n", "2", "-interval", "0s", "-write"); code != 1 || r.ReadsFailed != 2 || r.WritesFailed != 2 || len(r.Errors) == 0 {
			t.Errorf("modbus-hmi without a PLC: exit %d, %+v; want exit 1 and all failed", code, r)
		}
		var counts map[string]uint64
		if err := json.Unmarshal([]byte(stopPLC()), &counts); err != nil {
			t.Fatalf("modbus-plc summary: %v", err)
		}
		if counts["reads"] != 6 || counts["writes"] != 4 {
			t.Errorf("modbus-plc counted %v, want 6 reads and 4 writes", counts)
		}
	})
}

// TestServerExitsOnItsOwn checks -for bounds a server's life.
func TestServerExitsOnItsOwn(t *testing.T) {
	p := planttest.New(t)
	start := time.Now()
	out, err := peer(p.Host(plant.Control).NS, "udp-server", "-l", "10.10.0.10:7000", "-for", "300ms").CombinedOutput()
	if err != nil {
		t.Fatalf("udp-server: %v: %s", err, out)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("udp-server -for 300ms ran %v", el)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("udp-server printed %q", s)
	}
}
