package engine

import (
	"context"
	"log/slog"
	"net/netip"
	"strconv"
	"time"

	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/rules"
)

type eventKind uint8

const (
	evVerdict eventKind = iota
	evConntrack
	evPanic
	evLayer2 // a frame the bridge table refused (layer2.go)
)

// event crosses from the packet path to the log writer by value: building
// and sending one does not allocate.
type event struct {
	kind eventKind
	at   int64
	v    verdictEvent
	ct   conntrack.Event
	text string
	l2   *Layer2Frame // evLayer2 only: a pointer keeps every other event small
}

// verdictEvent is one verdict log line before formatting.
type verdictEvent struct {
	pol               *rules.Policy // names of rules and zones at decision time
	mode              rules.Mode
	accept, wouldDrop bool
	rule              int32 // -1: no rule (passthrough, malformed)
	from, to          rules.ZoneID
	proto             uint8
	src, dst          netip.Addr
	sport, dport      uint16
	icmpType          uint8 // of the flow's first packet (ICMP, ICMPv6), when hasICMPType
	hasICMPType       bool
	flow              uint64
	reason            string
	app               appEvent // proto AppNone: no "app" object
	// rev: the other orientation was judged too (orient.go), with revRule
	// in revMode; reply: the packet was taken as the line's reply.
	rev, reply bool
	revRule    int32
	revMode    rules.Mode
	// Where the packet in hand came in, when known: the port's ifindex
	// and name, the source MAC; bound is the zone whose binding a
	// spoofed-source packet broke.
	inIndex uint32
	inPort  string
	mac     rules.MAC
	hasMAC  bool
	bound   rules.ZoneID
	// reset: on_violation reset took effect (enforce): the refused segment
	// was replaced to reset the session at both ends (engine/inspect).
	reset bool
}

// emit hands an event to the writer without ever waiting for it.
func (e *Engine) emit(ev event) {
	select {
	case e.events <- ev:
	default:
		e.logDropped.Add(1)
	}
}

// onConntrack receives the table's events on the packet path, after the
// shard lock is released.
func (e *Engine) onConntrack(ev conntrack.Event) {
	e.releaseStream(&ev.Flow)
	if e.flowEnded(ev) {
		return // logged once its kernel entry is gone (fastpath.go)
	}
	e.emit(event{kind: evConntrack, at: ev.At, ct: ev})
}

// releaseStream returns the stream slot of a flow that ended.
func (e *Engine) releaseStream(f *conntrack.Flow) {
	i := markOf(f).slot()
	if i < 0 || f.ID == 0 {
		return
	}
	e.workers[(f.ID-1)%uint64(len(e.workers))].insp.Release(i)
}

// Run writes events until ctx ends, then drains what is queued. Call it in
// its own goroutine. Denied lines are limited per source by the default
// DeniedLimit.
func (e *Engine) Run(ctx context.Context) { e.RunLimited(ctx, DeniedLimit{}) }

// RunLimited is Run with the given per-source limit of denied lines.
func (e *Engine) RunLimited(ctx context.Context, limit DeniedLimit) {
	h := e.log.Handler()
	lim := newDeniedLimiter(limit)
	var reported uint64
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	// Windows end on their own clock; look for ended ones a few times per window.
	expire := time.NewTicker(max(lim.cfg.Window/4, 10*time.Millisecond))
	defer expire.Stop()
	report := func(s suppression) { e.writeSuppressed(h, s) }
	for {
		select {
		case ev := <-e.events:
			e.write(h, lim, ev)
		case <-tick.C:
			// Nothing is lost silently: say how many lines the buffer refused.
			if d := e.logDropped.Load(); d != reported {
				e.log.Warn("log lines dropped: the event buffer was full", "event", "log_dropped", "dropped", d-reported, "total", d)
				reported = d
			}
		case <-expire.C:
			lim.expire(e.now(), report)
		case <-ctx.Done():
			for {
				select {
				case ev := <-e.events:
					e.write(h, lim, ev)
				default:
					lim.expire(0, report)
					return
				}
			}
		}
	}
}

func (e *Engine) write(h slog.Handler, lim *deniedLimiter, ev event) {
	ctx := context.Background()
	switch ev.kind {
	case evLayer2:
		e.writeLayer2(h, ev)
	case evVerdict, evPanic:
		v := &ev.v
		if ev.kind == evVerdict && (v.wouldDrop || !v.accept) {
			ok, report := lim.allow(v.src, ev.at)
			if report != nil {
				e.writeSuppressed(h, *report)
			}
			if !ok {
				return
			}
		}
		level, msg := slog.LevelInfo, "verdict"
		if v.wouldDrop {
			level = slog.LevelWarn
		}
		if ev.kind == evPanic {
			level, msg = slog.LevelError, "engine-panic"
		}
		if !h.Enabled(ctx, level) {
			return
		}
		r := slog.NewRecord(time.Unix(0, ev.at), level, msg, 0)
		r.AddAttrs(
			slog.String("event", msg),
			slog.String("mode", v.mode.String()),
			slog.String("verdict", word(v.accept)),
			slog.String("would", word(!v.wouldDrop)),
		)
		addFlow(&r, v)
		r.AddAttrs(slog.Uint64("flow", v.flow), slog.String("reason", v.reason))
		if v.rev {
			r.AddAttrs(slog.String("reverse_rule", ruleName(v.pol, v.revRule)), slog.String("reverse_mode", v.revMode.String()))
		}
		if v.reply {
			r.AddAttrs(slog.Bool("reply", true))
		}
		addIngress(&r, v)
		if v.app.proto != rules.AppNone {
			r.AddAttrs(v.app.attr())
		}
		if v.reset {
			r.AddAttrs(slog.Bool("reset", true))
		}
		if ev.kind == evPanic {
			r.AddAttrs(slog.String("panic", ev.text))
		}
		if v.pol != nil && v.pol.IsPassive() {
			// A sensor's line (conduit observe): monitored, and the mode
			// the file sets, so "would" reads as what enforce would do.
			r.AddAttrs(slog.Bool("observed", true), slog.String("policy_mode", v.pol.PolicyMode(v.from, v.to).String()))
		}
		_ = h.Handle(ctx, r)
		if ev.kind == evVerdict && v.reason == ReasonPickup && v.accept {
			e.writePickup(h, ev)
		}
	case evConntrack:
		c := &ev.ct
		f := &c.Flow
		name := c.Kind.String()
		level := slog.LevelInfo
		// A full table is where allowed sessions start to suffer: the
		// eviction of an established allowed flow (nothing of less worth
		// was left) is the one that hurts; the others make room as meant.
		if c.Kind == conntrack.EventOccupancyHigh || c.Kind == conntrack.EventEviction && c.Class == conntrack.ClassEstablished {
			level = slog.LevelWarn
		}
		r := slog.NewRecord(time.Unix(0, ev.at), level, name, 0)
		r.AddAttrs(slog.String("event", name))
		if f.ID != 0 {
			r.AddAttrs(
				slog.Uint64("flow", f.ID),
				slog.String("proto", packet.ProtoName(f.Key.Proto)),
				slog.String("src", addr(f.Key.Src)),
				slog.String("dst", addr(f.Key.Dst)),
				slog.Int("sport", int(f.Key.SrcPort)),
				slog.Int("dport", int(f.Key.DstPort)),
				slog.String("state", f.State.String()),
				slog.String("class", c.Class.String()),
				slog.String("reason", c.Reason),
				slog.Duration("idle", c.Idle),
				slog.Duration("duration", time.Duration(f.LastSeen-f.Created)),
				slog.Duration("max_gap", time.Duration(f.MaxGap)),
				slog.Uint64("packets_orig", f.Packets[conntrack.DirOriginal]),
				slog.Uint64("packets_reply", f.Packets[conntrack.DirReply]),
				slog.Uint64("bytes_orig", f.Bytes[conntrack.DirOriginal]),
				slog.Uint64("bytes_reply", f.Bytes[conntrack.DirReply]),
			)
			if act := e.store.Load(); f.Rule >= 0 && f.Generation == act.Generation {
				r.AddAttrs(slog.String("rule", ruleName(act.Policy, f.Rule)))
			}
			if markOf(f).offloaded() {
				r.AddAttrs(slog.Bool("offloaded", true))
			}
		} else {
			r.AddAttrs(slog.Int("entries", c.Entries), slog.Int("capacity", c.Capacity))
		}
		_ = h.Handle(ctx, r)
	}
}

// writePickup follows the verdict line of an adopted mid-stream session
// with a pickup event: the table took it in without seeing its start (after
// a restart, an eviction, or when conduit was put inline), in the
// orientation the verdict line shows.
func (e *Engine) writePickup(h slog.Handler, ev event) {
	if !h.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	v := &ev.v
	r := slog.NewRecord(time.Unix(0, ev.at), slog.LevelInfo, "pickup", 0)
	r.AddAttrs(slog.String("event", "pickup"), slog.Uint64("flow", v.flow), slog.String("mode", v.mode.String()))
	addFlow(&r, v)
	_ = h.Handle(context.Background(), r)
}

// addFlow adds what a verdict says about its flow: the rule, the zones and
// the 5-tuple, in the order of the verdict line.
func addFlow(r *slog.Record, v *verdictEvent) {
	r.AddAttrs(
		slog.String("rule", ruleName(v.pol, v.rule)),
		slog.String("from_zone", v.pol.ZoneName(v.from)),
		slog.String("to_zone", v.pol.ZoneName(v.to)),
		slog.String("proto", packet.ProtoName(v.proto)),
		slog.String("src", addr(v.src)),
		slog.String("dst", addr(v.dst)),
		slog.Int("sport", int(v.sport)),
		slog.Int("dport", int(v.dport)),
	)
	if v.hasICMPType {
		r.AddAttrs(slog.Int("icmp_type", int(v.icmpType)))
	}
}

// addIngress adds where the packet came in: in_port (the port's name, or
// its ifindex when conduit could not name it), and for a spoofed-source
// verdict the source MAC and what the zone's binding expected.
func addIngress(r *slog.Record, v *verdictEvent) {
	if v.inIndex == 0 {
		return
	}
	if v.inPort != "" {
		r.AddAttrs(slog.String("in_port", v.inPort))
	} else {
		r.AddAttrs(slog.String("in_port", "ifindex "+strconv.Itoa(int(v.inIndex))))
	}
	if v.reason != ReasonSpoofed {
		return
	}
	if v.hasMAC {
		r.AddAttrs(slog.String("src_mac", v.mac.String()))
	}
	if v.bound == rules.ZoneUnknown || int(v.bound) > len(v.pol.Zones) {
		return
	}
	z := &v.pol.Zones[v.bound-1]
	r.AddAttrs(slog.String("bound_zone", z.Name))
	if len(z.Ports) > 0 {
		r.AddAttrs(slog.Any("expected_ports", z.Ports))
	}
	if len(z.MACs) > 0 {
		ms := make([]string, len(z.MACs))
		for i, m := range z.MACs {
			ms[i] = m.String()
		}
		r.AddAttrs(slog.Any("expected_macs", ms))
	}
}

func word(accept bool) string {
	if accept {
		return "accept"
	}
	return "drop"
}

func ruleName(p *rules.Policy, i int32) string {
	if i < 0 {
		return ""
	}
	return p.RuleName(int(i))
}

func addr(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// deniedCache remembers recently logged flows that were not tracked (denied
// in enforce, malformed), so a retransmitting or flooding sender yields one
// log line per flow per window instead of one per packet. It is a fixed
// direct-mapped table: bounded memory, no allocation, owned by one worker.
type deniedCache struct {
	slots [4096]struct {
		hash uint64
		at   int64
	}
}

const deniedWindow = int64(10 * time.Second)

// first reports whether k has not been logged within the window, and
// records it.
func (c *deniedCache) first(k conntrack.Key, now int64) bool {
	h := hashKey(k)
	s := &c.slots[h%uint64(len(c.slots))]
	if s.hash == h && now-s.at < deniedWindow {
		return false
	}
	s.hash, s.at = h, now
	return true
}

// hashKey is FNV-1a over the key's bytes.
func hashKey(k conntrack.Key) uint64 {
	h := uint64(14695981039346656037)
	mix := func(b byte) { h ^= uint64(b); h *= 1099511628211 }
	s, d := k.Src.As16(), k.Dst.As16()
	for i := range 16 {
		mix(s[i])
		mix(d[i])
	}
	mix(byte(k.SrcPort >> 8))
	mix(byte(k.SrcPort))
	mix(byte(k.DstPort >> 8))
	mix(byte(k.DstPort))
	mix(k.Proto)
	return h | 1 // never 0, the empty slot
}
