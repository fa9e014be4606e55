package eventlog

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// writeTimeout bounds one write where the descriptor supports deadlines
// (pipes and sockets opened non-blocking); regular files do not need one.
const writeTimeout = 2 * time.Second

// File writes records to stdout ("-" or "") or appends them to a file.
type File struct {
	path string
	mu   sync.Mutex // Write against Reopen
	w    io.Writer
	f    *os.File // nil for a caller's writer
}

// OpenFile opens path for appending (mode 0640), or uses stdout for "-"
// and "".
func OpenFile(path string, stdout io.Writer) (*File, error) {
	if path == "" || path == "-" {
		s := &File{path: "-", w: stdout}
		if f, ok := stdout.(*os.File); ok {
			s.f = f
		}
		return s, nil
	}
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	return &File{path: path, w: f, f: f}, nil
}

func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log file: %w", err)
	}
	return f, nil
}

// Name is "stdout" or "file:PATH".
func (s *File) Name() string {
	if s.path == "-" {
		return "stdout"
	}
	return "file:" + s.path
}

// Write appends one record.
func (s *File) Write(rec []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		// Ignored where unsupported (a regular file, a blocking pipe).
		_ = s.f.SetWriteDeadline(time.Now().Add(writeTimeout))
	}
	_, err := s.w.Write(rec)
	return err
}

// Reopen opens the path anew, so that after logrotate moved the file away
// the log continues in a fresh one. A no-op for stdout.
func (s *File) Reopen() error {
	if s.path == "-" {
		return nil
	}
	f, err := openAppend(s.path)
	if err != nil {
		return err
	}
	s.mu.Lock()
	old := s.f
	s.w, s.f = f, f
	s.mu.Unlock()
	return old.Close()
}

// Close closes the file; stdout stays open.
func (s *File) Close() error {
	if s.path == "-" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}
