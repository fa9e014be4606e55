package engine

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/conduit-ot/conduit/engine/nfq"
)

// readBatch is how many packets one read takes from a queue. Under load
// the kernel has several waiting; reading them in one system call and
// accepting a run of them with one verdict message is what lifts packets/s.
// At low rates a batch is one packet, so latency is unchanged.
const readBatch = 16

// readCounters count a queue's system calls, for the status report.
type readCounters struct {
	reads, verdicts atomic.Uint64
}

// Serve reads queue q and gives every packet exactly one verdict, using
// worker i, until stop is closed and the queue has been quiet for one read
// timeout. The caller closes stop after removing the nftables rule, so the
// packets already queued are drained with real verdicts rather than left to
// the kernel's default when the socket closes.
func (e *Engine) Serve(ctx context.Context, i int, q *nfq.Queue, stop <-chan struct{}) {
	// A dedicated thread: the reader blocks in recvmmsg, not on the runtime
	// poller, which is where the latency of a C reader comes from.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	s := server{e: e, w: e.workers[i], q: q, rc: &e.reads[i], queue: i, accepts: make([]uint32, 0, readBatch)}
	var ps [readBatch]nfq.Packet
	for {
		n, err := q.ReadBatch(ps[:])
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
			s.fail("queue read failed; continuing", 0, err)
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		s.batch(ps[:n])
	}
}

// server gives the verdicts of one queue's batches.
type server struct {
	e       *Engine
	w       *Worker
	q       *nfq.Queue
	rc      *readCounters
	queue   int
	lastErr time.Time
	// accepts is the run of accepted packets whose verdict is not sent
	// yet, by id; they all get mark runMark.
	accepts []uint32
	runMark uint32
}

// batch decides ps in order. Accepts are held and sent as one message;
// any other verdict first flushes them, so the kernel releases packets in
// the order they came (a reset never overtakes the data before it).
func (s *server) batch(ps []nfq.Packet) {
	s.rc.reads.Add(1)
	s.w.batchStart()
	defer s.w.batchEnd()
	sampled := 0
	for range ps {
		if s.w.lat.sample() {
			sampled++
		}
	}
	var received time.Time
	if sampled > 0 {
		received = time.Now()
	}
	vm := s.e.verdictMark
	if on := s.e.onPacket; on != nil {
		ts := time.Now().UnixNano()
		for i := range ps {
			on(s.queue, ts, ps[i].Payload)
		}
	}
	for i := range ps {
		p := &ps[i]
		mark := p.Mark | vm
		switch d := s.w.DecideVerdictIn(p.Payload, ingressOf(p)); {
		case d.CtMark:
			// The batch verdict cannot carry the mark: a verdict of its own.
			s.flush()
			if vm != 0 {
				s.sent(p.ID, s.q.VerdictCtMarkMark(p.ID, nfq.Accept, s.e.fp.bit, s.e.fp.bit, mark))
			} else {
				s.sent(p.ID, s.q.VerdictCtMark(p.ID, nfq.Accept, s.e.fp.bit, s.e.fp.bit))
			}
		case d.Accept && d.Packet == nil:
			if len(s.accepts) > 0 && mark != s.runMark {
				s.flush() // a batch verdict sets one mark
			}
			s.accepts = append(s.accepts, p.ID)
			s.runMark = mark
		case d.Packet != nil: // a reset: the segment is replaced (engine/inspect)
			s.flush()
			err := s.verdictModified(p.ID, d.Packet, mark)
			if err != nil {
				// The replacement did not reach the kernel: the packet still
				// needs its one verdict, and the refused segment must not pass.
				err = errors.Join(err, s.verdict(p.ID, nfq.Drop, mark))
			}
			s.sent(p.ID, err)
		default:
			s.flush()
			s.sent(p.ID, s.verdict(p.ID, nfq.Drop, mark))
		}
	}
	s.flush()
	if sampled > 0 {
		d := time.Since(received)
		for range sampled {
			s.w.lat.observe(d)
		}
	}
}

// ingressOf is where a queued packet came in: the bridge port, or the
// in-device of a routed packet, and the source MAC.
func ingressOf(p *nfq.Packet) Ingress {
	in := Ingress{Port: p.PhysIn}
	if in.Port == 0 {
		in.Port = p.InDev
	}
	in.MAC, in.HasMAC = p.MAC()
	return in
}

// flush sends the verdict for the held accepts: a plain verdict for one,
// a batch verdict (every waiting packet up to the last id) for a run. Once
// the queue has had a packet message without a readable id, that packet
// waits in the kernel unjudged, and a batch verdict could pass it: runs
// then get one verdict each.
func (s *server) flush() {
	n := len(s.accepts)
	switch {
	case n == 0:
		return
	case n == 1 || s.q.Stats.Unanswered > 0:
		for _, id := range s.accepts {
			s.sent(id, s.verdict(id, nfq.Accept, s.runMark))
		}
	default:
		last := s.accepts[n-1]
		var err error
		if s.e.verdictMark != 0 {
			err = s.q.VerdictBatchMark(last, nfq.Accept, s.runMark)
		} else {
			err = s.q.VerdictBatch(last, nfq.Accept)
		}
		if err != nil {
			// The held packets still need their verdicts: one at a time.
			for _, id := range s.accepts {
				err = errors.Join(err, s.verdict(id, nfq.Accept, s.runMark))
			}
		}
		s.sent(last, err)
	}
	s.accepts = s.accepts[:0]
}

// verdict sends one verdict, with the mark when the engine sets one.
func (s *server) verdict(id, v, mark uint32) error {
	if s.e.verdictMark != 0 {
		return s.q.VerdictMark(id, v, mark)
	}
	return s.q.Verdict(id, v)
}

func (s *server) verdictModified(id uint32, pkt []byte, mark uint32) error {
	if s.e.verdictMark != 0 {
		return s.q.VerdictModifiedMark(id, nfq.Accept, pkt, mark)
	}
	return s.q.VerdictModified(id, nfq.Accept, pkt)
}

func (s *server) sent(id uint32, err error) {
	s.rc.verdicts.Add(1)
	if err != nil {
		s.fail("verdict failed", id, err)
	}
}

// fail logs err at most once a second.
func (s *server) fail(msg string, id uint32, err error) {
	if time.Since(s.lastErr) > time.Second {
		s.e.log.Error(msg, "queue", s.queue, "packet_id", id, "err", err)
		s.lastErr = time.Now()
	}
}

// Sweep expires idle flows in the background until ctx ends.
func (e *Engine) Sweep(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			// The kernel's view of offloaded flows first: it is what keeps
			// them from idling out here while they run.
			e.syncKernel(e.now())
			e.ct.Sweep(e.now())
			e.removeEnded()
		case <-ctx.Done():
			return
		}
	}
}
