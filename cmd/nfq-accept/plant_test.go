package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/internal/plant"
	"github.com/conduit-ot/conduit/internal/plant/planttest"
)

// TestMain lets the plant test run this binary as nfq-accept in the
// firewall namespace.
func TestMain(m *testing.M) { os.Exit(e2e.RunAs(m, selfEnv, main)) }

const selfEnv = "NFQ_ACCEPT_MAIN"

func tablePresent(t *testing.T, p *plant.Plant) bool { t.Helper(); return e2e.TablePresent(t, p.FW) }

// udpEcho answers datagrams in the control namespace for the test's life.
func udpEcho(t *testing.T, p *plant.Plant) string {
	t.Helper()
	var c *net.UDPConn
	if err := p.Do(p.Host(plant.Control).NS, func() error {
		var err error
		c, err = net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(10, 10, 0, 10), Port: 7000})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, a, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			_, _ = c.WriteToUDPAddrPort(buf[:n], a)
		}
	}()
	return "10.10.0.10:7000"
}

// exchange sends n datagrams from the supervisory host and counts echoes.
func exchange(t *testing.T, p *plant.Plant, addr string, n int) int {
	t.Helper()
	var c net.Conn
	if err := p.Do(p.Host(plant.Supervisory).NS, func() error {
		var err error
		c, err = net.Dial("udp", addr)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := 0
	buf := make([]byte, 64)
	for i := 0; i < n; i++ {
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte("nfq-accept test")); err != nil {
			continue
		}
		if _, err := c.Read(buf); err == nil {
			got++
		}
	}
	return got
}

type syncBuffer = e2e.SyncBuffer

// TestAcceptsAndCleansUp runs nfq-accept inline on the plant bridge: traffic
// flows through the queue, a second reader on the same queue is refused,
// and SIGTERM removes the table and reports the packets handled.
func TestAcceptsAndCleansUp(t *testing.T) {
	p := planttest.New(t)
	addr := udpEcho(t, p)

	cmd := e2e.Self(p.FW, selfEnv, "-queue", "7", "-gso")
	var out bytes.Buffer
	errb := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = &out, errb
	bg, err := e2e.StartBackground(t, cmd, e2e.ExitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	e2e.WaitOutput(t, errb, "nfq-accept ready", "nfq-accept not ready", 5*time.Second)
	if !tablePresent(t, p) {
		t.Fatal("conduit table missing while nfq-accept runs")
	}
	const n = 50
	if got := exchange(t, p, addr, n); got != n {
		t.Errorf("%d of %d echoes came back through nfq-accept", got, n)
	}

	second, err := e2e.Self(p.FW, selfEnv, "-queue", "7", "-install=false").CombinedOutput()
	if err == nil || !strings.Contains(string(second), "already bound") {
		t.Errorf("second reader on the same queue: %v: %s", err, second)
	}

	if err := bg.Stop(); err != nil {
		t.Fatalf("nfq-accept after SIGTERM: %v: %s", err, errb.String())
	}
	var res result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	if res.Packets < 2*n || res.VerdictErrors != 0 {
		t.Errorf("result %+v, want at least %d packets and no verdict errors", res, 2*n)
	}
	if tablePresent(t, p) {
		t.Error("conduit table left behind after SIGTERM")
	}
	if got := exchange(t, p, addr, 5); got != 5 {
		t.Errorf("after nfq-accept exited, %d of 5 echoes came back", got)
	}
}
