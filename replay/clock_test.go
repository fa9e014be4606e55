package replay

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/capture/synth"
)

// pkt is one raw IPv4 packet of a test capture.
type pkt struct {
	at    time.Duration // from the capture start
	proto uint8
	src   byte // 10.0.0.src
	dst   byte
	sport uint16
	dport uint16
	flags uint8 // TCP
}

const t0 = int64(1_700_000_000_000_000_000)

func (p pkt) bytes() []byte {
	l4 := 8
	if p.proto == 6 {
		l4 = 20
	}
	b := make([]byte, 20+l4)
	b[0] = 0x45
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	b[8], b[9] = 64, p.proto
	copy(b[12:], []byte{10, 0, 0, p.src})
	copy(b[16:], []byte{10, 0, 0, p.dst})
	binary.BigEndian.PutUint16(b[20:], p.sport)
	binary.BigEndian.PutUint16(b[22:], p.dport)
	if p.proto == 6 {
		b[32] = 5 << 4
		b[33] = p.flags
	} else {
		binary.BigEndian.PutUint16(b[24:], 8)
	}
	return b
}

// writeCapture writes pkts as a raw-IP pcap starting at t0 and returns its path.
func writeCapture(t testing.TB, pkts []pkt) string {
	t.Helper()
	return writeCaptureAt(t, t0, pkts)
}

// writeCaptureAt writes pkts as a raw-IP pcap starting at start (ns).
func writeCaptureAt(t testing.TB, start int64, pkts []pkt) string {
	t.Helper()
	frames := make([]frame, len(pkts))
	for i, p := range pkts {
		frames[i] = frame{start + int64(p.at), p.bytes()}
	}
	return writePcap(t, "test.pcap", capture.LinkRaw, frames)
}

// frame is one record of a test capture: its time (Unix ns) and bytes.
type frame struct {
	at int64
	b  []byte
}

