package control

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

type echoArgs struct {
	Word string `json:"word"`
}

func serve(t *testing.T, path string) *Server {
	t.Helper()
	s, err := Listen(path, map[string]Handler{
		"echo": func(_ context.Context, raw json.RawMessage) (any, error) {
			var a echoArgs
			if len(raw) > 0 {
				if err := json.Unmarshal(raw, &a); err != nil {
					return nil, err
				}
			}
			return map[string]string{"said": a.Word}, nil
		},
		"fail":  func(context.Context, json.RawMessage) (any, error) { return nil, errors.New("it broke") },
		"panic": func(context.Context, json.RawMessage) (any, error) { panic("boom") },
	}, discard)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	t.Cleanup(func() { s.Close() })
	return s
}

func TestCallAndErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.sock")
	serve(t, path)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}
	ctx := context.Background()
	var got map[string]string
	if err := Call(ctx, path, "echo", echoArgs{Word: "hi"}, &got); err != nil || got["said"] != "hi" {
		t.Errorf("echo: %v %v", got, err)
	}
	if err := Call(ctx, path, "echo", nil, &got); err != nil || got["said"] != "" {
		t.Errorf("echo without args: %v %v", got, err)
	}
	// The daemon's refusal is its message as it is (the client says which
	// command), and says which command it answers.
	for cmd, want := range map[string]string{"fail": "it broke", "panic": "internal error in panic: boom", "nope": `unknown command "nope"`} {
		err := Call(ctx, path, cmd, nil, nil)
		var ref *Refused
		if err == nil || err.Error() != want || !errors.As(err, &ref) || ref.Cmd != cmd {
			t.Errorf("%s: error %v, want %q", cmd, err, want)
		}
	}
	err = Call(ctx, filepath.Join(t.TempDir(), "none.sock"), "echo", nil, nil)
	if !errors.Is(err, ErrUnavailable) {
		t.Errorf("missing socket: %v, want ErrUnavailable", err)
	}
}

func TestBadRequest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.sock")
	serve(t, path)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "not json\n")
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		t.Fatal(err)
	}
	if resp.OK || !strings.HasPrefix(resp.Error, "bad request") {
		t.Errorf("response %+v", resp)
	}
}

func TestListenStaleLiveAndNotASocket(t *testing.T) {
	dir := t.TempDir()
	// A stale socket: bound, then its owner went away without unlinking.
	stale := filepath.Join(dir, "stale.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	s := serve(t, stale)
	if err := Call(context.Background(), stale, "echo", nil, nil); err != nil {
		t.Errorf("after replacing a stale socket: %v", err)
	}

	// A live one is left alone.
	if _, err := Listen(stale, nil, discard); !errors.Is(err, ErrInUse) {
		t.Errorf("second Listen on a live socket: %v, want ErrInUse", err)
	}
	// A regular file is never removed.
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	if _, err := Listen(file, nil, discard); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen over a file: %v", err)
	}
	if _, err := os.Stat(file); err != nil {
		t.Errorf("the file was removed: %v", err)
	}

	// Close unlinks the socket.
	s.Close()
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket still there after Close: %v", err)
	}
}

func TestCallHonoursContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "slow.sock")
	block := make(chan struct{})
	s, err := Listen(path, map[string]Handler{"slow": func(ctx context.Context, _ json.RawMessage) (any, error) {
		<-block
		return nil, nil
	}}, discard)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	defer s.Close()
	defer close(block)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := Call(ctx, path, "slow", nil, nil); err == nil {
		t.Error("a call past its deadline succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("call took %v despite a 100ms deadline", d)
	}
}
