// Package tap feeds copies of traffic from TAP or SPAN ports (AF_PACKET
// rings, package afpacket) through the engine, for conduit observe: every
// frame is judged and recorded as the inline daemon would judge it, and
// the verdict goes nowhere.
//
// Worker i of the engine reads member i of every interface's fanout group.
// The fanout hash is symmetric and the same on every interface, so both
// directions of a flow, whichever port of a TAP carries them, reach the
// same worker and its connection-table shard: they make one flow.
package tap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/engine/afpacket"
	"golang.org/x/sys/unix"
)

// Config opens a sensor.
type Config struct {
	Ifaces []string
	Engine *engine.Engine // built with Workers == len(workers) wanted
	// Workers is the number of engine workers, one ring per interface each.
	Workers int
	Log     *slog.Logger
	// RingBytes is the ring size per worker and interface; default 16 MiB.
	// It is cut in ringBlocks blocks: a worker holds a block while one of
	// its frames waits out the merge's hold, and the kernel hands over a
	// partly filled block every 8 ms, so fewer blocks would let a quiet
	// second interface freeze a busy first one.
	RingBytes int
	// RetireMS is afpacket.Config.RetireMS; 0 for its default (8 ms), which
	// the merge's hold assumes.
	RetireMS int
	// OnFrame, when set, sees every frame a worker read, with its kernel
	// receive time (ns) and the IP packet inside it (nil for a frame that
	// carries no IP), after the engine judged it, on the worker's
	// goroutine. The asset inventory listens here.
	OnFrame func(worker int, ts int64, frame, ip []byte)
}

// Sensor reads the rings of its interfaces into the engine.
type Sensor struct {
	cfg    Config
	socks  [][]*afpacket.Socket // [worker][interface]
	counts []frameCounters      // per worker
}

type frameCounters struct {
	frames, ip, other atomic.Uint64
	_                 [40]byte // one cache line per worker
}

