package eventlog

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Sink delivers records. Write gets one record ending in '\n' and must
// return within a bounded time (write deadlines); it is called from one
// goroutine at a time.
type Sink interface {
	Name() string
	Write(rec []byte) error
	Close() error
}

// Reopener is a sink that can reopen its file (SIGUSR1 after logrotate).
type Reopener interface {
	Reopen() error
}

// DefaultQueue is the number of records each sink may have waiting.
const DefaultQueue = 8192

// SinkStats are one sink's delivery counters since start.
type SinkStats struct {
	Name    string `json:"name"`
	Written uint64 `json:"written"`
	Dropped uint64 `json:"dropped"` // refused: the sink's queue was full
	Failed  uint64 `json:"failed"`  // the sink could not deliver them
}

// Mux fans records out to sinks through bounded queues.
type Mux struct {
	mu     sync.RWMutex // Write holds it shared; Replace and Close exclusively
	closed bool
	queue  int
	sinks  []*queued
}

type queued struct {
	sink    Sink
	ch      chan []byte
	done    chan struct{}
	written atomic.Uint64
	dropped atomic.Uint64
	failed  atomic.Uint64
	lastErr atomic.Pointer[string]
}

// NewMux starts one delivery goroutine per sink; queue bounds each sink's
// backlog (DefaultQueue if <= 0).
func NewMux(queue int, sinks ...Sink) *Mux {
	if queue <= 0 {
		queue = DefaultQueue
	}
	m := &Mux{queue: queue}
	for _, s := range sinks {
		m.sinks = append(m.sinks, m.start(s))
	}
	return m
}

func (m *Mux) start(s Sink) *queued {
	q := &queued{sink: s, ch: make(chan []byte, m.queue), done: make(chan struct{})}
	go q.run()
	return q
}

// Replace makes sinks the destinations, for a reload that changed them.
// A sink named as one already running (same file, same syslog target) is
// closed and the running one kept, with its queue and counters, so its
// records stay in order. Sinks no longer wanted stop taking records, get
// up to timeout to deliver their backlog, and close, in the background.
func (m *Mux) Replace(timeout time.Duration, sinks ...Sink) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		for _, s := range sinks {
			_ = s.Close()
		}
		return
	}
	running := map[string]*queued{}
	for _, q := range m.sinks {
		running[q.sink.Name()] = q
	}
	var next []*queued
	for _, s := range sinks {
		if q, ok := running[s.Name()]; ok {
			delete(running, s.Name())
			next = append(next, q)
			_ = s.Close()
			continue
		}
		next = append(next, m.start(s))
	}
	var gone []*queued
	for _, q := range m.sinks {
		if _, ok := running[q.sink.Name()]; ok {
			close(q.ch)
			gone = append(gone, q)
		}
	}
	m.sinks = next
	m.mu.Unlock()
	go drain(gone, timeout)
}

func (q *queued) run() {
	defer close(q.done)
	for rec := range q.ch {
		if err := q.sink.Write(rec); err != nil {
			q.failed.Add(1)
			s := err.Error()
			q.lastErr.Store(&s)
			continue
		}
		q.written.Add(1)
	}
}

// Write queues one record for every sink and never waits for one. It
// always reports success: a refused record is counted, not returned, so
// that the caller's logger keeps going.
func (m *Mux) Write(p []byte) (int, error) {
	rec := make([]byte, len(p))
	copy(rec, p)
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, q := range m.sinks {
		if m.closed {
			q.dropped.Add(1)
			continue
		}
		select {
		case q.ch <- rec:
		default:
			q.dropped.Add(1)
		}
	}
	return len(p), nil
}

// Reopen reopens every sink that writes to a file.
func (m *Mux) Reopen() error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var errs []error
	for _, q := range m.sinks {
		if r, ok := q.sink.(Reopener); ok {
			errs = append(errs, r.Reopen())
		}
	}
	return errors.Join(errs...)
}

// Stats returns each sink's counters, in the order given to NewMux.
func (m *Mux) Stats() []SinkStats {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]SinkStats, len(m.sinks))
	for i, q := range m.sinks {
		out[i] = SinkStats{Name: q.sink.Name(), Written: q.written.Load(), Dropped: q.dropped.Load(), Failed: q.failed.Load()}
	}
	return out
}

// LastError returns the last delivery error of each sink by name.
func (m *Mux) LastError() map[string]string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := map[string]string{}
	for _, q := range m.sinks {
		if s := q.lastErr.Load(); s != nil {
			out[q.sink.Name()] = *s
		}
	}
	return out
}

// Close stops accepting records, waits up to timeout for the queues to
// drain, and closes the sinks.
func (m *Mux) Close(timeout time.Duration) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	qs := m.sinks
	for _, q := range qs {
		close(q.ch)
	}
	m.mu.Unlock()
	return drain(qs, timeout)
}

// drain waits up to timeout for closed queues to deliver their backlog,
// then closes their sinks.
func drain(qs []*queued, timeout time.Duration) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var errs []error
	for _, q := range qs {
		select {
		case <-q.done:
		case <-deadline.C:
			// Give up waiting: closing the sink below ends a blocked
			// write, and what the queue still holds fails and is counted.
			deadline.Reset(0)
		}
		errs = append(errs, q.sink.Close())
	}
	return errors.Join(errs...)
}
