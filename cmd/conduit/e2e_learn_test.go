package main

// End-to-end test that learn never widens, on the netns plant with a real
// Modbus/TCP server (simonvetter/modbus, plantpeer modbus-plc): the
// operations host reads the PLC from 10.30.0.10 and the engineering
// workstation (10.30.0.11, the same zone) writes it. A capture taken on the
// PLC's side is learned with --hosts 1 (the zone's two clients would be
// named by their zone); conduit then enforces the draft, and the reader's
// write is dropped while every request seen still passes.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/internal/plant"
)

// mbRaw is a minimal Modbus/TCP client bound to one source address, which
// simonvetter/modbus's client cannot be.
type mbRaw struct {
	c   net.Conn
	tid uint16
}

func (r *rig) mbRawFrom(src netip.Addr, timeout time.Duration) (*mbRaw, error) {
	var c net.Conn
	err := r.P.Do(r.P.Host(plant.Operations).NS, func() error {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: src.AsSlice()}, Timeout: timeout}
		var err error
		c, err = d.Dial("tcp", netip.AddrPortFrom(r.P.Host(plant.Control).IPv4, mbPort).String())
		return err
	})
	if err != nil {
		return nil, err
	}
	return &mbRaw{c: c}, nil
}

// call sends one request PDU to unit 1 and reads the response PDU.
func (m *mbRaw) call(pdu []byte, timeout time.Duration) ([]byte, error) {
	m.tid++
	req := make([]byte, 7, 7+len(pdu))
	binary.BigEndian.PutUint16(req, m.tid)
	binary.BigEndian.PutUint16(req[4:], uint16(1+len(pdu)))
	req[6] = 1
	req = append(req, pdu...)
	m.c.SetDeadline(time.Now().Add(timeout))
	if _, err := m.c.Write(req); err != nil {
		return nil, err
	}
	hdr := make([]byte, 7)
	if _, err := io.ReadFull(m.c, hdr); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[4:]))
	if n < 2 || binary.BigEndian.Uint16(hdr) != m.tid {
		return nil, fmt.Errorf("bad response header % x", hdr)
	}
	resp := make([]byte, n-1)
	if _, err := io.ReadFull(m.c, resp); err != nil {
		return nil, err
	}
	if resp[0]&0x80 != 0 {
		return resp, fmt.Errorf("modbus exception %d", resp[1])
	}
	return resp, nil
}

func mbReadPDU(addr, qty uint16) []byte {
	return []byte{3, byte(addr >> 8), byte(addr), byte(qty >> 8), byte(qty)}
}

func mbWritePDU(addr, v uint16) []byte {
	return []byte{6, byte(addr >> 8), byte(addr), byte(v >> 8), byte(v)}
}

