package e2e

import (
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Session is a TCP connection from a zone host to the PLC's echo server,
// opened in-process in the host's namespace.
type Session struct {
	C   net.Conn
	Seq int // messages sent
}

// OpenSession connects f's host to the PLC; the test's end closes it.
func (r *Rig) OpenSession(f Flow) *Session {
	r.T.Helper()
	c, err := r.Dial(f.From, "tcp", r.Addr(f), PassTimeout)
	if err != nil {
		r.T.Fatalf("open a session for %s: %v", f.Desc, err)
	}
	return &Session{C: c}
}

// Dial connects from the namespace of the zone host from; the test's end
// closes the connection.
func (r *Rig) Dial(from, network, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := r.P.Do(r.P.Host(from).NS, func() error {
		var err error
		c, err = net.DialTimeout(network, addr, timeout)
		return err
	})
	if err != nil {
		return nil, err
	}
	r.T.Cleanup(func() { c.Close() })
	return c, nil
}

// Exchange sends one message and waits for its echo.
func (s *Session) Exchange(timeout time.Duration) error {
	s.Seq++
	msg := fmt.Sprintf("poll %08d\n", s.Seq)
	if err := s.C.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	if _, err := io.WriteString(s.C, msg); err != nil {
		return fmt.Errorf("message %d: send: %w", s.Seq, err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(s.C, got); err != nil {
		return fmt.Errorf("message %d: no echo: %w", s.Seq, err)
	}
	if string(got) != msg {
		return fmt.Errorf("message %d: echo %q, want %q", s.Seq, got, msg)
	}
	return nil
}

// Chatter keeps a session exchanging messages in the background, the way
// an HMI polls a PLC, and records the first failure and the slowest
// exchange.
type Chatter struct {
	stop, done chan struct{}
	once       sync.Once
	timeout    time.Duration // what one exchange may take
	mu         sync.Mutex
	ok         int
	err        error
	slowest    time.Duration
}

// Chatter exchanges a message every period, each within PassTimeout,
// until Finish or a failure.
func (s *Session) Chatter(every time.Duration) *Chatter { return s.Poll(every, PassTimeout) }

// Poll is Chatter with each exchange allowed timeout: longer for a
// session that must ride out a retransmission (a segment in flight when a
// daemon is killed is lost, and TCP's retransmission backs off from 200ms,
// more on a loaded machine).
func (s *Session) Poll(every, timeout time.Duration) *Chatter {
	ch := &Chatter{stop: make(chan struct{}), done: make(chan struct{}), timeout: timeout}
	go func() {
		defer close(ch.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			start := time.Now()
			err := s.Exchange(timeout)
			ch.mu.Lock()
			ch.slowest = max(ch.slowest, time.Since(start))
			if err != nil {
				ch.err = err
			} else {
				ch.ok++
			}
			ch.mu.Unlock()
			if err != nil {
				return
			}
			select {
			case <-ch.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return ch
}

// State is the count of exchanges so far and the failure, if any.
func (ch *Chatter) State() (int, error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.ok, ch.err
}

// Slowest is the longest exchange so far.
func (ch *Chatter) Slowest() time.Duration {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.slowest
}

// WaitFor waits until n more exchanges than base succeeded, failing the
// test if the session breaks or makes no progress for long: twice what
// one exchange may take, and a second for each one waited for.
func (ch *Chatter) WaitFor(t testing.TB, base, n int, why string) {
	t.Helper()
	deadline := time.Now().Add(2*ch.timeout + time.Duration(n)*time.Second)
	for {
		ok, err := ch.State()
		if err != nil {
			t.Fatalf("%s: the allowed session broke after %d exchanges: %v", why, ok, err)
		}
		if ok >= base+n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the allowed session made %d of %d exchanges in time", why, ok-base, n)
		}
		select {
		case <-ch.done:
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Finish stops the exchanges and returns the final state; it may be
// called again.
func (ch *Chatter) Finish() (int, error) {
	ch.once.Do(func() { close(ch.stop) })
	<-ch.done
	return ch.State()
}
