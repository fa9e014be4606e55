package main

// End-to-end test of IEC 60870-5-104 inspection: the master's APDUs of a
// real capture (TestDissectIec104.pcap's clean session: STARTDT, a
// general interrogation, a clock sync, a single command) sent over a real
// TCP connection from the HMI's namespace to an echo server on the PLC's
// port 2404, through conduit inline with a rule that lets the master
// interrogate and synchronise clocks but not command.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/internal/pcaptest"
	"github.com/conduit-ot/conduit/internal/plant"
	"github.com/conduit-ot/conduit/proto"
	"github.com/conduit-ot/conduit/proto/iec104"
	"github.com/conduit-ot/conduit/proto/iec104/iec104test"
)

const iecRule = `
  - name: scada-iec104
    description: the SCADA master interrogates and syncs clocks, never commands
    from: supervisory
    to: control
    proto: tcp
    dport: 2404
    iec104: {type_ids: [C_IC_NA_1, C_CS_NA_1]}`

// iecAPDUs are the master's APDUs the test sends, by name: from the
// capture where it is present, else built alike (same types, cause,
// common address 37133 and addresses).
func iecAPDUs(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{
		"startdt":   iec104test.U(iec104.StartDTAct),
		"interrog":  iec104test.I(0, 0, iec104test.ASDU(iec104.C_IC_NA_1, iec104.CauseAct, 37133, 0, []byte{20})),
		"clock":     iec104test.I(4, 10, iec104test.ASDU(iec104.C_CS_NA_1, iec104.CauseAct, 37133, 0, make([]byte, 7))),
		"sc":        iec104test.I(2, 7, iec104test.ASDU(iec104.C_SC_NA_1, iec104.CauseAct, 37133, 10010, []byte{0x81})),
		"interrog2": iec104test.I(0, 0, iec104test.ASDU(iec104.C_IC_NA_1, iec104.CauseAct, 37133, 0, []byte{20})),
	}
	dir, ok := pcaptest.Lookup()
	path := filepath.Join(dir, "iec104", "TestDissectIec104.pcap")
	if _, err := os.Stat(path); !ok || err != nil {
		t.Logf("capture %s absent: sending built APDUs of the same types", path)
		return out
	}
	// The master's segments of the last, clean connection (client port
	// 1578): frame 104 STARTDT act, 109 C_IC_NA_1, 124 C_SC_NA_1, 139
	// C_CS_NA_1.
	found := map[string]bool{}
	for _, s := range pcaptest.Payloads(t, path, iec104.Port) {
		if s.Src.Port() != 1578 {
			continue
		}
		var a iec104.APDU
		n, err := iec104.Parse(s.Payload, &a)
		if err != proto.ParseOK || n != len(s.Payload) {
			continue
		}
		var name string
		switch {
		case a.Format == iec104.FormatU && a.UFunc == iec104.StartDTAct:
			name = "startdt"
		case a.TypeID == iec104.C_IC_NA_1:
			name = "interrog"
		case a.TypeID == iec104.C_CS_NA_1:
			name = "clock"
		case a.TypeID == iec104.C_SC_NA_1:
			name = "sc"
		}
		if name != "" && !found[name] {
			out[name], found[name] = bytes.Clone(s.Payload), true
		}
	}
	if len(found) != 4 {
		t.Fatalf("capture %s: master's APDUs found %v", path, found)
	}
	out["interrog2"] = out["interrog"]
	return out
}

// iecConn is the master's connection to the PLC's port 2404.
func (r *rig) iecConn() net.Conn {
	r.T.Helper()
	var c net.Conn
	err := r.P.Do(r.P.Host(plant.Supervisory).NS, func() error {
		var err error
		c, err = net.DialTimeout("tcp", netip.AddrPortFrom(r.P.Host(plant.Control).IPv4, iec104.Port).String(), e2e.PassTimeout)
		return err
	})
	if err != nil {
		r.T.Fatalf("the master's connection to the PLC: %v", err)
	}
	r.T.Cleanup(func() { c.Close() })
	return c
}

