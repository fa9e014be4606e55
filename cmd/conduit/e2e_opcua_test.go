package main

// End-to-end test of OPC UA inspection: the OPC UA server of
// github.com/gopcua/opcua (plantpeer opcua-server) on the PLC, the same
// library's client (plantpeer opcua-client) in the HMI's namespace, and
// conduit inline with a rule whose opcua condition lets the HMI read and
// browse but not write, on a channel of security mode None.

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/internal/plant"
)

// uaPort is the PLC's OPC UA port in this test.
const uaPort = 4841

// uaRule is the rule under test, placed first in the e2e policy.
func uaRule(cond, onViolation string) string {
	s := fmt.Sprintf(`
  - name: hmi-opcua
    description: the HMI reads and browses the PLC's address space, on a None channel
    from: supervisory
    to: control
    proto: tcp
    dport: %d
    opcua: %s`, uaPort, cond)
	if onViolation != "" {
		s += "\n    on_violation: " + onViolation
	}
	return s
}

const uaReads = "{services: [create_session, activate_session, read, browse, close_session], security_modes: [none]}"

// uaResult is one service's outcome as plantpeer opcua-client reports it.
type uaResult struct {
	Op       string
	OK       bool
	Answered bool
	Ms       int64
	Error    string
}

// newOPCUARig is a rig whose PLC also runs the OPC UA server.
func newOPCUARig(t *testing.T) *rig {
	t.Helper()
	r := newRig(t)
	ctl := r.P.Host(plant.Control)
	addr := fmt.Sprintf("%s:%d", ctl.IPv4, uaPort)
	r.Server(ctl.NS, "opcua-server", "-l", addr, "-for", "5m")
	// The library's server loads the standard's address space first:
	// seconds on a loaded machine.
	deadline := time.Now().Add(60 * time.Second)
	for {
		res := r.uaClient(ctl.NS, "read", time.Second)
		if len(res) == 2 && res[1].OK {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("opcua-server never answered locally: %+v", res)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// uaClient runs plantpeer opcua-client in ns against the PLC's server:
// connect, then ops, each within timeout.
func (r *rig) uaClient(ns, ops string, timeout time.Duration) []uaResult {
	r.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := plant.NSCmd(ns, r.Peer, "opcua-client", "-addr", fmt.Sprintf("%s:%d", r.P.Host(plant.Control).IPv4, uaPort),
		"-ops", ops, "-timeout", timeout.String())
	out, err := cmd.Output()
	if ctx.Err() != nil || err != nil {
		r.T.Fatalf("opcua-client: %v: %s", err, out)
	}
	var res struct{ Results []uaResult }
	if err := json.Unmarshal(out, &res); err != nil {
		r.T.Fatalf("opcua-client output %q: %v", out, err)
	}
	return res.Results
}

// TestE2EOPCUAInspection: reads and browses pass in every mode; a write is
// logged as would-drop and answered in monitor, dropped in enforce (the
// client times out), and with on_violation: reset the client's connection
// fails at once; a rule asking for sign_and_encrypt refuses the None
// channel at its OPN.
func TestE2EOPCUAInspection(t *testing.T) {
	for _, tc := range []struct {
		mode, onViolation, cond string
	}{
		{"monitor", "", uaReads},
		{"enforce", "", uaReads},
		{"enforce", "reset", uaReads},
		{"enforce", "", "{security_modes: [sign_and_encrypt]}"},
	} {
		name := tc.mode
		if tc.onViolation != "" {
			name += "/" + tc.onViolation
		}
		if tc.cond != uaReads {
			name += "/sign_and_encrypt"
		}
		t.Run(name, func(t *testing.T) {
			r := newOPCUARig(t)
			sock := r.Socket()
			e2e.WriteFile(t, r.Path, e2e.Policy{Mode: tc.mode, FailOpen: true, Queue: 80, Socket: sock,
				Extra: uaRule(tc.cond, tc.onViolation)}.Render(t))
			d := r.StartDaemon("")
			mark := d.Mark()

			timeout := 2 * time.Second
			if tc.onViolation == "reset" {
				timeout = 5 * time.Second // an error before it can only come from the reset
			}
			res := r.uaClient(r.P.Host(plant.Supervisory).NS, "read,browse,write,read", timeout)
			got := map[string]bool{}
			for _, x := range res {
				got[x.Op] = got[x.Op] || x.Answered
			}
			t.Logf("client: %+v", res)
			if tc.cond != uaReads {
				if len(res) != 1 || res[0].Answered {
					t.Fatalf("the None channel was not refused: %+v", res)
				}
				l := d.Wait(mark, "the OPN's verdict line", func(l e2e.Line) bool {
					return l.Event() == "verdict" && l.Str("reason") == "app-violation"
				})
				app, _ := l.M["app"].(map[string]any)
				if l.Str("verdict") != "drop" || app == nil || app["message"] != "OPN" || app["violates"] != "security_modes" ||
					app["security_mode"] != "none" || app["security_policy"] != "None" {
					t.Errorf("OPN line: %s", l.Raw)
				}
				return
			}
			if len(res) < 4 || !res[0].Answered || !res[1].Answered || !res[2].Answered {
				t.Fatalf("connect, read and browse must pass: %+v", res)
			}
			w := res[3]
			switch {
			case tc.mode == "monitor":
				if !w.OK || !res[4].OK {
					t.Errorf("monitor: the write or the read after it failed: %+v", res)
				}
			case tc.onViolation == "":
				if w.Answered || w.Ms < timeout.Milliseconds()-100 {
					t.Errorf("enforce: the write %+v, want no answer within the timeout", w)
				}
			default:
				if w.Answered || w.Ms >= 1000 {
					t.Errorf("enforce/reset: the write %+v, want a connection error within 1s", w)
				}
			}
			l := d.Wait(mark, "the write's verdict line", func(l e2e.Line) bool {
				return l.Event() == "verdict" && l.Str("reason") == "app-violation"
			})
			app := checkViolation(t, l, "hmi-opcua", tc.mode, tc.onViolation, "opcua", uaPort)
			if app["service"] != "write" || app["service_code"] != 673.0 || app["violates"] != "services" ||
				app["security_mode"] != "none" || app["security_policy"] != "None" {
				t.Errorf("violation line: %s", l.Raw)
			}
			// The requests the condition matched: create_session,
			// activate_session, the client's read of the namespace array,
			// read, browse; in monitor also the read after the write and
			// close_session.
			want := uint64(5)
			if tc.mode == "monitor" {
				want = 7
			}
			r.waitRequests(t, sock, "hmi-opcua", want)
		})
	}
}
