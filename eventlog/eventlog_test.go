package eventlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// memSink records what it is given; block, when set, holds every Write.
type memSink struct {
	name   string
	mu     sync.Mutex
	recs   []string
	block  chan struct{}
	fail   bool
	closed bool
}

func (m *memSink) Name() string { return m.name }
func (m *memSink) Write(rec []byte) error {
	if m.block != nil {
		<-m.block
	}
	if m.fail {
		return errors.New("refused")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs = append(m.recs, string(rec))
	return nil
}
func (m *memSink) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}
func (m *memSink) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}
func (m *memSink) got() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.recs...)
}

func TestMuxFansOutInOrder(t *testing.T) {
	a, b := &memSink{name: "a"}, &memSink{name: "b"}
	m := NewMux(16, a, b)
	for i := range 10 {
		fmt.Fprintf(m, "{\"n\":%d}\n", i)
	}
	if err := m.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*memSink{a, b} {
		got := s.got()
		if len(got) != 10 {
			t.Fatalf("%s got %d records, want 10", s.name, len(got))
		}
		for i, r := range got {
			if want := fmt.Sprintf("{\"n\":%d}\n", i); r != want {
				t.Errorf("%s record %d = %q, want %q", s.name, i, r, want)
			}
		}
	}
	for _, st := range m.Stats() {
		if st.Written != 10 || st.Dropped != 0 || st.Failed != 0 {
			t.Errorf("stats %+v, want 10 written", st)
		}
	}
}

// TestMuxReplace: a reload that changes the sinks keeps the one whose name
// is unchanged (its queue, counters and order), starts the new one, and
// lets the dropped one deliver its backlog before it closes.
func TestMuxReplace(t *testing.T) {
	file, oldSyslog := &memSink{name: "/var/log/conduit.log"}, &memSink{name: "syslog:udp://a:514"}
	m := NewMux(16, file, oldSyslog)
	fmt.Fprintln(m, `{"n":1}`)
	again, newSyslog := &memSink{name: "/var/log/conduit.log"}, &memSink{name: "syslog:udp://b:514"}
	m.Replace(time.Second, again, newSyslog)
	fmt.Fprintln(m, `{"n":2}`)
	if err := m.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for !oldSyslog.isClosed() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range []struct {
		s      *memSink
		want   int
		closed bool
	}{{file, 2, true}, {oldSyslog, 1, true}, {newSyslog, 1, true}, {again, 0, true}} {
		if got := c.s.got(); len(got) != c.want || c.s.isClosed() != c.closed {
			t.Errorf("%s: %q closed %v; want %d records, closed %v", c.s.name, got, c.s.isClosed(), c.want, c.closed)
		}
	}
	if got := file.got(); len(got) == 2 && (got[0] != "{\"n\":1}\n" || got[1] != "{\"n\":2}\n") {
		t.Errorf("kept sink out of order: %q", got)
	}
	var names []string
	for _, st := range m.Stats() {
		names = append(names, st.Name)
	}
	if strings.Join(names, " ") != "/var/log/conduit.log syslog:udp://b:514" {
		t.Errorf("stats name the sinks %v", names)
	}
}

