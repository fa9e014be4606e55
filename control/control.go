// Package control is the daemon's unix control socket: one JSON request
// per connection, one JSON response back. The socket is created mode 0600,
// so only root (the daemon's user) may ask; the commands themselves
// (status, hits, flows, reload) are the caller's handlers.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// Request is what a client sends.
type Request struct {
	Cmd  string          `json:"cmd"`
	Args json.RawMessage `json:"args,omitempty"`
}

// Response is what the server answers. Error is set when the command was
// unknown or its handler failed; Result is the handler's value otherwise.
type Response struct {
	OK     bool            `json:"ok"`
	Error  string          `json:"error,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
}

// Handler answers one command; args is the request's Args (may be empty).
type Handler func(ctx context.Context, args json.RawMessage) (any, error)

// Limits of one exchange.
const (
	maxRequest  = 64 << 10
	connTimeout = 30 * time.Second
)

// Server serves a control socket.
type Server struct {
	path     string
	ln       *net.UnixListener
	handlers map[string]Handler
	log      *slog.Logger
	wg       sync.WaitGroup
	mu       sync.Mutex // orders the handlers' wg.Add before Close's Wait
	closed   bool
	ctx      context.Context
	cancel   context.CancelFunc
}

// ErrInUse means another live process serves the socket path.
var ErrInUse = errors.New("control socket is served by another running process")

// Listen creates the socket at path with mode 0600, replacing a stale one
// (left by a daemon that was killed) but never a live one or a file that
// is not a socket.
func Listen(path string, handlers map[string]Handler, log *slog.Logger) (*Server, error) {
	if err := clearStale(path); err != nil {
		return nil, err
	}
	// The umask makes the socket 0600 from the start; Chmod below is for
	// a umask that another goroutine changed meanwhile.
	old := syscall.Umask(0o177)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{path: path, ln: ln, handlers: handlers, log: log, ctx: ctx, cancel: cancel}, nil
}

func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("control socket %s: %w", path, err)
	}
	if fi.Mode().Type() != os.ModeSocket {
		return fmt.Errorf("control socket %s: the path exists and is not a socket", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("%s: %w", path, ErrInUse)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("control socket %s: remove the stale socket: %w", path, err)
	}
	return nil
}

// Path is the socket's path.
func (s *Server) Path() string { return s.path }

// Serve accepts connections until Close.
func (s *Server) Serve() {
	for {
		c, err := s.ln.AcceptUnix()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.log.Error("control socket accept failed; the socket is closed", "socket", s.path, "err", err)
			}
			return
		}
		s.mu.Lock()
		if s.closed { // accepted as Close began: not served
			s.mu.Unlock()
			c.Close()
			return
		}
		s.wg.Go(func() { s.handle(c) })
		s.mu.Unlock()
	}
}

// Close stops accepting, removes the socket and waits for the requests
// in progress.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	err := s.ln.Close() // unlinks the path
	s.cancel()
	s.wg.Wait()
	return err
}

func (s *Server) handle(c *net.UnixConn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(connTimeout))
	var req Request
	resp := Response{}
	if err := json.NewDecoder(io.LimitReader(c, maxRequest)).Decode(&req); err != nil {
		resp.Error = fmt.Sprintf("bad request: %v", err)
	} else if h, ok := s.handlers[req.Cmd]; !ok {
		resp.Error = fmt.Sprintf("unknown command %q", req.Cmd)
	} else {
		resp = s.call(h, req)
	}
	b, err := json.Marshal(resp)
	if err != nil {
		b, _ = json.Marshal(Response{Error: "encode response: " + err.Error()})
	}
	if _, err := c.Write(append(b, '\n')); err != nil {
		s.log.Debug("control socket: client went away", "cmd", req.Cmd, "err", err)
	}
}

// call runs a handler; a panic in it fails the request, not the daemon.
func (s *Server) call(h Handler, req Request) (resp Response) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("control command panicked", "cmd", req.Cmd, "panic", fmt.Sprint(r))
			resp = Response{Error: fmt.Sprintf("internal error in %s: %v", req.Cmd, r)}
		}
	}()
	v, err := h(s.ctx, req.Args)
	if err != nil {
		return Response{Error: err.Error()}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return Response{Error: "encode result: " + err.Error()}
	}
	return Response{OK: true, Result: b}
}

// ErrUnavailable wraps failures to reach the daemon at all.
var ErrUnavailable = errors.New("cannot reach the conduit daemon")

// Call sends cmd with args (nil for none) to the daemon at path and
// decodes its result into result (nil to discard). A failed command
// returns its error text.
func Call(ctx context.Context, path, cmd string, args, result any) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return fmt.Errorf("%w at %s: %v (is it running? is this the socket of control.socket?)", ErrUnavailable, path, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	} else {
		_ = c.SetDeadline(time.Now().Add(connTimeout))
	}
	req := Request{Cmd: cmd}
	if args != nil {
		if req.Args, err = json.Marshal(args); err != nil {
			return fmt.Errorf("encode %s arguments: %w", cmd, err)
		}
	}
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return fmt.Errorf("send %s to %s: %w", cmd, path, err)
	}
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return fmt.Errorf("read the answer to %s from %s: %w", cmd, path, err)
	}
	if !resp.OK {
		return &Refused{Cmd: cmd, Msg: resp.Error}
	}
	if result != nil {
		if err := json.Unmarshal(resp.Result, result); err != nil {
			return fmt.Errorf("decode the answer to %s: %w", cmd, err)
		}
	}
	return nil
}

// Refused is the daemon's answer that it could not do what was asked (a
// bad argument, an unknown zone): its message is meant for the operator
// as it is.
type Refused struct {
	Cmd, Msg string
}

func (e *Refused) Error() string { return e.Msg }
