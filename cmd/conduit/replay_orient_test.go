package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/capture"
)

// midStreamPolicy is the plant: the global mode monitors, the
// conduit operations -> control is enforced, and no rule allows tcp/20000.
const midStreamPolicy = `mode: monitor
conntrack: {pickup: %s}
zones:
  operations: {level: 3, cidrs: [10.30.0.0/24]}
  control:    {level: 1, cidrs: [10.10.0.0/24]}
conduits:
  - {from: operations, to: control, mode: enforce}
rules:
  - {name: ops-reads-historian-port, from: operations, to: control, proto: tcp, dport: 20001}
default: deny
`

// midStreamCapture writes a session already running when the capture
// began, whose first packet is the server's (the PLC's keepalive), then
// requests and replies, on port.
func midStreamCapture(t *testing.T, port uint16) string {
	t.Helper()
	const plc, ops, ack, psh = "10.10.0.10", "10.30.0.10", 0x10, 0x08
	var buf bytes.Buffer
	w, err := capture.NewWriter(&buf, capture.LinkRaw)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC).UnixNano()
	for i, p := range [][]byte{
		opsPacket(6, plc, ops, port, 35974, 5000, 9000, ack, nil),
		opsPacket(6, ops, plc, 35974, port, 9000, 5000, ack|psh, []byte("request 1")),
		opsPacket(6, plc, ops, port, 35974, 5000, 9009, ack|psh, []byte("reply 1")),
		opsPacket(6, ops, plc, 35974, port, 9009, 5007, ack|psh, []byte("request 2")),
		opsPacket(6, plc, ops, port, 35974, 5007, 9018, ack|psh, []byte("reply 2")),
	} {
		if err := w.WriteFrame(start+int64(i)*int64(time.Second), p); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "midstream.pcap")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReplayServerFirstMidStream: replay of a session first seen from its
// server drops all of it when the enforced orientation has no rule,
// whether pickup is on or off; the same session on a port a rule allows
// is picked up and passes.
func TestReplayServerFirstMidStream(t *testing.T) {
	for _, pickup := range []string{"true", "false"} {
		t.Run("pickup "+pickup, func(t *testing.T) {
			dir := t.TempDir()
			pol := filepath.Join(dir, "policy.yaml")
			if err := os.WriteFile(pol, []byte(fmt.Sprintf(midStreamPolicy, pickup)), 0o644); err != nil {
				t.Fatal(err)
			}
			events := filepath.Join(dir, "events.jsonl")
			code, out, errOut := evRun(t, runReplay, "-c", pol, "--json", "--events", events, midStreamCapture(t, 20000))
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			s := decodeSummary(t, out)
			if s.Packets != 5 || s.Verdicts.Accept != 0 || s.Verdicts.Drop != 5 || s.WouldDrop != 5 {
				t.Errorf("replay: %s; want 5 packets, 5 dropped", out)
			}
			reason := "pickup-denied"
			if pickup == "false" {
				reason = "no-flow"
			}
			lines := verdictLines(t, events)
			if len(lines) == 0 {
				t.Fatal("no verdict line")
			}
			for k, v := range map[string]any{"event": "verdict", "reason": reason, "mode": "enforce", "verdict": "drop",
				"rule": "default", "from_zone": "operations", "to_zone": "control", "src": "10.30.0.10", "dport": 20000.0,
				"reverse_mode": "monitor", "reply": true} {
				if lines[0][k] != v {
					t.Errorf("first verdict line %s = %v, want %v: %v", k, lines[0][k], v, lines[0])
				}
			}
			if pickup == "false" {
				return
			}
			// Promise 1: the same session on a port a rule allows is picked up.
			code, out, errOut = evRun(t, runReplay, "-c", pol, "--json", midStreamCapture(t, 20001))
			if s := decodeSummary(t, out); code != 0 || s.Verdicts.Accept != 5 || s.WouldDrop != 0 {
				t.Errorf("allowed session: exit %d, %s %s; want 5 accepted", code, out, errOut)
			}
		})
	}
}
