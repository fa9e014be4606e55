package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
)

// Line is one JSON line the daemon wrote.
type Line struct {
	Raw string
	M   map[string]any
}

// Str is field k as text ("" when absent).
func (l Line) Str(k string) string {
	switch v := l.M[k].(type) {
	case string:
		return v
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// Num is the number in field k, -1 when it is not a number.
func (l Line) Num(k string) int {
	if v, ok := l.M[k].(float64); ok {
		return int(v)
	}
	return -1
}

// Event is the line's event field.
func (l Line) Event() string { return l.Str("event") }

// IsEvent returns a match for the lines of event ev.
func IsEvent(ev string) func(Line) bool {
	return func(l Line) bool { return l.Event() == ev }
}

// LogSink collects a process's stdout as JSON lines that tests wait on.
type LogSink struct {
	mu      sync.Mutex
	partial []byte
	lines   []Line
	bad     []string // lines that are not JSON
	changed chan struct{}
}

// NewLogSink returns an empty sink.
func NewLogSink() *LogSink { return &LogSink{changed: make(chan struct{})} }

func (s *LogSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		raw := string(s.partial[:i])
		s.partial = s.partial[i+1:]
		var m map[string]any
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			s.bad = append(s.bad, raw)
			continue
		}
		s.lines = append(s.lines, Line{Raw: raw, M: m})
		added = true
	}
	if added {
		close(s.changed)
		s.changed = make(chan struct{})
	}
	return len(p), nil
}

// Since returns the lines from index from on, and a channel closed when
// more arrive.
func (s *LogSink) Since(from int) ([]Line, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Line(nil), s.lines[min(from, len(s.lines)):]...), s.changed
}

// Len is the number of lines so far.
func (s *LogSink) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lines)
}

// Bad returns the lines that were not JSON.
func (s *LogSink) Bad() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bad...)
}

// SyncBuffer is a bytes.Buffer safe to read while a process writes it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