// Open opens a receive-only ring per worker on every interface. It must
// run in the interfaces' network namespace, as root (CAP_NET_RAW).
func Open(cfg Config) (*Sensor, error) {
	if len(cfg.Ifaces) == 0 {
		return nil, errors.New("tap: no interface to observe")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.RingBytes <= 0 {
		cfg.RingBytes = 16 << 20
	}
	page := os.Getpagesize()
	block := max(page, cfg.RingBytes/ringBlocks/page*page)
	s := &Sensor{cfg: cfg, socks: make([][]*afpacket.Socket, cfg.Workers), counts: make([]frameCounters, cfg.Workers)}
	for _, name := range cfg.Ifaces {
		var g *afpacket.Group
		if cfg.Workers > 1 {
			g = &afpacket.Group{}
		}
		// Members join in worker order: member i is worker i's.
		for w := range cfg.Workers {
			sock, err := afpacket.Open(afpacket.Config{Iface: name, Fanout: g, BlockSize: block, Blocks: ringBlocks, RetireMS: cfg.RetireMS})
			if err != nil {
				s.Close()
				return nil, err
			}
			s.socks[w] = append(s.socks[w], sock)
		}
	}
	return s, nil
}

// hold is how long a frame waits for frames of another interface that
// the kernel received before it but has not handed over yet: a ring's
// partly filled block is handed over after afpacket's retire timeout
// (8 ms), so after this no earlier frame can still turn up.
const hold = 25 * time.Millisecond

// ringBlocks is the number of blocks of each ring: enough that the block a
// held frame keeps (hold / 8 ms of partly filled blocks behind it) never
// leaves the kernel without one.
const ringBlocks = 16

// Serve reads worker i's rings until stop is closed, then reads what the
// rings already hold and returns.
//
// Frames of several interfaces are judged in the order the kernel received
// them: a TCP handshake whose SYN came in on one port of a TAP and whose
// SYN-ACK came in on the other must reach the engine in that order, or the
// flow would be taken for a mid-stream reply. Each ring is in order; the
// worker merges them by receive time, and a frame waits (up to hold) while
// another of its rings has nothing to show.
func (s *Sensor) Serve(ctx context.Context, i int, stop <-chan struct{}) {
	m := newMerger(s.socks[i])
	base := time.Now()
	w := s.cfg.Engine.Worker(i)
	c := &s.counts[i]
	var lastErr time.Time
	for {
		stopping := false
		select {
		case <-stop:
			stopping = true
		default:
		}
		// Judge what is safe to judge now; at a stop, everything in hand.
		// One clock reading serves the run: a frame judged later than it
		// could be is only held a little longer.
		now := time.Now()
		watermark, mono := now.Add(-hold).UnixNano(), int64(now.Sub(base))
		for {
			f, ok := m.pop(watermark, mono, stopping)
			if !ok {
				break
			}
			s.frame(w, c, i, f)
		}
		if stopping {
			m.drainAll(func(f *afpacket.Frame) { s.frame(w, c, i, f) })
			return
		}
		timeout := 100
		if m.waiting() {
			timeout = 5 // a frame waits out its hold
		}
		if err := m.wait(timeout); err != nil {
			if time.Since(lastErr) > time.Second && s.cfg.Log != nil {
				s.cfg.Log.Error("ring poll failed; continuing", "worker", i, "err", err)
				lastErr = time.Now()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// merger merges the rings of one worker by receive time. next[r] is ring
// r's next frame, when has[r]; its block stays in hand until the frame is
// judged.
type merger struct {
	socks []*afpacket.Socket
	next  []afpacket.Frame
	has   []bool
	taken []int64 // monotonic ns when next[r] was taken in hand
	fds   []unix.PollFd
}

func newMerger(socks []*afpacket.Socket) *merger {
	n := len(socks)
	return &merger{socks: socks, next: make([]afpacket.Frame, n), has: make([]bool, n), taken: make([]int64, n),
		fds: make([]unix.PollFd, n)}
}

// fill takes the next frame of every ring that has one to give.
func (m *merger) fill(mono int64) {
	for r, sock := range m.socks {
		if !m.has[r] && sock.Ready() {
			m.has[r] = sock.Next(&m.next[r])
			if !m.has[r] && sock.Ready() { // the block was spent: the next one
				m.has[r] = sock.Next(&m.next[r])
			}
			m.taken[r] = mono
		}
	}
}

// pop returns the earliest frame in hand when it is safe to judge: every
// ring shows a frame (so none can still hold an earlier one), or it was
// received before the watermark, or it has been in hand for hold (by the
// monotonic clock mono, so that a step of the wall clock holds nothing
// longer), or force. The frame is valid until the next pop.
func (m *merger) pop(watermark, mono int64, force bool) (*afpacket.Frame, bool) {
	m.fill(mono)
	best, all := -1, true
	for r := range m.socks {
		if !m.has[r] {
			all = false
			continue
		}
		if best < 0 || m.next[r].Time() < m.next[best].Time() {
			best = r
		}
	}
	if best < 0 {
		return nil, false
	}
	if !all && !force && len(m.socks) > 1 && m.next[best].Time() > watermark && mono-m.taken[best] < int64(hold) {
		return nil, false
	}
	m.has[best] = false
	return &m.next[best], true
}

// waiting reports a frame in hand that waits for its hold.
func (m *merger) waiting() bool {
	for _, h := range m.has {
		if h {
			return true
		}
	}
	return false
}

// wait blocks until a ring has a block to read or timeoutMS passes.
func (m *merger) wait(timeoutMS int) error {
	// A ring whose block is in hand polls readable: poll only the others.
	fds := m.fds[:0]
	for r, sock := range m.socks {
		if m.has[r] {
			continue
		}
		if sock.Ready() {
			return nil
		}
		fds = append(fds, unix.PollFd{Fd: int32(sock.FD()), Events: unix.POLLIN | unix.POLLERR})
	}
	if len(fds) == 0 {
		time.Sleep(time.Duration(timeoutMS) * time.Millisecond)
		return nil
	}
	_, err := unix.Poll(fds, timeoutMS)
	if errors.Is(err, unix.EINTR) {
		return nil
	}
	return err
}

// drainAll judges what the rings hold, in order, at a stop.
func (m *merger) drainAll(fn func(*afpacket.Frame)) {
	for {
		f, ok := m.pop(0, 0, true)
		if !ok {
			return
		}
		fn(f)
	}
}

// frame judges one frame. The verdict is dropped on purpose: the frame is
// a copy, and the real one has long gone its way.
func (s *Sensor) frame(w *engine.Worker, c *frameCounters, i int, f *afpacket.Frame) {
	data := f.Data
	c.frames.Add(1)
	ip, ok := capture.LinkEthernet.IP(data)
	if ok {
		c.ip.Add(1)
		w.Decide(ip)
	} else {
		c.other.Add(1) // ARP, LLDP, STP, PROFINET: no IP to judge
		ip = nil
	}
	if s.cfg.OnFrame != nil {
		s.cfg.OnFrame(i, f.Time(), data, ip)
	}
}

// IfaceStats is one observed interface, summed over its rings.
type IfaceStats struct {
	Name  string `json:"name"`
	Rings int    `json:"rings"`
	// From the kernel (PACKET_STATISTICS): frames the rings received and
	// those they dropped because they were full.
	Packets     uint64 `json:"packets"`
	Drops       uint64 `json:"drops"`
	FreezeQueue uint64 `json:"freeze_queue"`
	Err         string `json:"error,omitempty"`
}

// Counters are the frames the workers read.
type Counters struct {
	Frames uint64 `json:"frames"`
	IP     uint64 `json:"ip"`
	NonIP  uint64 `json:"non_ip"`
}

// Stats returns the kernel's ring counters per interface.
func (s *Sensor) Stats() []IfaceStats {
	out := make([]IfaceStats, len(s.cfg.Ifaces))
	for j, name := range s.cfg.Ifaces {
		out[j].Name = name
		for _, socks := range s.socks {
			if j >= len(socks) {
				continue
			}
			st, err := socks[j].Stats()
			if err != nil {
				out[j].Err = err.Error()
			}
			out[j].Rings++
			out[j].Packets += st.Packets
			out[j].Drops += st.Drops
			out[j].FreezeQueue += st.FreezeQueue
		}
	}
	return out
}

// Counters sums the workers' frame counts.
func (s *Sensor) Counters() Counters {
	var c Counters
	for i := range s.counts {
		c.Frames += s.counts[i].frames.Load()
		c.IP += s.counts[i].ip.Load()
		c.NonIP += s.counts[i].other.Load()
	}
	return c
}

// Close closes every ring. Call it after the Serve loops returned.
func (s *Sensor) Close() error {
	var err error
	for _, socks := range s.socks {
		for _, sock := range socks {
			if e := sock.Close(); e != nil {
				err = errors.Join(err, fmt.Errorf("tap: %s: %w", sock.Iface().Name, e))
			}
		}
	}
	return err
}
