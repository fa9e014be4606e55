package engine

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// The receipt-to-verdict time of every latencySampleEvery-th packet is
// recorded: reading the clock twice per packet would cost more than some
// decisions do.
const latencySampleEvery = 32

// latencyBuckets are upper bounds 1µs·2^i for i < latencyBuckets (1µs to
// about 0.5s); one more bucket holds the rest.
const latencyBuckets = 20

// latencyHist is a worker's sampled histogram. The worker alone writes it;
// readers load the atomics.
type latencyHist struct {
	n      uint32 // packets seen, for sampling; worker-owned
	counts [latencyBuckets + 1]atomic.Uint64
	sum    atomic.Int64 // ns
}

// sample reports whether to time this packet (the first, then every
// latencySampleEvery-th).
func (h *latencyHist) sample() bool {
	h.n++
	return h.n%latencySampleEvery == 1
}

func (h *latencyHist) observe(d time.Duration) {
	if d < 0 {
		d = 0
	}
	i := 0
	if d > 0 {
		i = min(bits.Len64(uint64(d-1)/uint64(time.Microsecond)), latencyBuckets)
	}
	h.counts[i].Add(1)
	h.sum.Add(int64(d))
}

// Latency is the sampled receipt-to-verdict histogram of all queues.
type Latency struct {
	Bounds []time.Duration // upper bound of each bucket but the last (+Inf)
	Counts []uint64        // per bucket, not cumulative; len(Bounds)+1
	Count  uint64
	Sum    time.Duration
}

// Latency sums the workers' histograms.
func (e *Engine) Latency() Latency {
	l := Latency{Bounds: make([]time.Duration, latencyBuckets), Counts: make([]uint64, latencyBuckets+1)}
	for i := range l.Bounds {
		l.Bounds[i] = time.Microsecond << i
	}
	for _, w := range e.workers {
		for i := range l.Counts {
			c := w.lat.counts[i].Load()
			l.Counts[i] += c
			l.Count += c
		}
		l.Sum += time.Duration(w.lat.sum.Load())
	}
	return l
}
