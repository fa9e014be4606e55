package main

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/simonvetter/modbus"

	"github.com/conduit-ot/conduit/internal/e2e"
)

// TestMain lets the integration test run this test binary as plantpeer
// inside plant namespaces, so no separate build is needed.
func TestMain(m *testing.M) { os.Exit(e2e.RunAs(m, "PLANTPEER_MAIN", main)) }

func TestArgs(t *testing.T) {
	run := func(args []string, stdout, stderr io.Writer) int {
		return run(context.Background(), args, stdout, stderr)
	}
	want := e2e.Usage(t, run)
	want(2, "usage")
	want(2, "unknown command", "nope")
	want(2, "-addr is required", "probe")
	want(2, "want tcp, udp or icmp", "probe", "-proto", "sctp", "-addr", "10.0.0.1:1")
	want(2, "want IP:PORT", "probe", "-addr", "host:80")
	want(2, "want an IP for icmp", "probe", "-proto", "icmp", "-addr", "10.0.0.1:1")
	want(2, "-n 0", "probe", "-addr", "10.0.0.1:1", "-n", "0")
	want(2, "-src", "probe", "-addr", "10.0.0.1:1", "-src", "bogus")
	want(2, "-timeout must be positive", "probe", "-addr", "10.0.0.1:1", "-timeout", "0s")
	want(2, "unexpected arguments", "probe", "-addr", "10.0.0.1:1", "stray")
	want(2, "flag provided but not defined", "probe", "-bogus")
	want(2, "-size 4", "pingpong", "-addr", "10.0.0.1:1", "-size", "4")
	want(2, "want udp or tcp", "pingpong", "-addr", "10.0.0.1:1", "-proto", "icmp")
	want(2, "-n must be", "pingpong", "-addr", "10.0.0.1:1", "-n", "0")
	want(2, "-for 11m0s", "flood", "-addr", "10.0.0.1:1", "-for", "11m")
	want(2, "-batch", "flood", "-addr", "10.0.0.1:1", "-batch", "0")
	want(2, "-l is required", "udp-sink")
	want(2, "-for must be", "udp-sink", "-l", "10.0.0.1:1", "-for", "0s")
	want(2, "want IP:PORT", "tcp-server", "-l", "nohost")
	want(2, "-l is required", "udp-server")
	want(2, "-l is required", "modbus-plc")
	want(2, "-unit must be", "modbus-hmi", "-addr", "10.0.0.1:502", "-unit", "300")
	want(2, "-n must be", "modbus-hmi", "-addr", "10.0.0.1:502", "-n", "0")
	want(2, "-l is required", "opcua-server")
	want(2, "unknown service \"delete\"", "opcua-client", "-addr", "10.0.0.1:4840", "-ops", "read,delete")
	want(2, "-timeout must be positive", "opcua-client", "-addr", "10.0.0.1:4840", "-timeout", "0s")
}

