package learn

import (
	"fmt"
	"time"
)

// Thresholds say how far a service's health may move between BEFORE and
// AFTER before Diff reports it. A change must pass both the relative and
// the absolute bound, so that microsecond noise on a fast poll and a
// second's drift on an hourly one are both left alone.
type Thresholds struct {
	Period       float64       // polling period (p50 of Cycle) moves by more than this fraction (0.2: 20%)
	PeriodAbs    time.Duration // ... and by more than this
	Jitter       float64       // jitter (p90-p10 of the period) grows by more than this factor
	JitterAbs    time.Duration
	Response     float64 // request->response p50 or p95 grows by more than this factor
	ResponseAbs  time.Duration
	Rate         float64       // retransmissions or resets per 1,000 packets grow by more than this factor ...
	RateAbs      float64       // ... and by more than this many per 1,000
	Lifetime     float64       // TCP session lifetime p50 shrinks below this fraction of before's
	Stall        float64       // a silence longer than this many times before's largest one ...
	StallAbs     time.Duration // ... and longer than this is a stall
	MinSamples   uint64        // figures from fewer values than this are not compared
	MinLifetimes uint64
}

// DefaultThresholds are Diff's.
var DefaultThresholds = Thresholds{
	Period: 0.2, PeriodAbs: 50 * time.Millisecond,
	Jitter: 2, JitterAbs: 20 * time.Millisecond,
	Response: 2, ResponseAbs: 10 * time.Millisecond,
	Rate: 2, RateAbs: 1,
	Lifetime: 0.5,
	Stall:    3, StallAbs: time.Second,
	MinSamples: 5, MinLifetimes: 3,
}

// Finding is one health figure that moved past its threshold.
type Finding struct {
	Figure string  `json:"figure"` // period, jitter, response_p50, response_p95, retransmissions, resets, lifetime, stall
	Before float64 `json:"before"` // seconds, or per 1,000 packets for rates
	After  float64 `json:"after"`
	Text   string  `json:"text"`
}

// healthChanges compares the health of one service seen before and after.
func healthChanges(b, a *Service, th Thresholds) []Finding {
	hb, ha := b.Health, a.Health
	if hb == nil || ha == nil {
		return nil
	}
	var out []Finding
	dur := func(fig, what string, x, y time.Duration) {
		out = append(out, Finding{Figure: fig, Before: x.Seconds(), After: y.Seconds(),
			Text: fmt.Sprintf("%s %s -> %s", what, fmtDur(x), fmtDur(y))})
	}
	if cb, ca := hb.Periods.Cycle(), ha.Periods.Cycle(); cb.Count() >= th.MinSamples && ca.Count() >= th.MinSamples {
		x, y := cb.Quantile(0.5), ca.Quantile(0.5)
		if d := absDur(y - x); d > th.PeriodAbs && float64(d) > th.Period*float64(x) {
			dur("period", "polling period", x, y)
		}
		x, y = cb.Jitter(), ca.Jitter()
		if y-x > th.JitterAbs && float64(y) > th.Jitter*float64(x) {
			dur("jitter", "polling jitter (p90-p10)", x, y)
		}
	}
	if hb.Responses.Count() >= th.MinSamples && ha.Responses.Count() >= th.MinSamples {
		for _, q := range []struct {
			fig string
			q   float64
		}{{"response_p50", 0.5}, {"response_p95", 0.95}} {
			x, y := hb.Responses.Quantile(q.q), ha.Responses.Quantile(q.q)
			if y-x > th.ResponseAbs && float64(y) > th.Response*float64(x) {
				dur(q.fig, "request->response "+q.fig[len("response_"):], x, y)
			}
		}
	}
	for _, r := range []struct {
		fig, what string
		x, y      uint64
	}{{"retransmissions", "retransmissions", hb.Retransmissions, ha.Retransmissions}, {"resets", "resets", hb.Resets, ha.Resets}} {
		x, y := perMille(r.x, b.Packets), perMille(r.y, a.Packets)
		if y-x > th.RateAbs && y > th.Rate*x {
			out = append(out, Finding{Figure: r.fig, Before: x, After: y,
				Text: fmt.Sprintf("%s %.1f -> %.1f per 1,000 packets (%d -> %d)", r.what, x, y, r.x, r.y)})
		}
	}
	if hb.Lifetimes.Count() >= th.MinLifetimes && ha.Lifetimes.Count() >= th.MinLifetimes {
		x, y := hb.Lifetimes.Quantile(0.5), ha.Lifetimes.Quantile(0.5)
		if float64(y) < th.Lifetime*float64(x) {
			dur("lifetime", "TCP session lifetime p50", x, y)
		}
	}
	if s := ha.Stall; s.Gap > th.StallAbs && float64(s.Gap) > th.Stall*float64(hb.Stall.Gap) {
		text := fmt.Sprintf("stall: a %s silence in flow %s:%d -> %s:%d ending %s", fmtDur(s.Gap), a.Client, s.ClientPort,
			a.Server, a.Port, time.Unix(0, s.At).UTC().Format("2006-01-02 15:04:05.000"))
		if s.Retransmitted {
			text += ", then a retransmission"
		}
		text += fmt.Sprintf(" (largest before: %s)", fmtDur(hb.Stall.Gap))
		out = append(out, Finding{Figure: "stall", Before: hb.Stall.Gap.Seconds(), After: s.Gap.Seconds(), Text: text})
	}
	return out
}

func perMille(n, of uint64) float64 {
	if of == 0 {
		return 0
	}
	return 1000 * float64(n) / float64(of)
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// fmtDur prints a duration to a precision a reader compares at a glance.
func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}
