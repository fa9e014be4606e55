package replay

import (
	"fmt"
	"testing"
	"time"
)

// Two captures of different dates, each with a Modbus/TCP session and an
// NTP exchange that falls silent for 11 minutes (past the 10-minute UDP
// default), so that its late datagram is a new flow, denied in enforce.
var (
	day2019 = time.Date(2019, 5, 1, 10, 0, 0, 0, time.UTC)
	day2024 = time.Date(2024, 9, 1, 8, 0, 0, 0, time.UTC)
)

func eraCapture(t *testing.T, start time.Time, sport uint16) string {
	const s, ack, psh = 0x02, 0x10, 0x08
	return writeCaptureAt(t, start.UnixNano(), []pkt{
		{at: 0, proto: 6, src: 1, dst: 2, sport: sport, dport: 502, flags: s},
		{at: time.Millisecond, proto: 6, src: 2, dst: 1, sport: 502, dport: sport, flags: s | ack},
		{at: 2 * time.Millisecond, proto: 6, src: 1, dst: 2, sport: sport, dport: 502, flags: ack},
		{at: 10 * time.Second, proto: 6, src: 1, dst: 2, sport: sport, dport: 502, flags: psh | ack},
		{at: 20 * time.Second, proto: 17, src: 1, dst: 2, sport: sport, dport: 123},
		{at: 20*time.Second + time.Millisecond, proto: 17, src: 2, dst: 1, sport: 123, dport: sport},
		{at: 11*time.Minute + 20*time.Second, proto: 17, src: 2, dst: 1, sport: 123, dport: sport},
	})
}

// TestErasReportOwnTimestamps replays captures from 2019 and 2024 in date
// order and in reverse. Conntrack timing is each capture's own in both
// orders (the late NTP datagram is denied each time, as it would have
// been live); first_hit and last_hit and the time of each event line are
// the packets' own timestamps, not the replay's shifted clock.
func TestErasReportOwnTimestamps(t *testing.T) {
	old, recent := eraCapture(t, day2019, 40000), eraCapture(t, day2024, 50000)
	at := func(day time.Time, d time.Duration) time.Time { return day.Add(d) }
	for _, tc := range []struct {
		name  string
		paths []string
		// first_hit of the rules hit in both: with 2019 replayed second,
		// the engine does not tell a rule's first hit there from its later
		// ones, and first_hit is the last of them (hits.go).
		modbusFirst, ntpFirst time.Time
	}{
		{"2019 then 2024", []string{old, recent}, day2019, at(day2019, 20*time.Second)},
		{"2024 then 2019", []string{recent, old}, at(day2019, 10*time.Second), at(day2019, 20*time.Second+time.Millisecond)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, lines, errs := run(t, policy(t, fmt.Sprintf(clockPolicy, "")), tc.paths...)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if res.Verdicts.Drop != 2 || res.Flows != 4 {
				t.Errorf("%d drops and %d flows, want 2 late NTP datagrams dropped and 4 flows: %+v", res.Verdicts.Drop, res.Flows, res)
			}
			want := map[string][2]time.Time{
				"ntp":     {tc.ntpFirst, at(day2024, 20*time.Second+time.Millisecond)},
				"modbus":  {tc.modbusFirst, at(day2024, 10*time.Second)},
				"default": {at(day2019, 11*time.Minute+20*time.Second), at(day2024, 11*time.Minute+20*time.Second)},
			}
			for _, h := range res.Rules {
				w := want[h.Name]
				if h.FirstHit == nil || h.LastHit == nil || !h.FirstHit.Equal(w[0]) || !h.LastHit.Equal(w[1]) {
					t.Errorf("rule %s: first_hit %v last_hit %v, want %v %v", h.Name, h.FirstHit, h.LastHit, w[0], w[1])
				}
			}
			// Every event line is stamped in its own capture's time: a
			// verdict at its packet, a flow's end at its last packet plus
			// the idle time that ended it.
			for _, l := range lines {
				ts, err := time.Parse(time.RFC3339Nano, fmt.Sprint(l["time"]))
				if err != nil {
					t.Fatalf("event line time: %v", l)
				}
				if idle, ok := l["idle"].(float64); ok {
					ts = ts.Add(-time.Duration(idle))
				}
				day := day2024
				if l["sport"] == 40000.0 || l["dport"] == 40000.0 {
					day = day2019
				}
				if ts.Before(day) || ts.After(day.Add(time.Hour)) {
					t.Errorf("%s line at %v (less idle), want on %v: %v", l["event"], ts, day.Format(time.DateOnly), l)
				}
			}
			if n := countEvents(lines, "verdict"); n < 6 {
				t.Errorf("%d verdict lines, want one per flow and per dropped datagram", n)
			}
		})
	}
}

func TestClockEras(t *testing.T) {
	const h = int64(time.Hour)
	var c clock
	steps := []struct {
		begin   int64 // a capture's first timestamp, or 0 to tick within one
		ts      int64
		newEra  bool
		engine  int64
		ownBack int64
	}{
		{begin: 10 * h, ts: 10 * h, newEra: true, engine: 10 * h, ownBack: 10 * h},
		{ts: 11 * h, engine: 11 * h, ownBack: 11 * h},
		{ts: 10*h + 1, engine: 11 * h, ownBack: 11 * h}, // out of order: taken as the latest
		// An earlier capture runs shifted to just after the last.
		{begin: 2 * h, ts: 2 * h, newEra: true, engine: 11*h + 1, ownBack: 2 * h},
		{ts: 3 * h, engine: 12*h + 1, ownBack: 3 * h},
		// Its continuation stays in its era, gap and all.
		{begin: 4 * h, ts: 4 * h, newEra: false, engine: 13*h + 1, ownBack: 4 * h},
		// A capture dated after everything runs unshifted again.
		{begin: 20 * h, ts: 20 * h, newEra: true, engine: 20 * h, ownBack: 20 * h},
	}
	for i, s := range steps {
		if s.begin != 0 {
			if got := c.begin(s.begin); got != s.newEra {
				t.Fatalf("step %d: begin(%d) new era %v, want %v", i, s.begin/h, got, s.newEra)
			}
		}
		if got := c.tick(s.ts); got != s.engine {
			t.Fatalf("step %d: tick = %v, want %v", i, time.Duration(got), time.Duration(s.engine))
		}
		if got := c.own(s.engine); got != s.ownBack {
			t.Fatalf("step %d: own = %v, want %v", i, time.Duration(got), time.Duration(s.ownBack))
		}
	}
	// Earlier engine times still map back through their own era.
	for engine, own := range map[int64]int64{10 * h: 10 * h, 11 * h: 11 * h, 11*h + 1: 2 * h, 13*h + 1: 4 * h} {
		if got := c.own(engine); got != own {
			t.Errorf("own(%v) = %v, want %v", time.Duration(engine), time.Duration(got), time.Duration(own))
		}
	}
}
