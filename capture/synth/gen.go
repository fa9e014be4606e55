package synth

import (
	"container/heap"
	"net/netip"
	"time"

	"github.com/conduit-ot/conduit/capture"
)

// gen runs the plant's tasks in time order and writes their frames in
// time order: a task emits a burst (a request, its answer, an ACK) whose
// frames may interleave with other tasks' bursts, so frames wait in a
// heap until no earlier frame can still be produced.
type gen struct {
	cfg     Config
	rng     rng
	out     *capture.Writer
	tasks   taskHeap
	pending frameHeap
	seq     uint64 // tie-breaker: equal timestamps keep emission order
	start   int64
	end     int64 // 0: no time limit
	stats   Stats
	err     error
	done    bool
}

// task is a recurring activity: run emits its frames at now and returns
// when it runs next, or a negative time to stop.
type task struct {
	at  int64
	run func(g *gen, now int64) int64
}

type taskHeap []*task

func (h taskHeap) Len() int           { return len(h) }
func (h taskHeap) Less(i, j int) bool { return h[i].at < h[j].at }
func (h taskHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *taskHeap) Push(x any)        { *h = append(*h, x.(*task)) }
func (h *taskHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	*h = old[:len(old)-1]
	return t
}

type pendingFrame struct {
	at    int64
	seq   uint64
	frame []byte
}

type frameHeap []pendingFrame

func (h frameHeap) Len() int { return len(h) }
func (h frameHeap) Less(i, j int) bool {
	return h[i].at < h[j].at || h[i].at == h[j].at && h[i].seq < h[j].seq
}
func (h frameHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *frameHeap) Push(x any)   { *h = append(*h, x.(pendingFrame)) }
func (h *frameHeap) Pop() any {
	old := *h
	f := old[len(old)-1]
	*h = old[:len(old)-1]
	return f
}

// every schedules run at offset from the start.
func (g *gen) every(offset time.Duration, run func(g *gen, now int64) int64) {
	heap.Push(&g.tasks, &task{at: g.start + int64(offset), run: run})
}

// emit queues a frame captured at ts.
func (g *gen) emit(ts int64, frame []byte) {
	g.seq++
	heap.Push(&g.pending, pendingFrame{at: ts, seq: g.seq, frame: frame})
}

// flush writes the queued frames captured before t.
func (g *gen) flush(t int64) {
	for !g.done && g.pending.Len() > 0 && g.pending[0].at < t {
		f := heap.Pop(&g.pending).(pendingFrame)
		if g.end > 0 && f.at >= g.end || g.cfg.Packets > 0 && g.stats.Frames >= g.cfg.Packets {
			g.done = true
			return
		}
		if err := g.out.WriteFrame(f.at, f.frame); err != nil {
			g.err, g.done = err, true
			return
		}
		if g.stats.Frames == 0 {
			g.stats.First = time.Unix(0, f.at).UTC()
		}
		g.stats.Last = time.Unix(0, f.at).UTC()
		g.stats.Frames++
		if f.frame[12] != 0x08 || f.frame[13] != 0x06 {
			g.stats.IP++
		}
	}
}

func (g *gen) run() {
	for !g.done && g.tasks.Len() > 0 {
		t := heap.Pop(&g.tasks).(*task)
		// Tasks run in time order and emit nothing before their own time,
		// so every frame queued before t.at is final.
		g.flush(t.at)
		if g.done {
			break
		}
		if next := t.run(g, t.at); next >= 0 {
			t.at = next
			heap.Push(&g.tasks, t)
		}
	}
	g.flush(1<<63 - 1)
}

// jitter returns d scaled by the poll scale, varied by ±frac.
func (g *gen) jitter(d time.Duration, frac float64) int64 {
	v := float64(d) * g.cfg.PollScale
	return int64(v + v*frac*(2*g.rng.float()-1))
}

// ms returns a short network delay in [lo, hi) milliseconds.
func (g *gen) ms(lo, hi float64) int64 {
	return int64((lo + (hi-lo)*g.rng.float()) * float64(time.Millisecond))
}

// host is one addressable device.
type host struct {
	addr netip.Addr
	vlan uint16
	ipID uint16
}

func (h *host) spec(dst *host) frameSpec {
	h.ipID++
	vlan := h.vlan
	if vlan == 0 {
		vlan = dst.vlan
	}
	return frameSpec{src: h.addr, dst: dst.addr, vlan: vlan, ttl: 64, id: h.ipID}
}

// rng is a small deterministic generator (splitmix64): the same seed
// gives the same capture on every platform and Go version.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }
