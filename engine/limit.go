package engine

import (
	"context"
	"log/slog"
	"net/netip"
	"time"
)

// DeniedLimit bounds the verdict lines of denied and would-be-denied flows
// per source address, so that a scan or a flood of new flows from one host
// cannot bury the log. Each source may log Burst lines per Window; the
// lines beyond are counted, and the count is reported in a "suppressed"
// line for that source once its window ends. Nothing is lost silently.
//
// It works on the log writer's side of the event buffer: the packet path
// only limits lines per flow (deniedCache), never per source, and does no
// bookkeeping for it.
type DeniedLimit struct {
	Burst      int           // lines per source per window; 0: 20; negative: no limit
	Window     time.Duration // 0: 10s
	MaxSources int           // sources tracked at once; 0: 4096. Sources beyond share one budget.
}

func (l DeniedLimit) withDefaults() DeniedLimit {
	if l.Burst == 0 {
		l.Burst = 20
	}
	if l.Window <= 0 {
		l.Window = 10 * time.Second
	}
	if l.MaxSources <= 0 {
		l.MaxSources = 4096
	}
	return l
}

// srcWindow is one source's current window.
type srcWindow struct {
	start       int64 // clock ns of the window's first line
	lines       int
	suppressed  uint64
	first, last int64 // clock ns of the first and last suppressed line
}

// suppression is one "suppressed" line to write.
type suppression struct {
	src         netip.Addr // invalid: the sources beyond MaxSources
	count       uint64
	first, last int64
}

// deniedLimiter is owned by the log writer goroutine.
type deniedLimiter struct {
	cfg    DeniedLimit
	window int64
	bySrc  map[netip.Addr]*srcWindow
}

func newDeniedLimiter(cfg DeniedLimit) *deniedLimiter {
	cfg = cfg.withDefaults()
	return &deniedLimiter{cfg: cfg, window: int64(cfg.Window), bySrc: make(map[netip.Addr]*srcWindow)}
}

// allow decides whether a denied line from src at clock time at may be
// written. When src's previous window ended with lines suppressed, report
// is set and must be written before this line.
func (l *deniedLimiter) allow(src netip.Addr, at int64) (ok bool, report *suppression) {
	if l.cfg.Burst < 0 {
		return true, nil
	}
	w := l.bySrc[src]
	if w == nil {
		if len(l.bySrc) >= l.cfg.MaxSources {
			src = netip.Addr{}
			w = l.bySrc[src]
		}
		if w == nil {
			w = &srcWindow{start: at}
			l.bySrc[src] = w
		}
	}
	if at-w.start >= l.window {
		report = l.end(src, w)
		*w = srcWindow{start: at}
	}
	w.lines++
	if w.lines <= l.cfg.Burst {
		return true, report
	}
	if w.suppressed == 0 {
		w.first = at
	}
	w.suppressed++
	w.last = at
	return false, report
}

func (l *deniedLimiter) end(src netip.Addr, w *srcWindow) *suppression {
	if w.suppressed == 0 {
		return nil
	}
	return &suppression{src: src, count: w.suppressed, first: w.first, last: w.last}
}

// expire reports the windows that ended by now (all of them if now is 0)
// and forgets them, keeping the map as small as the sources active in the
// last window.
func (l *deniedLimiter) expire(now int64, report func(suppression)) {
	for src, w := range l.bySrc {
		if now != 0 && now-w.start < l.window {
			continue
		}
		if s := l.end(src, w); s != nil {
			report(*s)
		}
		delete(l.bySrc, src)
	}
}

// writeSuppressed writes the line that accounts for a source's suppressed
// denied lines.
func (e *Engine) writeSuppressed(h slog.Handler, s suppression) {
	ctx := context.Background()
	if !h.Enabled(ctx, slog.LevelWarn) {
		return
	}
	r := slog.NewRecord(time.Unix(0, e.now()), slog.LevelWarn, "denied lines suppressed", 0)
	src := addr(s.src)
	if !s.src.IsValid() {
		src = "*" // the sources beyond DeniedLimit.MaxSources
	}
	r.AddAttrs(
		slog.String("event", "suppressed"),
		slog.String("src", src),
		slog.Uint64("suppressed", s.count),
		slog.Time("first", time.Unix(0, s.first).UTC()),
		slog.Time("last", time.Unix(0, s.last).UTC()),
	)
	_ = h.Handle(ctx, r)
}
