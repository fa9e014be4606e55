package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"time"

	"github.com/conduit-ot/conduit/internal/plant"
)

// Sink is a plantpeer udp-sink on the PLC that counts datagrams by source.
type Sink struct {
	r         *Rig
	Addr      string // where the floods go: the PLC's IPv4 address and the port
	cmd       *exec.Cmd
	out, errb bytes.Buffer
}

// SinkCounts is what a sink counted.
type SinkCounts struct {
	Packets uint64            `json:"packets"`
	Sources map[string]uint64 `json:"sources"` // by source address
}

// UDPSink starts a udp-sink on the PLC's port that ends idle after the
// last datagram, or after limit at the latest.
func (r *Rig) UDPSink(port int, limit, idle time.Duration) *Sink {
	r.T.Helper()
	ctl := r.P.Host(plant.Control)
	s := &Sink{r: r, Addr: fmt.Sprintf("%s:%d", ctl.IPv4, port)}
	s.cmd = plant.NSCmd(ctl.NS, r.Peer, "udp-sink", "-l", s.Addr, "-for", limit.String(), "-idle", idle.String(), "-by-source")
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.errb
	if err := s.cmd.Start(); err != nil {
		r.T.Fatal(err)
	}
	r.T.Cleanup(func() { _ = s.cmd.Process.Kill() })
	// Datagrams that arrive before the sink binds are refused, not
	// miscounted.
	time.Sleep(200 * time.Millisecond)
	return s
}

// Wait waits for the sink to end and returns its counts.
func (s *Sink) Wait() SinkCounts {
	s.r.T.Helper()
	if err := s.cmd.Wait(); err != nil {
		s.r.T.Fatalf("udp-sink: %v: %s", err, s.errb.String())
	}
	var got SinkCounts
	if err := json.Unmarshal(s.out.Bytes(), &got); err != nil {
		s.r.T.Fatalf("udp-sink output %q: %v", s.out.String(), err)
	}
	return got
}

// Flood is a plantpeer UDP flood from a zone host.
type Flood struct {
	cmd *exec.Cmd
	out bytes.Buffer
}

// StartFlood floods addr from the zone host from for d; args are more
// flags of plantpeer flood.
func (r *Rig) StartFlood(from, addr string, d time.Duration, args ...string) *Flood {
	r.T.Helper()
	f := &Flood{cmd: plant.NSCmd(r.P.Host(from).NS, r.Peer, append([]string{"flood", "-addr", addr, "-for", d.String()}, args...)...)}
	f.cmd.Stdout, f.cmd.Stderr = &f.out, &f.out
	if err := f.cmd.Start(); err != nil {
		r.T.Fatal(err)
	}
	return f
}

// Wait waits for the flood to end and returns how many datagrams it sent.
func (f *Flood) Wait() (sent uint64, err error) {
	if err := f.cmd.Wait(); err != nil {
		return 0, fmt.Errorf("%w: %s", err, f.out.String())
	}
	var s struct {
		Sent uint64 `json:"sent"`
	}
	_ = json.Unmarshal(f.out.Bytes(), &s)
	return s.Sent, nil
}
