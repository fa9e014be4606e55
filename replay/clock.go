package replay

import (
	"context"
	"log/slog"
	"sort"
	"time"
)

// clock is the engine's clock during a replay, and the way back from it to
// the captures' own timestamps for what the replay reports.
//
// The engine's clock must not run backwards: connection timeouts, sweeps
// and the denied-line window measure intervals on it. Captures given out of
// date order (last month's, then last year's) would rewind it, so each
// capture runs at its own pace in an era shifted to begin just after what
// was replayed before it. Captures in date order run unshifted; so does a
// capture that continues the current era. Within a capture, a timestamp
// earlier than the latest is taken as the latest.
//
// Reported times (first_hit, last_hit, the time of event lines) are the
// captures' own: engine time less the shift of its era. A packet whose
// timestamp was taken as the latest reports the latest.
//
// A capture dated before what was replayed begins 1 ns after it: flows
// still tracked carry over, as they did when the clock simply stopped
// for such a capture, but now its own idle timeouts run as they did live.
type clock struct {
	now   int64 // engine time: the latest timestamp seen, shifted
	shift int64 // engine time minus capture time in the current era
	eras  []era // in engine-time order, each beginning after the last ended
}

type era struct{ start, shift int64 }

// begin starts a capture whose first timestamp is ts; it reports whether
// that capture opens a new era.
func (c *clock) begin(ts int64) bool {
	shift := c.shift
	switch {
	case ts > c.now:
		shift = 0
	case ts+c.shift > c.now:
		// Continues the current era (the next file of a rotated capture).
	default:
		shift = c.now + 1 - ts
	}
	if len(c.eras) > 0 && shift == c.shift {
		return false
	}
	c.shift = shift
	c.eras = append(c.eras, era{start: ts + shift, shift: shift})
	return true
}

// tick advances the clock to capture time ts and returns the engine time.
func (c *clock) tick(ts int64) int64 {
	if t := ts + c.shift; t > c.now {
		c.now = t
	}
	return c.now
}

// own returns the capture time of engine time t.
func (c *clock) own(t int64) int64 {
	i := sort.Search(len(c.eras), func(i int) bool { return c.eras[i].start > t }) - 1
	if i < 0 {
		return t
	}
	return t - c.eras[i].shift
}

// ownTime rewrites the time of each event line to the capture's own. A
// line about a flow that was idle (a flow's end, an eviction) is stamped
// at the flow's last packet plus its idle time, in the era of that packet:
// a flow of one capture that ends while another is replayed ends in its
// own capture's time.
type ownTime struct {
	slog.Handler
	c *clock
}

func (h ownTime) Handle(ctx context.Context, r slog.Record) error {
	// Every line of a replay is an engine event stamped on the engine's
	// clock; anything else (never expected) keeps its time.
	if ns := r.Time.UnixNano(); len(h.c.eras) > 0 && ns >= h.c.eras[0].start && ns <= h.c.now {
		var idle int64
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "idle" && a.Value.Kind() == slog.KindDuration {
				idle = int64(a.Value.Duration())
				return false
			}
			return true
		})
		if idle < 0 || idle > ns-h.c.eras[0].start {
			idle = 0
		}
		r.Time = time.Unix(0, h.c.own(ns-idle)+idle).In(r.Time.Location())
	}
	return h.Handler.Handle(ctx, r)
}

func (h ownTime) WithAttrs(as []slog.Attr) slog.Handler {
	return ownTime{h.Handler.WithAttrs(as), h.c}
}

func (h ownTime) WithGroup(name string) slog.Handler {
	return ownTime{h.Handler.WithGroup(name), h.c}
}