func TestPercentile(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i)*time.Microsecond)
	}
	tests := []struct {
		p    int
		want time.Duration
	}{{50, 50 * time.Microsecond}, {90, 90 * time.Microsecond}, {99, 99 * time.Microsecond}, {100, 100 * time.Microsecond}, {0, time.Microsecond}}
	for _, tt := range tests {
		if got := percentile(s, tt.p); got != tt.want {
			t.Errorf("percentile(1..100µs, %d) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := percentile([]time.Duration{7}, 99); got != 7 {
		t.Errorf("percentile of one sample = %v", got)
	}
}

func TestSummarize(t *testing.T) {
	l := summarize([]time.Duration{3 * time.Microsecond, 1 * time.Microsecond, 2 * time.Microsecond, 1500 * time.Nanosecond})
	if l.P50us != 1.5 || l.P99us != 3 || l.MaxUs != 3 || l.MeanUs != 1.8 {
		t.Errorf("summarize = %+v", l)
	}
	if z := summarize(nil); z != (latency{}) {
		t.Errorf("summarize(nil) = %+v", z)
	}
}

func TestHMIErrorsDistinctAndBounded(t *testing.T) {
	var r hmiResult
	for i := 0; i < 3; i++ {
		r.fail(errors.New("same"))
	}
	for i := 0; i < 20; i++ {
		r.fail(errors.New(strings.Repeat("x", i+1)))
	}
	if len(r.Errors) != maxErrors || r.Errors[0] != "same" || r.Errors[1] != "x" {
		t.Errorf("errors = %q", r.Errors)
	}
}

func TestPLCRejectsOutOfRange(t *testing.T) {
	p := newPLC()
	if _, err := p.HandleHoldingRegisters(&modbus.HoldingRegistersRequest{Addr: plcSize - 5, Quantity: 10}); !errors.Is(err, modbus.ErrIllegalDataAddress) {
		t.Errorf("read past the end: err = %v, want ErrIllegalDataAddress", err)
	}
	if _, err := p.HandleHoldingRegisters(&modbus.HoldingRegistersRequest{Addr: 7, Quantity: 1, IsWrite: true, Args: []uint16{42}}); err != nil {
		t.Fatal(err)
	}
	got, err := p.HandleHoldingRegisters(&modbus.HoldingRegistersRequest{Addr: 6, Quantity: 3})
	if err != nil || len(got) != 3 || got[0] != 6 || got[1] != 42 || got[2] != 8 {
		t.Errorf("registers 6..8 = %v, %v; want [6 42 8]", got, err)
	}
	if p.reads.Load() != 1 || p.writes.Load() != 1 || p.rejected.Load() != 1 {
		t.Errorf("counters reads=%d writes=%d rejected=%d", p.reads.Load(), p.writes.Load(), p.rejected.Load())
	}
}

// fakePLC answers Modbus/TCP frames on an in-memory pipe with respond.
func fakePLC(t *testing.T, conn net.Conn, respond func(unit byte, pdu []byte) []byte) {
	t.Helper()
	go func() {
		defer conn.Close()
		for {
			hdr := make([]byte, 7)
			if _, err := io.ReadFull(conn, hdr); err != nil {
				return
			}
			pdu := make([]byte, int(binary.BigEndian.Uint16(hdr[4:]))-1)
			if _, err := io.ReadFull(conn, pdu); err != nil {
				return
			}
			resp := respond(hdr[6], pdu)
			out := append([]byte(nil), hdr[:4]...)
			out = binary.BigEndian.AppendUint16(out, uint16(1+len(resp)))
			out = append(out, hdr[6])
			if _, err := conn.Write(append(out, resp...)); err != nil {
				return
			}
		}
	}()
}

func TestModbusClientFraming(t *testing.T) {
	client, server := net.Pipe()
	fakePLC(t, server, func(unit byte, pdu []byte) []byte {
		switch {
		case pdu[0] == 3 && binary.BigEndian.Uint16(pdu[1:]) == 0:
			qty := binary.BigEndian.Uint16(pdu[3:])
			resp := []byte{3, byte(2 * qty)}
			for i := uint16(0); i < qty; i++ {
				resp = binary.BigEndian.AppendUint16(resp, 100+i)
			}
			return resp
		case pdu[0] == 3:
			return []byte{0x83, 2} // illegal data address
		case pdu[0] == 6 && binary.BigEndian.Uint16(pdu[1:]) == 9:
			return []byte{6, 0, 9, 0, 0} // wrong echo
		default:
			return pdu // echo, as a PLC does for function 6
		}
	})
	m := &mbClient{c: client, unit: 1, timeout: time.Second}
	defer m.Close()

	regs, err := m.readHolding(0, 3)
	if err != nil || len(regs) != 3 || regs[0] != 100 || regs[2] != 102 {
		t.Fatalf("readHolding = %v, %v", regs, err)
	}
	var ex exceptionError
	if _, err := m.readHolding(50, 1); !errors.As(err, &ex) || ex.fc != 3 || ex.code != 2 {
		t.Errorf("readHolding(50) err = %v, want exception 2 for fc 3", err)
	}
	if err := m.writeRegister(4, 77); err != nil {
		t.Errorf("writeRegister: %v", err)
	}
	if err := m.writeRegister(9, 1); err == nil || !strings.Contains(err.Error(), "does not echo") {
		t.Errorf("writeRegister with a bad echo: err = %v", err)
	}
	if m.tid != 4 {
		t.Errorf("transaction id = %d after 4 requests", m.tid)
	}
}

func TestModbusClientTimeout(t *testing.T) {
	client, server := net.Pipe()
	defer server.Close()
	go func() { _, _ = io.Copy(io.Discard, server) }() // swallow requests, never answer
	m := &mbClient{c: client, unit: 1, timeout: 50 * time.Millisecond}
	defer m.Close()
	if _, err := m.readHolding(0, 1); err == nil {
		t.Fatal("read from a silent PLC succeeded")
	}
}
