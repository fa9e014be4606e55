package main

// End-to-end test of industrial-protocol inspection: a Modbus/TCP server
// of github.com/simonvetter/modbus (plantpeer modbus-plc) on the PLC, the
// same library's client in the HMI's namespace, and conduit inline with a
// rule whose modbus condition lets the HMI read holding registers only.

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/simonvetter/modbus"

	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/internal/plant"
)

// mbPort is the PLC's Modbus port in this test (502 is the rig's echo server).
const mbPort = 5020

// mbRule is the rule under test, placed first in the e2e policy.
func mbRule(onViolation string) string {
	s := fmt.Sprintf(`
  - name: hmi-modbus
    description: the HMI reads holding registers of unit 1, nothing else
    from: supervisory
    to: control
    proto: tcp
    dport: %d
    modbus: {functions: [read_holding_registers], unit_ids: [1]}`, mbPort)
	if onViolation != "" {
		s += "\n    on_violation: " + onViolation
	}
	return s
}

// newModbusRig is a rig whose PLC also runs the Modbus server.
func newModbusRig(t *testing.T) *rig {
	t.Helper()
	r := newRig(t)
	ctl := r.P.Host(plant.Control).NS
	r.Server(ctl, "modbus-plc", "-l", fmt.Sprintf("[::]:%d", mbPort), "-for", "5m")
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := r.mbDialFrom(ctl, netip.MustParseAddr("127.0.0.1"), time.Second)
		if err == nil {
			_, err = c.ReadRegisters(0, 1, modbus.HOLDING_REGISTER)
			c.Close()
		}
		if err == nil {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("modbus-plc never answered locally: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mbDialFrom opens a simonvetter/modbus client to the PLC at dst from
// namespace ns; the socket stays in ns after the dial.
func (r *rig) mbDialFrom(ns string, dst netip.Addr, timeout time.Duration) (*modbus.ModbusClient, error) {
	var c *modbus.ModbusClient
	err := r.P.Do(ns, func() error {
		var err error
		c, err = modbus.NewClient(&modbus.ClientConfiguration{
			URL:     "tcp://" + netip.AddrPortFrom(dst, mbPort).String(),
			Timeout: timeout,
		})
		if err != nil {
			return err
		}
		return c.Open()
	})
	if err != nil {
		return nil, err
	}
	if err := c.SetUnitId(1); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// hmiClient is the HMI's client to the PLC through conduit.
func (r *rig) hmiClient(timeout time.Duration) *modbus.ModbusClient {
	r.T.Helper()
	c, err := r.mbDialFrom(r.P.Host(plant.Supervisory).NS, r.P.Host(plant.Control).IPv4, timeout)
	if err != nil {
		r.T.Fatalf("HMI connect to the PLC: %v", err)
	}
	r.T.Cleanup(func() { c.Close() })
	return c
}

// waitPLCConnections waits until the PLC's Modbus port has n connections
// in any state but TIME_WAIT (the listener not counted).
func (r *rig) waitPLCConnections(n int, why string) {
	r.T.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		out, err := plant.NSCmd(r.P.Host(plant.Control).NS, "ss", "-Htn", "state", "connected",
			"state", "syn-recv", "exclude", "time-wait", fmt.Sprintf("( sport = :%d )", mbPort)).CombinedOutput()
		if err != nil {
			r.T.Fatalf("ss: %v: %s", err, out)
		}
		got := 0
		if s := strings.TrimSpace(string(out)); s != "" {
			got = len(strings.Split(s, "\n"))
		}
		if got == n {
			r.T.Logf("%s: %d PLC connections after %v", why, n, time.Since(deadline.Add(-2*time.Second)).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			r.T.Errorf("%s: the PLC has %d Modbus connections, want %d:\n%s", why, got, n, out)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mustRead reads holding registers 0-9 (register n holds n) and register
// 100, and returns the latter.
func mustRead(t *testing.T, c *modbus.ModbusClient, why string) uint16 {
	t.Helper()
	regs, err := c.ReadRegisters(0, 10, modbus.HOLDING_REGISTER)
	if err != nil {
		t.Fatalf("%s: read holding registers 0-9: %v", why, err)
	}
	if regs[7] != 7 {
		t.Fatalf("%s: register 7 holds %d", why, regs[7])
	}
	v, err := c.ReadRegister(100, modbus.HOLDING_REGISTER)
	if err != nil {
		t.Fatalf("%s: read holding register 100: %v", why, err)
	}
	return v
}

// TestE2EModbusInspection: reads pass in every mode; a write is logged as
// would-drop and reaches the PLC in monitor, is dropped in enforce (the
// client times out), and with on_violation: reset the client sees the
// connection fail within a second instead of waiting for its timeout.
func TestE2EModbusInspection(t *testing.T) {
	for _, tc := range violationModes {
		t.Run(tc.String(), func(t *testing.T) {
			r := newModbusRig(t)
			sock := r.Socket()
			e2e.WriteFile(t, r.Path, e2e.Policy{Mode: tc.mode, FailOpen: true, Queue: 80, Socket: sock,
				Extra: mbRule(tc.onViolation)}.Render(t))
			d := r.StartDaemon("")
			mark := d.Mark()

			// The client's own timeout is long in the reset case: an
			// error before it can only come from the reset.
			timeout := time.Second
			if tc.onViolation == "reset" {
				timeout = 5 * time.Second
			}
			c := r.hmiClient(timeout)
			for i := range 3 {
				if v := mustRead(t, c, fmt.Sprintf("poll %d", i)); v != 100 {
					t.Fatalf("register 100 holds %d before any write", v)
				}
			}

			if tc.onViolation == "reset" {
				r.waitPLCConnections(1, "before the write")
			}
			start := time.Now()
			err := c.WriteRegister(100, 4242)
			took := time.Since(start)
			switch {
			case tc.mode == "monitor":
				if err != nil {
					t.Fatalf("monitor: write failed: %v", err)
				}
				if v := mustRead(t, c, "after the write"); v != 4242 {
					t.Errorf("monitor: register 100 holds %d after the write, want 4242", v)
				}
			case tc.onViolation == "":
				if !errors.Is(err, modbus.ErrRequestTimedOut) {
					t.Errorf("enforce: write returned %v after %v, want a request timeout", err, took)
				}
			default:
				if err == nil || errors.Is(err, modbus.ErrRequestTimedOut) || took >= time.Second {
					t.Errorf("enforce/reset: write returned %v after %v, want a connection error within 1s", err, took)
				} else {
					t.Logf("enforce/reset: the client saw %q after %v", err, took.Round(time.Millisecond))
				}
				// The old connection is gone for good, at the PLC too: it
				// read end-of-stream, closed, and the HMI's stack answered
				// its FIN with a RST.
				if _, err := c.ReadRegisters(0, 1, modbus.HOLDING_REGISTER); err == nil {
					t.Error("enforce/reset: the reset connection still answers")
				}
				r.waitPLCConnections(0, "after the reset")
			}
			if tc.mode == "enforce" {
				// A new connection reads on, and the PLC never got the write.
				c2 := r.hmiClient(time.Second)
				if v := mustRead(t, c2, "reconnected"); v != 100 {
					t.Errorf("register 100 holds %d: the refused write reached the PLC", v)
				}
			}

			l := d.Wait(mark, "the write's verdict line", func(l e2e.Line) bool {
				return l.Event() == "verdict" && l.Str("reason") == "app-violation"
			})
			// The line says what conduit did to the flow.
			app := checkViolation(t, l, "hmi-modbus", tc.mode, tc.onViolation, "modbus", mbPort)
			if l.Str("src") != r.P.Host(plant.Supervisory).IPv4.String() ||
				app["function"] != "write_single_register" || app["violates"] != "functions" ||
				app["write_addr"] != 100.0 || app["unit"] != 1.0 {
				t.Errorf("violation line: %s", l.Raw)
			}
			// Every read was a request the condition matched: three polls
			// and the check after the write (or after reconnecting), two
			// requests each.
			const reads = 2 * (3 + 1)
			r.waitRequests(t, sock, "hmi-modbus", reads)
		})
	}
}
