package engine

import (
	"context"
	"errors"
	"runtime"
	"time"

	"github.com/conduit-ot/conduit/engine/nfq"
)

// Serve reads queue q and gives every packet exactly one verdict, using
// worker i, until stop is closed and the queue has been quiet for one read
// timeout. The caller closes stop after removing the nftables rule, so the
// packets already queued are drained with real verdicts rather than left to
// the kernel's default when the socket closes.
func (e *Engine) Serve(ctx context.Context, i int, q *nfq.Queue, stop <-chan struct{}) {
	// A dedicated thread: the reader blocks in recvfrom, not on the runtime
	// poller, which is where the latency of a C reader comes from.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	w := e.workers[i]
	var p nfq.Packet
	var lastErr time.Time
	for {
		err := q.Read(&p)
		switch {
		case err == nil:
		case errors.Is(err, nfq.ErrTimeout):
			select {
			case <-stop:
				return
			default:
				continue
			}
		default:
			// Never end the loop on an error: the queue stays bound and the
			// kernel keeps queueing to it. Say so, at most once a second.
			if time.Since(lastErr) > time.Second {
				e.log.Error("queue read failed; continuing", "queue", i, "err", err)
				lastErr = time.Now()
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		sampled := w.lat.sample()
		var received time.Time
		if sampled {
			received = time.Now()
		}
		switch d := w.DecideVerdict(p.Payload); {
		case d.Packet != nil: // a reset: the segment is replaced (reset.go)
			if err = q.VerdictModified(p.ID, nfq.Accept, d.Packet); err != nil {
				// The replacement did not reach the kernel: the packet still
				// needs its one verdict, and the refused segment must not pass.
				err = errors.Join(err, q.Verdict(p.ID, nfq.Drop))
			}
		case d.Accept:
			err = q.Verdict(p.ID, nfq.Accept)
		default:
			err = q.Verdict(p.ID, nfq.Drop)
		}
		if err != nil && time.Since(lastErr) > time.Second {
			e.log.Error("verdict failed", "queue", i, "packet_id", p.ID, "err", err)
			lastErr = time.Now()
		}
		if sampled {
			w.lat.observe(time.Since(received))
		}
	}
}

// Sweep expires idle flows in the background until ctx ends.
func (e *Engine) Sweep(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			e.ct.Sweep(e.now())
		case <-ctx.Done():
			return
		}
	}
}
