package eventlog

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"
)

// Syslog sends records to a syslog receiver as RFC 5424 messages: one
// datagram each over UDP or a unix socket, octet-counted frames over TCP.
// It connects lazily and reconnects after a failure at most once per
// backoff period; records that arrive while it is down fail at once (and
// are counted by the Mux) instead of waiting.
type Syslog struct {
	network, addr string
	hdr           header
	timeout       time.Duration
	backoff       time.Duration
	now           func() time.Time

	mu       sync.Mutex // Write against a Close that gave up waiting
	conn     net.Conn
	lastDial time.Time
	buf      []byte
}

// SyslogOptions tune a Syslog sink; zero values take defaults.
type SyslogOptions struct {
	Hostname string        // default os.Hostname()
	AppName  string        // default "conduit"
	Timeout  time.Duration // dial and write deadline; default 2s
	Backoff  time.Duration // least time between connection attempts; default 1s
	Now      func() time.Time
}

// ErrDown is returned for records that arrive while the receiver is
// unreachable and the backoff has not passed.
var ErrDown = errors.New("syslog receiver unreachable; waiting before reconnecting")

// NewSyslog parses a target such as udp://127.0.0.1:514,
// tcp://siem.example:6514?facility=local3 or unix:///dev/log. The
// facility defaults to local0. It does not connect yet.
func NewSyslog(target string, o SyslogOptions) (*Syslog, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("syslog %q: %w", target, err)
	}
	s := &Syslog{timeout: o.Timeout, backoff: o.Backoff, now: o.Now}
	switch u.Scheme {
	case "udp", "tcp":
		if u.Port() == "" {
			return nil, fmt.Errorf("syslog %q: needs a port (e.g. udp://127.0.0.1:514)", target)
		}
		s.network, s.addr = u.Scheme, u.Host
	case "unix":
		if u.Path == "" {
			return nil, fmt.Errorf("syslog %q: needs a path (e.g. unix:///dev/log)", target)
		}
		s.network, s.addr = "unixgram", u.Path
	default:
		return nil, fmt.Errorf("syslog %q: the scheme must be udp, tcp or unix", target)
	}
	fac := 16
	if f := u.Query().Get("facility"); f != "" {
		n, ok := facilities[f]
		if !ok {
			v, err := strconv.Atoi(f)
			if err != nil || v < 0 || v > 23 {
				return nil, fmt.Errorf("syslog %q: unknown facility %q", target, f)
			}
			n = v
		}
		fac = n
	}
	host := o.Hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	app := o.AppName
	if app == "" {
		app = "conduit"
	}
	s.hdr = header{facility: fac, host: sanitize(host, 255), app: sanitize(app, 48), procID: strconv.Itoa(os.Getpid())}
	if s.timeout <= 0 {
		s.timeout = 2 * time.Second
	}
	if s.backoff <= 0 {
		s.backoff = time.Second
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Name is "syslog:NETWORK://ADDR".
func (s *Syslog) Name() string { return "syslog:" + s.network + "://" + s.addr }

// Write sends one record.
func (s *Syslog) Write(rec []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		now := time.Now()
		if !s.lastDial.IsZero() && now.Sub(s.lastDial) < s.backoff {
			return ErrDown
		}
		s.lastDial = now
		c, err := net.DialTimeout(s.network, s.addr, s.timeout)
		if err != nil {
			return fmt.Errorf("syslog: %w", err)
		}
		s.conn = c
	}
	s.buf = s.buf[:0]
	if s.network == "tcp" {
		// RFC 6587 octet counting: "LEN SP MSG"; reserve room for LEN.
		s.buf = append(s.buf, "          "...)
	}
	start := len(s.buf)
	s.buf = s.hdr.format(s.buf, rec, s.now())
	out := s.buf
	if s.network == "tcp" {
		n := strconv.Itoa(len(s.buf) - start)
		off := start - len(n) - 1
		copy(s.buf[off:], n)
		s.buf[start-1] = ' '
		out = s.buf[off:]
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.timeout))
	if _, err := s.conn.Write(out); err != nil {
		// A UDP socket stays usable after a refused send (nobody listening
		// yet); a stream is broken mid-frame, and a unix datagram socket
		// whose receiver restarted must connect to the new one.
		if s.network != "udp" {
			s.conn.Close()
			s.conn = nil
		}
		return fmt.Errorf("syslog: %w", err)
	}
	return nil
}

// Close closes the connection.
func (s *Syslog) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}
