package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// OPC UA through the replay and learn commands, on the shared captures.

// opcuaPolicy allows the subscription session of opcua_with-gap.pcap but
// its Publish requests.
const opcuaPolicy = `mode: monitor
zones:
  hmi: {level: 2, cidrs: [192.168.11.33/32]}
  plc: {level: 1, cidrs: [192.168.11.34/32]}
rules:
  - name: hmi-opcua
    from: hmi
    to: plc
    proto: tcp
    dport: 4840
    opcua: {services: [create_session, activate_session, read, create_subscription, create_monitored_items], security_modes: [none]}%EXTRA%
default: deny
`

// verdictReasons counts a verdict log's refused lines by reason (and
// service, for violations), and the lines that say they reset.
func verdictReasons(t *testing.T, path string) (map[string]int, int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out, resets := map[string]int{}, 0
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var v struct {
			Verdict, Would, Reason string
			Reset                  bool
			App                    struct {
				Service, Violates string
				SecurityMode      string `json:"security_mode"`
			}
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		if v.Would != "drop" {
			continue
		}
		k := v.Reason
		if v.Reason == "app-violation" {
			k += " " + v.App.Service + " " + v.App.Violates + " " + v.App.SecurityMode
		}
		out[k]++
		if v.Reset {
			resets++
		}
	}
	return out, resets
}

func TestReplayOPCUA(t *testing.T) {
	dir := evCapturesDir()
	if dir == "" {
		t.Skip("real captures not found (../shared/captures; set CONDUIT_CAPTURES): skipping")
	}
	pcap := filepath.Join(dir, "opcua", "opcua_with-gap.pcap")
	for _, tc := range []struct {
		mode, extra             string
		accept, drop, wouldDrop uint64
		lines                   map[string]int
		resets                  int
	}{
		// Every one of the 50 Publish requests is a would-drop; the 35
		// other requests are counted.
		{"monitor", "", 259, 0, 50, map[string]int{"app-violation publish services none": 50}, 0},
		// The first Publish (frame 93) is dropped: the client's 54 data
		// segments after it are gaps.
		{"enforce", "", 204, 55, 55, map[string]int{"app-violation publish services none": 1, "stream-gap": 54}, 0},
		// Reset: the Publish becomes the FIN that closes the session, and
		// what the peers send of it after is dropped without a line.
		{"enforce", "\n    on_violation: reset", 203, 56, 56, map[string]int{"app-violation publish services none": 1}, 1},
	} {
		t.Run(tc.mode+tc.extra, func(t *testing.T) {
			pol := tempFile(t, "p.yaml", strings.Replace(opcuaPolicy, "%EXTRA%", tc.extra, 1))
			events := filepath.Join(t.TempDir(), "ev.log")
			code, out, errOut := evRun(t, runReplay, "-c", pol, "--mode", tc.mode, "--json", "--events", events, pcap)
			if code != 0 {
				t.Fatalf("replay: exit %d: %s", code, errOut)
			}
			s := decodeSummary(t, out)
			if s.Verdicts.Accept != tc.accept || s.Verdicts.Drop != tc.drop || s.WouldDrop != tc.wouldDrop || s.Rules[0].Requests != 35 && tc.mode == "monitor" {
				t.Errorf("summary %+v", s)
			}
			lines, resets := verdictReasons(t, events)
			if len(lines) != len(tc.lines) || resets != tc.resets {
				t.Errorf("refused lines %v (%d resets), want %v (%d)", lines, resets, tc.lines, tc.resets)
			}
			for k, n := range tc.lines {
				if lines[k] != n {
					t.Errorf("refused lines %v, want %v", lines, tc.lines)
					break
				}
			}
		})
	}
}

// TestLearnOPCUA: learn drafts the services, modes and policies each
// capture shows; the round trip (check, replay in enforce) is
// TestLearnRoundTripRealCaptures'.
func TestLearnOPCUA(t *testing.T) {
	dir := evCapturesDir()
	if dir == "" {
		t.Skip("real captures not found (../shared/captures; set CONDUIT_CAPTURES): skipping")
	}
	for file, want := range map[string]string{
		"python_opcua-client-server_minimal-2.pcap": "opcua: {services: [activate_session, browse, close_session, create_session, read, translate_browse_paths_to_node_ids], security_modes: [none], security_policies: [None]}",
		// GetEndpoints on a None channel, then a Basic256Sha256 channel in
		// mode Sign, told by its first MSG.
		"python_opcua-client-server_encrypted.pcap": "opcua: {services: [activate_session, browse, create_session, get_endpoints], security_modes: [none, sign], security_policies: [Basic256Sha256, None]}",
		"opcua_with-gap.pcap":                       "opcua: {services: [activate_session, create_monitored_items, create_session, create_subscription, publish, read], security_modes: [none], security_policies: [None]}",
	} {
		draft := filepath.Join(t.TempDir(), "draft.yaml")
		if code, _, errOut := evRun(t, runLearn, "-o", draft, filepath.Join(dir, "opcua", file)); code != 0 {
			t.Fatalf("%s: learn: exit %d: %s", file, code, errOut)
		}
		y, _ := os.ReadFile(draft)
		if !strings.Contains(string(y), "    "+want+"\n") {
			t.Errorf("%s: draft lacks %q:\n%s", file, want, y)
		}
		if strings.Contains(file, "minimal") && !strings.Contains(string(y), "security mode none seen") {
			t.Errorf("%s: draft does not note the unsecured channel", file)
		}
	}
}
