package main

// End-to-end tests of how `conduit run` stops and restarts: a steady,
// sequence-numbered UDP stream between the HMI and the PLC counts every
// allowed packet lost while the daemon is restarted as systemd does it
// (SIGTERM the old one, wait for it, start the new one).

import (
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// udpStream sends one sequence-numbered datagram every interval from a
// zone host to the PLC's UDP echo server over one socket (one flow), and
// records which echoes came back.
type udpStream struct {
	c     *net.UDPConn
	every time.Duration
	stop  chan struct{}
	done  sync.WaitGroup

	mu   sync.Mutex
	sent []time.Time // send time by sequence number
	got  []bool      // echo seen, by sequence number
}

func (r *rig) startStream(f flow, every time.Duration) *udpStream {
	r.t.Helper()
	var c *net.UDPConn
	err := r.p.Do(r.p.Host(f.from).NS, func() error {
		raddr, err := net.ResolveUDPAddr("udp", r.addr(f))
		if err != nil {
			return err
		}
		c, err = net.DialUDP("udp", nil, raddr)
		return err
	})
	if err != nil {
		r.t.Fatalf("open the stream's socket: %v", err)
	}
	r.t.Cleanup(func() { c.Close() })
	_ = c.SetReadBuffer(4 << 20)
	s := &udpStream{c: c, every: every, stop: make(chan struct{})}
	s.done.Go(s.receive)
	s.done.Go(s.send)
	return s
}

func (s *udpStream) send() {
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	var b [8]byte
	for seq := uint64(0); ; seq++ {
		s.mu.Lock()
		s.sent = append(s.sent, time.Now())
		s.got = append(s.got, false)
		s.mu.Unlock()
		binary.BigEndian.PutUint64(b[:], seq)
		_, _ = s.c.Write(b[:]) // a refused send is a loss like any other
		select {
		case <-s.stop:
			return
		case <-tick.C:
		}
	}
}

func (s *udpStream) receive() {
	var b [64]byte
	for {
		_ = s.c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := s.c.Read(b[:])
		if err != nil {
			select {
			case <-s.stop:
				// Stragglers had a grace period before stop closed.
				return
			default:
				continue
			}
		}
		if n != 8 {
			continue
		}
		seq := binary.BigEndian.Uint64(b[:])
		s.mu.Lock()
		if seq < uint64(len(s.got)) {
			s.got[seq] = true
		}
		s.mu.Unlock()
	}
}

// streamResult is what a stream lost: runs of consecutive lost datagrams
// by send time.
type streamResult struct {
	sent, lost int
	runs       [][2]time.Time // first and last send time of each run of losses
}

// finish stops sending, gives the last echoes grace to arrive, and
// reports the losses.
func (s *udpStream) finish(grace time.Duration) streamResult {
	s.mu.Lock()
	n := len(s.sent)
	s.mu.Unlock()
	// Stop the sender first, then wait for the echoes of what it sent.
	s.mu.Lock()
	stopAt := len(s.sent)
	s.mu.Unlock()
	_ = n
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		all := true
		for _, g := range s.got[:stopAt] {
			if !g {
				all = false
				break
			}
		}
		s.mu.Unlock()
		if all {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(s.stop)
	s.done.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	res := streamResult{sent: stopAt}
	for i := 0; i < stopAt; i++ {
		if s.got[i] {
			continue
		}
		res.lost++
		if k := len(res.runs); k > 0 && !s.got[i-1] {
			res.runs[k-1][1] = s.sent[i]
		} else {
			res.runs = append(res.runs, [2]time.Time{s.sent[i], s.sent[i]})
		}
	}
	return res
}

// describe says when the losses happened relative to the named instants.
func (res streamResult) describe(marks []mark) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d lost", res.lost, res.sent)
	for _, run := range res.runs {
		fmt.Fprintf(&b, "; run of %v from %s to %s", run[1].Sub(run[0]).Round(time.Millisecond), relTo(run[0], marks), relTo(run[1], marks))
	}
	return b.String()
}

// mark is a named instant of a test.
type mark struct {
	name string
	at   time.Time
}

// relTo names t by the last mark before it.
func relTo(t time.Time, marks []mark) string {
	best := -1
	for i, m := range marks {
		if !m.at.After(t) {
			best = i
		}
	}
	if best < 0 {
		return t.Format("15:04:05.000")
	}
	return fmt.Sprintf("%s+%v", marks[best].name, t.Sub(marks[best].at).Round(time.Millisecond))
}

// restart stops d as systemd does (SIGTERM, wait for the exit) and starts
// a new daemon on the same file, recording the instants in between.
func (r *rig) restart(d *daemon, marks *[]mark) *daemon {
	r.t.Helper()
	*marks = append(*marks, mark{"sigterm", time.Now()})
	d.signal(syscall.SIGTERM)
	if code := d.waitExit(exitTimeout); code != 0 {
		r.t.Fatalf("conduit exited %d after SIGTERM, want 0; stderr: %s", code, d.stderr.String())
	}
	*marks = append(*marks, mark{"exited", time.Now()})
	d2 := r.startDaemon("")
	*marks = append(*marks, mark{"started", time.Now()})
	return d2
}

// TestE2ERestartFailOpenLosesNothing restarts an enforce daemon with
// fail_open true under a steady allowed UDP stream: not one datagram may
// be lost, neither while the old daemon lets go nor when the new one binds.
func TestE2ERestartFailOpenLosesNothing(t *testing.T) {
	r := newRig(t)
	writeFile(t, r.path, policy{Mode: "enforce", FailOpen: true}.render(t))
	d := r.startDaemon("")
	s := r.startStream(supUDP, 100*time.Microsecond)
	time.Sleep(300 * time.Millisecond)
	var marks []mark
	for i := range 5 {
		d = r.restart(d, &marks)
		marks[len(marks)-1].name = fmt.Sprintf("started#%d", i+1)
		time.Sleep(300 * time.Millisecond)
	}
	res := s.finish(2 * time.Second)
	t.Logf("allowed UDP stream over 5 restarts (fail_open true): %s", res.describe(marks))
	if res.sent < 500 {
		t.Fatalf("the stream sent only %d datagrams", res.sent)
	}
	if res.lost > 0 {
		t.Errorf("restarts with fail_open true lost allowed datagrams: %s", res.describe(marks))
	}
	r.mustBlock(entUDP, "enforce after the restarts")
}