// writePcap writes frames as a pcap of link type link, called name, in
// the test's directory, and returns its path.
func writePcap(t testing.TB, name string, link capture.LinkType, frames []frame) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w, err := capture.NewWriter(out, link)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range frames {
		if err := w.WriteFrame(f.at, f.b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

const clockPolicy = `mode: enforce
zones:
  a: {level: 2, cidrs: [10.0.0.0/24]}
rules:
  - {name: ntp, from: 10.0.0.1, to: 10.0.0.2, proto: udp, dport: 123%s}
  - {name: modbus, from: 10.0.0.1, to: 10.0.0.2, proto: tcp, dport: 502}
default: deny
`

// TestCaptureClock: idle timeouts run on capture time. A UDP exchange
// silent for 11 minutes outlives the 10-minute default, so the server's
// next datagram is a new flow, judged on its own and denied in enforce;
// with idle_timeout 20m the flow survives and the datagram is a reply.
func TestCaptureClock(t *testing.T) {
	const s, ack, psh = 0x02, 0x10, 0x08
	path := writeCapture(t, []pkt{
		{at: 0, proto: 17, src: 1, dst: 2, sport: 40000, dport: 123},
		{at: time.Millisecond, proto: 17, src: 2, dst: 1, sport: 123, dport: 40000},
		{at: 11 * time.Minute, proto: 17, src: 2, dst: 1, sport: 123, dport: 40000},
		// A TCP session idle for 23 hours stays (tcp_established 24h).
		{at: 11 * time.Minute, proto: 6, src: 1, dst: 2, sport: 50000, dport: 502, flags: s},
		{at: 11*time.Minute + 1, proto: 6, src: 2, dst: 1, sport: 502, dport: 50000, flags: s | ack},
		{at: 11*time.Minute + 2, proto: 6, src: 1, dst: 2, sport: 50000, dport: 502, flags: ack},
		{at: 23*time.Hour + 11*time.Minute, proto: 6, src: 2, dst: 1, sport: 502, dport: 50000, flags: psh | ack},
	})
	for _, tc := range []struct {
		timeout              string
		ntpFlows, drop, flow uint64
	}{
		{"", 1, 1, 2},
		{", idle_timeout: 20m", 1, 0, 2},
	} {
		p := policy(t, fmt.Sprintf(clockPolicy, tc.timeout))
		res, lines, errs := run(t, p, path)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		if res.Rules[0].Flows != tc.ntpFlows || res.Verdicts.Drop != tc.drop || res.Flows != tc.flow || res.Rules[1].Packets != 4 {
			t.Errorf("timeout %q: %+v, rules %+v", tc.timeout, res, res.Rules)
		}
		// The UDP flow ends when a sweep finds it idle: after 11 minutes
		// with one reply, or (idle_timeout 20m) at the TCP packet 23 hours
		// on, with the late datagram counted as its second reply.
		wantEnd, wantReplies := t0+int64(11*time.Minute), 1.0
		if tc.timeout != "" {
			wantEnd, wantReplies = t0+int64(23*time.Hour+11*time.Minute), 2
		}
		ends := 0
		for _, l := range lines {
			if l["event"] == "flow_end" && l["proto"] == "udp" {
				ends++
				if l["reason"] != "idle" || l["time"] != time.Unix(0, wantEnd).UTC().Format(time.RFC3339Nano) || l["packets_reply"] != wantReplies {
					t.Errorf("timeout %q: flow_end %v", tc.timeout, l)
				}
			}
		}
		if ends != 1 {
			t.Errorf("timeout %q: %d UDP flow ends", tc.timeout, ends)
		}
	}
}

// TestClockNeverRunsBackwards: a timestamp earlier than one already seen
// does not rewind the clock, so it cannot resurrect or extend flows.
func TestClockNeverRunsBackwards(t *testing.T) {
	path := writeCapture(t, []pkt{
		{at: time.Hour, proto: 17, src: 1, dst: 2, sport: 40000, dport: 123},
		{at: 0, proto: 17, src: 2, dst: 1, sport: 123, dport: 40000},
	})
	r := New(Config{Policy: policy(t, fmt.Sprintf(clockPolicy, ""))})
	if err := r.Open(path); err != nil {
		t.Fatal(err)
	}
	res, _ := r.Result()
	if res.Verdicts.Drop != 0 || r.clock.now != t0+int64(time.Hour) {
		t.Errorf("%+v, clock %d", res, r.clock.now-t0)
	}
}

// TestEventsNeverLost: with a table of 16 flows, a capture of many flows
// evicts constantly and every eviction is a line; none may be lost.
func TestEventsNeverLost(t *testing.T) {
	var pkts []pkt
	for i := range 20000 {
		pkts = append(pkts, pkt{at: time.Duration(i) * time.Millisecond, proto: 17, src: 1, dst: 2, sport: uint16(10000 + i), dport: 123})
	}
	path := writeCapture(t, pkts)
	p := policy(t, `mode: monitor
conntrack: {capacity: 16}
zones:
  a: {level: 2, cidrs: [10.0.0.0/24]}
rules:
  - {name: ntp, from: 10.0.0.1, to: 10.0.0.2, proto: udp, dport: 123}
default: deny
`)
	res, lines, errs := run(t, p, path)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if v, e := countEvents(lines, "verdict"), countEvents(lines, "eviction"); v != 20000 || e != 20000-16 || res.Flows != 20000 {
		t.Errorf("%d verdict lines, %d evictions, %d flows; want 20000, 19984, 20000", v, e, res.Flows)
	}
}

// TestNoAllocsPerPacket: replaying does not allocate per packet (the
// reader's buffer and the table's flows are allocated once). Events are off:
// writing a line is per flow, and allocates in log/slog. Feeding the same
// capture again is a new era (clock.go) in which its flows end and begin
// again as they did the first time, and the table allocates one list entry
// per flow it inserts; beyond that, a Feed allocates a few dozen times
// whatever its length (its reader, the file record, the hit counters read
// at the era's start).
func TestNoAllocsPerPacket(t *testing.T) {
	var extra []float64
	for _, packets := range []int{25000, 50000} {
		var buf bytes.Buffer
		if _, err := synth.Write(&buf, synth.Config{Packets: packets, Seed: 2}); err != nil {
			t.Fatal(err)
		}
		p := loadPolicy(t, filepath.Join(testdata, "plant.yaml"))
		r := New(Config{Policy: p})
		// Warm up: the first flows fill the table's arena.
		rd, err := capture.NewReader(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Feed("warm", rd); err != nil {
			t.Fatal(err)
		}
		const runs = 3
		inserts := r.eng.Conntrack().Stats().Inserts
		allocs := testing.AllocsPerRun(runs, func() {
			rd, _ := capture.NewReader(bytes.NewReader(buf.Bytes()))
			if err := r.Feed("again", rd); err != nil {
				t.Fatal(err)
			}
		})
		perFeed := float64(r.eng.Conntrack().Stats().Inserts-inserts) / (runs + 1) // AllocsPerRun runs once more to warm up
		t.Logf("%d packets: %.0f allocations, %.0f flows inserted per Feed", packets, allocs, perFeed)
		extra = append(extra, allocs-perFeed)
	}
	if extra[0] > 60 || extra[1] > 60 || extra[1]-extra[0] > 5 {
		t.Errorf("allocations per Feed beyond one per flow inserted: %.0f for 25,000 packets, %.0f for 50,000", extra[0], extra[1])
	}
}
