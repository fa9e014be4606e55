package learn

import (
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/proto/modbus/modbustest"
)

// polls is a Modbus/TCP session of n polls every period, each answered
// after rtt; stallAt > 0 loses the request of that poll: the client
// resends it after stall, and the poll ends late.
func polls(n int, period, rtt time.Duration, stallAt int, stall time.Duration) []tp {
	const hmi, plc = "10.20.0.10", "10.10.0.10"
	req := func(tid uint16) []byte { return modbustest.Request(tid, 1, 3, 0, 10) }
	resp := func(tid uint16) []byte { return modbustest.ADU(tid, 1, append([]byte{3, 20}, make([]byte, 20)...)) }
	ps := []tp{
		{at: 0, proto: tcp, src: hmi, dst: plc, sport: 40000, dport: 502, flags: fS, seq: 99},
		{at: time.Millisecond, proto: tcp, src: plc, dst: hmi, sport: 502, dport: 40000, flags: fS | fA, seq: 499, ack: 100},
		{at: 2 * time.Millisecond, proto: tcp, src: hmi, dst: plc, sport: 40000, dport: 502, flags: fA, seq: 100, ack: 500},
	}
	cseq, sseq := uint32(100), uint32(500)
	shift := time.Duration(0)
	for i := range n {
		at := time.Second + time.Duration(i)*period + shift
		q := tp{at: at, proto: tcp, src: hmi, dst: plc, sport: 40000, dport: 502, flags: fP | fA, seq: cseq, ack: sseq, payload: req(uint16(i))}
		ps = append(ps, q)
		if i == stallAt && stall > 0 {
			q.at += stall // the first went nowhere: resent, same sequence
			ps = append(ps, q)
			shift += stall
			at += stall
		}
		ps = append(ps, tp{at: at + rtt, proto: tcp, src: plc, dst: hmi, sport: 502, dport: 40000, flags: fP | fA, seq: sseq, ack: cseq + 12, payload: resp(uint16(i))})
		cseq += 12
		sseq += 29
	}
	return ps
}

func TestHealthFigures(t *testing.T) {
	m := learnAll(polls(20, time.Second, 2*time.Millisecond, 10, 7*time.Second))
	var h *Health
	for _, s := range m.Services() {
		if s.Port == 502 {
			h = s.Health
		}
	}
	if h == nil {
		t.Fatal("no health for the Modbus service")
	}
	if h.Requests != 20 || h.Replies != 20 || h.Retransmissions != 1 || h.Resets != 0 {
		t.Errorf("requests %d replies %d retransmissions %d resets %d; want 20 20 1 0", h.Requests, h.Replies, h.Retransmissions, h.Resets)
	}
	if p := h.Periods.Quantile(0.5); p != time.Second {
		t.Errorf("period p50 %v, want 1s", p)
	}
	if r := h.Responses.Quantile(0.5); r != 2*time.Millisecond {
		t.Errorf("response p50 %v, want 2ms", r)
	}
	if s := h.Stall; s.Gap != 7*time.Second || !s.Retransmitted || s.ClientPort != 40000 {
		t.Errorf("stall %+v, want 7s ended by a retransmission on port 40000", s)
	}
	if h.Lifetimes.Count() != 1 {
		t.Errorf("%d lifetimes, want 1", h.Lifetimes.Count())
	}
}

func TestDiffHealth(t *testing.T) {
	before := learnAll(polls(30, time.Second, 2*time.Millisecond, -1, 0))
	for _, c := range []struct {
		name  string
		after []tp
		want  []string // figures flagged, in order
		text  []string
	}{
		{"same", polls(30, time.Second, 2*time.Millisecond, -1, 0), nil, nil},
		{"slight drift", polls(30, 1010*time.Millisecond, 2500*time.Microsecond, -1, 0), nil, nil},
		{"stall with a retransmission", polls(30, time.Second, 2*time.Millisecond, 12, 7*time.Second),
			[]string{"retransmissions", "stall"}, []string{"retransmissions 0.0 -> 15.6 per 1,000 packets (0 -> 1)", "stall: a 7s silence in flow 10.20.0.10:40000 -> 10.10.0.10:502", "then a retransmission"}},
		{"slower answers", polls(30, time.Second, 40*time.Millisecond, -1, 0),
			[]string{"response_p50", "response_p95"}, []string{"request->response p50 2ms -> 40ms"}},
		{"slower polling", polls(30, 2*time.Second, 2*time.Millisecond, -1, 0),
			[]string{"period"}, []string{"polling period 1s -> 2s"}},
	} {
		am := learnAll(c.after)
		ch := Diff(before, am, InferZones(before, nil, am))
		var figs []string
		why := ""
		for _, x := range ch {
			if x.Kind != Changed {
				t.Errorf("%s: unexpected %s change: %s", c.name, x.Kind, x.Why)
				continue
			}
			why += x.Why
			for _, f := range x.Health {
				figs = append(figs, f.Figure)
			}
		}
		if strings.Join(figs, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: flagged %v, want %v (%s)", c.name, figs, c.want, why)
		}
		for _, s := range c.text {
			if !strings.Contains(why, s) {
				t.Errorf("%s: %q lacks %q", c.name, why, s)
			}
		}
	}
}

// TestCycleIgnoresBursts: a client that sends two requests back to back
// every second polls every second, whatever the count parity.
func TestCycleIgnoresBursts(t *testing.T) {
	for _, n := range []int{20, 21} {
		var s sample
		for i := range n {
			if i%2 == 0 {
				s.add(int64(300 * time.Microsecond))
			} else {
				s.add(int64(time.Second))
			}
		}
		if got := s.Cycle().Quantile(0.5); got != time.Second {
			t.Errorf("%d intervals: cycle %v, want 1s", n, got)
		}
		if j := s.Cycle().Jitter(); j != 0 {
			t.Errorf("%d intervals: jitter %v, want 0", n, j)
		}
	}
}

// TestLabelSaysWhenPayloadDoesNotParse: plain text on tcp/20000 is not
// DNP3, and the matrix says so.
func TestLabelSaysWhenPayloadDoesNotParse(t *testing.T) {
	const c, s = "10.20.0.10", "10.10.0.10"
	ps := []tp{
		{at: 0, proto: tcp, src: c, dst: s, sport: 40000, dport: 20000, flags: fS, seq: 99},
		{at: time.Millisecond, proto: tcp, src: s, dst: c, sport: 20000, dport: 40000, flags: fS | fA, seq: 499, ack: 100},
		{at: 2 * time.Millisecond, proto: tcp, src: c, dst: s, sport: 40000, dport: 20000, flags: fA, seq: 100, ack: 500},
		{at: 3 * time.Millisecond, proto: tcp, src: c, dst: s, sport: 40000, dport: 20000, flags: fP | fA, seq: 100, ack: 500,
			payload: []byte("GET / HTTP/1.0\r\n\r\n")},
	}
	m := learnAll(ps)
	rows := Rows(m, InferZones(m, nil))
	if len(rows) != 1 || rows[0].Service != "dnp3 (does not parse)" || len(rows[0].Unparsed) == 0 {
		t.Errorf("rows %+v", rows)
	}
}
