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
	mu     sync.RWMutex // Write holds it shared; Close exclusively
	closed bool
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
	m := &Mux{}
	for _, s := range sinks {
		q := &queued{sink: s, ch: make(chan []byte, queue), done: make(chan struct{})}
		m.sinks = append(m.sinks, q)
		go q.run()
	}
	return m
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
	out := make([]SinkStats, len(m.sinks))
	for i, q := range m.sinks {
		out[i] = SinkStats{Name: q.sink.Name(), Written: q.written.Load(), Dropped: q.dropped.Load(), Failed: q.failed.Load()}
	}
	return out
}

// LastError returns the last delivery error of each sink by name.
func (m *Mux) LastError() map[string]string {
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
	for _, q := range m.sinks {
		close(q.ch)
	}
	m.mu.Unlock()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var errs []error
	for _, q := range m.sinks {
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