// A stalled sink loses records, counted, without holding up Write or the
// other sink.
func TestMuxStalledSinkCountsDrops(t *testing.T) {
	slow := &memSink{name: "slow", block: make(chan struct{})}
	fast := &memSink{name: "fast"}
	m := NewMux(4, slow, fast)
	const n = 100
	done := make(chan struct{})
	go func() {
		for i := range n {
			fmt.Fprintf(m, "r%d\n", i)
			// Let the fast sink keep up with its queue of 4.
			for len(fast.got()) < i+1 && i < n {
				time.Sleep(time.Microsecond)
			}
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Write blocked behind a stalled sink")
	}
	close(slow.block)
	if err := m.Close(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	st := m.Stats()
	if st[1].Written != n || st[1].Dropped != 0 {
		t.Errorf("fast sink %+v, want all %d written", st[1], n)
	}
	// The slow sink held one record in Write and 4 in its queue.
	if st[0].Written+st[0].Dropped != n || st[0].Dropped < n-5 {
		t.Errorf("slow sink %+v: want written+dropped = %d and at least %d dropped", st[0], n, n-5)
	}
	if got := len(slow.got()); uint64(got) != st[0].Written {
		t.Errorf("slow sink has %d records, stats say %d", got, st[0].Written)
	}
}

func TestMuxCountsFailuresAndWritesAfterClose(t *testing.T) {
	bad := &memSink{name: "bad", fail: true}
	m := NewMux(8, bad)
	io.WriteString(m, "x\n")
	io.WriteString(m, "y\n")
	m.Close(time.Second)
	io.WriteString(m, "late\n")
	st := m.Stats()[0]
	if st.Failed != 2 || st.Dropped != 1 || st.Written != 0 {
		t.Errorf("stats %+v, want 2 failed, 1 dropped", st)
	}
	if e := m.LastError()["bad"]; e != "refused" {
		t.Errorf("last error %q", e)
	}
}

func TestFileReopen(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "conduit.log")
	f, err := OpenFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMux(8, f)
	io.WriteString(m, "one\n")
	waitWritten(t, m, 1)
	// logrotate: move the file away, then signal.
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	io.WriteString(m, "two\n")
	waitWritten(t, m, 2)
	if err := m.Reopen(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(m, "three\n")
	if err := m.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path + ".1")
	cur, _ := os.ReadFile(path)
	if string(old) != "one\ntwo\n" || string(cur) != "three\n" {
		t.Errorf("rotated file %q, new file %q; want one,two then three", old, cur)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("new log file mode %v (%v), want 0640", fi.Mode().Perm(), err)
	}
	if f.Name() != "file:"+path {
		t.Errorf("name %q", f.Name())
	}
}

func TestFileStdout(t *testing.T) {
	var b bytes.Buffer
	f, err := OpenFile("-", &b)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name() != "stdout" || f.Reopen() != nil {
		t.Fatal("stdout sink: wrong name or Reopen failed")
	}
	f.Write([]byte("a\n"))
	f.Close()
	if b.String() != "a\n" {
		t.Errorf("got %q", b.String())
	}
}

func waitWritten(t *testing.T, m *Mux, n uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for m.Stats()[0].Written < n {
		if time.Now().After(deadline) {
			t.Fatalf("sink wrote %d of %d records", m.Stats()[0].Written, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// rfc5424 matches HEADER SP STRUCTURED-DATA SP MSG with the NILVALUE for
// structured data, as this package writes it.
var rfc5424 = regexp.MustCompile(`^<([0-9]{1,3})>1 (\S+) (\S{1,255}) (\S{1,48}) (\S{1,128}) (\S{1,32}) - (.*)$`)

// parse5424 checks one message and returns its PRI, time, MSGID and MSG.
func parse5424(t *testing.T, msg string) (pri int, ts time.Time, msgid, body string) {
	t.Helper()
	m := rfc5424.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("not an RFC 5424 message: %q", msg)
	}
	pri, _ = strconv.Atoi(m[1])
	if pri > 191 {
		t.Errorf("PRI %d out of range", pri)
	}
	ts, err := time.Parse(time.RFC3339Nano, m[2])
	if err != nil {
		t.Errorf("TIMESTAMP %q: %v", m[2], err)
	}
	if frac := strings.SplitN(strings.SplitN(m[2], ".", 2)[1], "Z", 2)[0]; len(frac) > 6 {
		t.Errorf("TIMESTAMP %q has more than 6 fractional digits", m[2])
	}
	return pri, ts, m[6], m[7]
}

func TestFormat(t *testing.T) {
	h := header{facility: 16, host: "fw1", app: "conduit", procID: "42"}
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		rec       string
		want      string
		wantMsgID string
	}{
		{`{"time":"2024-05-06T07:08:09.123456789+02:00","level":"WARN","msg":"verdict","event":"verdict","rule":"default"}` + "\n",
			`<132>1 2024-05-06T05:08:09.123456Z fw1 conduit 42 verdict - {"time":"2024-05-06T07:08:09.123456789+02:00","level":"WARN","msg":"verdict","event":"verdict","rule":"default"}`, "verdict"},
		{`{"time":"2024-05-06T07:08:09Z","level":"INFO","msg":"conduit started"}`,
			`<134>1 2024-05-06T07:08:09.000000Z fw1 conduit 42 - - {"time":"2024-05-06T07:08:09Z","level":"INFO","msg":"conduit started"}`, "-"},
		{`{"level":"ERROR","msg":"x","event":"engine panic with spaces and more than thirty-two characters"}`,
			`<131>1 2030-01-02T03:04:05.000000Z fw1 conduit 42 engine_panic_with_spaces_and_mor - {"level":"ERROR","msg":"x","event":"engine panic with spaces and more than thirty-two characters"}`, "engine_panic_with_spaces_and_mor"},
		{`{"level":"DEBUG+2","msg":"odd","msg2":"a\"event\":\"b"}`,
			`<133>1 2030-01-02T03:04:05.000000Z fw1 conduit 42 - - {"level":"DEBUG+2","msg":"odd","msg2":"a\"event\":\"b"}`, "-"},
	}
	for _, c := range cases {
		got := string(h.format(nil, []byte(c.rec), now))
		if got != c.want {
			t.Errorf("format(%s)\n got %s\nwant %s", c.rec, got, c.want)
		}
		_, _, msgid, body := parse5424(t, got)
		if msgid != c.wantMsgID || body != strings.TrimRight(c.rec, "\n") {
			t.Errorf("parsed msgid %q body %q", msgid, body)
		}
	}
}

func FuzzFormat(f *testing.F) {
	f.Add([]byte(`{"time":"2024-05-06T07:08:09.1Z","level":"INFO","msg":"m","event":"flow_end"}`))
	f.Add([]byte(`{"event":"`))
	f.Add([]byte("\xff\x00\"level\":\"WARN"))
	h := header{facility: 23, host: "h", app: "a", procID: "1"}
	f.Fuzz(func(t *testing.T, rec []byte) {
		if bytes.ContainsAny(rec, "\n\r") {
			return // records are single lines
		}
		out := h.format(nil, rec, time.Unix(0, 0))
		m := rfc5424.FindSubmatch(out)
		if m == nil {
			t.Fatalf("not RFC 5424: %q", out)
		}
		if !bytes.Equal(m[7], rec) {
			t.Fatalf("MSG %q, want the record %q", m[7], rec)
		}
	})
}

// logger is a slog JSON logger writing through a Mux to s.
func logger(s Sink) (*slog.Logger, *Mux) {
	m := NewMux(64, s)
	return slog.New(slog.NewJSONHandler(m, nil)), m
}

func TestSyslogUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s, err := NewSyslog("udp://"+pc.LocalAddr().String()+"?facility=local3", SyslogOptions{Hostname: "fw 1"})
	if err != nil {
		t.Fatal(err)
	}
	log, m := logger(s)
	log.Warn("verdict", "event", "verdict", "rule", "default", "src", "10.0.0.1")
	log.Info("conduit started", "event", "start")
	buf := make([]byte, 65536)
	want := []struct {
		pri   int
		msgid string
	}{{19*8 + 4, "verdict"}, {19*8 + 6, "start"}}
	for _, w := range want {
		pc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		pri, ts, msgid, body := parse5424(t, string(buf[:n]))
		if pri != w.pri || msgid != w.msgid {
			t.Errorf("PRI %d MSGID %q, want %d %q: %q", pri, msgid, w.pri, w.msgid, buf[:n])
		}
		if time.Since(ts) > time.Minute || time.Since(ts) < 0 {
			t.Errorf("timestamp %v is not now", ts)
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(body), &v); err != nil || v["event"] != w.msgid {
			t.Errorf("MSG is not the JSON record: %q (%v)", body, err)
		}
		if !strings.Contains(string(buf[:n]), " fw_1 conduit "+strconv.Itoa(os.Getpid())+" ") {
			t.Errorf("header lacks hostname, app and pid: %q", buf[:n])
		}
	}
	m.Close(time.Second)
	if st := m.Stats()[0]; st.Written != 2 || st.Name != "syslog:udp://"+pc.LocalAddr().String() {
		t.Errorf("stats %+v", st)
	}
}

// readFrames reads RFC 6587 octet-counted frames from c.
func readFrames(t *testing.T, r *bufio.Reader, n int) []string {
	t.Helper()
	var out []string
	for range n {
		lenStr, err := r.ReadString(' ')
		if err != nil {
			t.Fatalf("frame length: %v", err)
		}
		l, err := strconv.Atoi(strings.TrimSuffix(lenStr, " "))
		if err != nil || l <= 0 {
			t.Fatalf("bad frame length %q", lenStr)
		}
		b := make([]byte, l)
		if _, err := io.ReadFull(r, b); err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func TestSyslogTCPFramingAndReconnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	s, err := NewSyslog("tcp://"+addr, SyslogOptions{Backoff: 50 * time.Millisecond, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs := []string{`{"level":"INFO","msg":"a","event":"flow_end"}`, `{"level":"ERROR","msg":"b ü","event":"engine-panic"}`}
	for _, r := range recs {
		if err := s.Write([]byte(r + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	frames := readFrames(t, bufio.NewReader(c), 2)
	for i, f := range frames {
		pri, _, _, body := parse5424(t, f)
		if body != recs[i] {
			t.Errorf("frame %d body %q, want %q", i, body, recs[i])
		}
		if want := []int{16*8 + 6, 16*8 + 3}[i]; pri != want {
			t.Errorf("frame %d PRI %d, want %d", i, pri, want)
		}
	}

	// The receiver goes away: writes fail (counted by the Mux), then the
	// sink reconnects to a receiver on the same address.
	c.Close()
	ln.Close()
	failed := 0
	for i := 0; i < 50 && failed == 0; i++ {
		if s.Write([]byte(`{"msg":"lost"}`+"\n")) != nil {
			failed++
		}
		time.Sleep(10 * time.Millisecond)
	}
	if failed == 0 {
		t.Fatal("writes to a closed receiver never failed")
	}
	if err := s.Write([]byte(`{"msg":"soon"}` + "\n")); !errors.Is(err, ErrDown) {
		t.Errorf("write right after a failure: %v, want ErrDown (backoff)", err)
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	defer ln.Close()
	time.Sleep(60 * time.Millisecond)
	if err := s.Write([]byte(`{"msg":"back","event":"reload"}` + "\n")); err != nil {
		t.Fatalf("write after the receiver came back: %v", err)
	}
	c, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, _, msgid, _ := parse5424(t, readFrames(t, bufio.NewReader(c), 1)[0]); msgid != "reload" {
		t.Errorf("msgid %q after reconnect", msgid)
	}
}

func TestSyslogUnixgram(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.sock")
	pc, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	s, err := NewSyslog("unix://"+path, SyslogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Write([]byte(`{"level":"INFO","msg":"m","event":"start"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	pc.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, msgid, _ := parse5424(t, string(buf[:n])); msgid != "start" {
		t.Errorf("msgid %q", msgid)
	}
}

func TestNewSyslogRefuses(t *testing.T) {
	for _, target := range []string{"udp://127.0.0.1", "http://x:1", "unix://", "udp://h:1?facility=local9", "udp://h:1?facility=99", "%zz"} {
		if _, err := NewSyslog(target, SyslogOptions{}); err == nil {
			t.Errorf("NewSyslog(%q) accepted", target)
		}
	}
	s, err := NewSyslog("udp://h:1?facility=7", SyslogOptions{})
	if err != nil || s.hdr.facility != 7 {
		t.Errorf("numeric facility: %v %+v", err, s)
	}
}