// iecExchange sends one APDU and waits up to timeout for its echo.
func iecExchange(c net.Conn, apdu []byte, timeout time.Duration) error {
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := c.Write(apdu); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	got := make([]byte, len(apdu))
	if _, err := io.ReadFull(c, got); err != nil {
		return fmt.Errorf("no echo: %w", err)
	}
	if !bytes.Equal(got, apdu) {
		return fmt.Errorf("echo %x, want %x", got, apdu)
	}
	return nil
}

// TestE2EIEC104Inspection: link control, interrogation and clock sync
// pass in every mode; the single command is logged with its type name as
// a would-drop and reaches the outstation in monitor, is dropped in
// enforce (no echo), and with on_violation: reset the master's connection
// fails at once.
func TestE2EIEC104Inspection(t *testing.T) {
	for _, tc := range violationModes {
		t.Run(tc.String(), func(t *testing.T) {
			r := newRig(t)
			ctl := r.P.Host(plant.Control).NS
			r.Server(ctl, "tcp-server", "-l", fmt.Sprintf("[::]:%d", iec104.Port), "-for", "5m")
			r.WaitLocal(ctl, "tcp", fmt.Sprintf("127.0.0.1:%d", iec104.Port))
			apdus := iecAPDUs(t)
			rule := iecRule
			if tc.onViolation != "" {
				rule += "\n    on_violation: " + tc.onViolation
			}
			sock := r.Socket()
			e2e.WriteFile(t, r.Path, e2e.Policy{Mode: tc.mode, FailOpen: true, Queue: 130, Socket: sock, Extra: rule}.Render(t))
			d := r.StartDaemon("")
			mark := d.Mark()

			c := r.iecConn()
			for _, n := range []string{"startdt", "interrog", "clock"} {
				if err := iecExchange(c, apdus[n], e2e.PassTimeout); err != nil {
					t.Fatalf("%s: %v", n, err)
				}
			}
			start := time.Now()
			err := iecExchange(c, apdus["sc"], e2e.PassTimeout)
			took := time.Since(start)
			var ne net.Error
			switch {
			case tc.mode == "monitor":
				if err != nil {
					t.Fatalf("monitor: the single command did not reach the outstation: %v", err)
				}
			case tc.onViolation == "":
				if err == nil || !errors.As(err, &ne) || !ne.Timeout() {
					t.Errorf("enforce: the single command gave %v after %v, want no echo (a timeout)", err, took)
				}
			default:
				if err == nil || errors.As(err, &ne) && ne.Timeout() || took >= time.Second {
					t.Errorf("enforce/reset: the single command gave %v after %v, want the connection reset within 1s", err, took)
				} else {
					t.Logf("enforce/reset: the master saw %q after %v", err, took.Round(time.Millisecond))
				}
			}
			if tc.mode == "enforce" {
				// A new connection interrogates on.
				if err := iecExchange(r.iecConn(), apdus["interrog2"], e2e.PassTimeout); err != nil {
					t.Errorf("a new connection's interrogation: %v", err)
				}
			}

			l := d.Wait(mark, "the single command's verdict line", func(l e2e.Line) bool {
				return l.Event() == "verdict" && l.Str("reason") == "app-violation"
			})
			app := checkViolation(t, l, "scada-iec104", tc.mode, tc.onViolation, "iec104", iec104.Port)
			if app["format"] != "i" || app["type_id"] != "C_SC_NA_1" || app["type_id_code"] != 45.0 ||
				app["cause"] != "act" || app["common_address"] != 37133.0 || app["violates"] != "type_ids" {
				t.Errorf("violation line: %s", l.Raw)
			}
			// The interrogations and the clock sync are the rule's requests;
			// STARTDT is link control, the command none in any mode.
			want := uint64(2)
			if tc.mode == "enforce" {
				want = 3
			}
			r.waitRequests(t, sock, "scada-iec104", want)
		})
	}
}