func TestE2ELearnNeverWidensModbus(t *testing.T) {
	r := newModbusRig(t)
	ctl := r.P.Host(plant.Control).NS
	reader, writer := r.P.Host(plant.Operations).IPv4, plant.EWS

	// Capture on the PLC's side while the kernel alone forwards.
	pcap := filepath.Join(r.Dir, "plc.pcap")
	td := r.StartCaptureIn(ctl, nil, "listening on", "tcpdump", "-i", "eth0", "--immediate-mode", "-Z", "root", "-U", "-n", "-w", pcap, fmt.Sprintf("tcp port %d", mbPort))
	time.Sleep(300 * time.Millisecond)

	session := func(src netip.Addr, write bool) {
		t.Helper()
		m, err := r.mbRawFrom(src, 2*time.Second)
		if err != nil {
			t.Fatalf("%s: connect to the PLC: %v", src, err)
		}
		defer m.c.Close()
		for range 3 {
			if _, err := m.call(mbReadPDU(0, 10), 2*time.Second); err != nil {
				t.Fatalf("%s: read: %v", src, err)
			}
		}
		if write {
			if _, err := m.call(mbWritePDU(100, 42), 2*time.Second); err != nil {
				t.Fatalf("%s: write: %v", src, err)
			}
		}
	}
	session(reader, false)
	session(writer, true)
	session(reader, false)
	time.Sleep(200 * time.Millisecond) // the last FINs on the wire
	if err := td.Stop(); err != nil {
		t.Fatalf("tcpdump: %v", err)
	}

	if fi, err := os.Stat(pcap); err != nil || fi.Size() < 200 {
		t.Fatalf("the capture: %v %v", fi, err)
	}
	// The rig's echo server holds port 502, so the PLC serves Modbus on
	// 5020 (as in e2e_modbus_test.go); learn knows Modbus by port 502.
	// The capture moves to 502 for learning, and the draft back to 5020.
	at502 := filepath.Join(r.Dir, "plc-502.pcap")
	rewriteCapture(t, pcap, at502, func(frame []byte, _ *packet.Parsed) bool {
		l4 := 14 + int(frame[14]&0x0f)*4
		for _, off := range []int{l4, l4 + 2} {
			if binary.BigEndian.Uint16(frame[off:]) == mbPort {
				binary.BigEndian.PutUint16(frame[off:], 502)
			}
		}
		return true
	})
	draft := filepath.Join(r.Dir, "draft.yaml")
	if code, _, errOut := evRun(t, runLearn, "-o", draft, "--hosts", "1", at502); code != 0 {
		t.Fatalf("learn: exit %d: %s", code, errOut)
	}
	y, err := os.ReadFile(draft)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(y), "from: net-10-30-0\n    to: 10.10.0.10\n    proto: tcp\n") {
		t.Errorf("the draft grants the operations zone what its clients did together:\n%s", y)
	}
	if !strings.Contains(string(y), "from: 10.30.0.10\n    to: 10.10.0.10\n    proto: tcp\n    dport: 502\n    modbus: {preset: read_only, unit_ids: [1]}\n") ||
		!strings.Contains(string(y), "from: 10.30.0.11\n    to: 10.10.0.10\n    proto: tcp\n    dport: 502\n    modbus: {functions: [read_holding_registers, write_single_register], unit_ids: [1]}\n") {
		t.Errorf("the draft does not give each client what it did:\n%s", y)
	}
	policy := strings.Replace(string(y), "mode: monitor\n", "mode: enforce\nqueue: {num: 78, count: 1, fail_open: true}\n", 1)
	policy = strings.ReplaceAll(policy, "    dport: 502\n", fmt.Sprintf("    dport: %d\n", mbPort))
	e2e.WriteFile(t, r.Path, policy)
	d := r.startOps()

	// Every request seen passes; the reader's write does not.
	session(reader, false)
	session(writer, true)
	m, err := r.mbRawFrom(reader, 2*time.Second)
	if err != nil {
		t.Fatalf("reader: connect: %v", err)
	}
	defer m.c.Close()
	if _, err := m.call(mbReadPDU(0, 10), 2*time.Second); err != nil {
		t.Fatalf("reader: read under the draft: %v", err)
	}
	_, err = m.call(mbWritePDU(100, 7), 1500*time.Millisecond)
	var ne net.Error
	if err == nil || !(errors.As(err, &ne) && ne.Timeout() || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)) {
		t.Errorf("the reader's write under the draft: %v, want it dropped (no answer)", err)
	}
	d.Wait(0, "the reader's write refused", func(l e2e.Line) bool {
		return l.Event() == "verdict" && l.Str("verdict") == "drop" && l.Str("src") == reader.String() && l.Str("reason") == "app-violation" &&
			strings.Contains(l.Raw, "write_single_register")
	})
	if d.HasExited() {
		t.Fatalf("conduit exited: %s", d.Stderr.String())
	}
	// The write did not reach the PLC: register 100 still holds 42.
	w, err := r.mbRawFrom(writer, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer w.c.Close()
	resp, err := w.call(mbReadPDU(100, 1), 2*time.Second)
	if err != nil || len(resp) < 4 || binary.BigEndian.Uint16(resp[2:]) != 42 {
		t.Errorf("register 100 after the refused write: % x %v, want 42", resp, err)
	}
}
