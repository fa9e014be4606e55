// Package replay runs captured traffic through the same engine the daemon
// uses — decode, connection table, rules, modes — with the capture's
// timestamps as the clock, so idle timeouts expire flows as they would
// have live.
//
// Differences from live operation, all deliberate: one worker decides
// every packet (the daemon's queues split flows, never decisions); the
// engine's clock never runs backwards (an out-of-order timestamp is taken
// as the latest one seen, and a capture dated before what was replayed
// before it runs shifted to after it, at its own pace: clock.go), while
// what the replay reports carries the captures' own timestamps; the table
// is swept once per second of capture time, as
// the daemon sweeps once per second of wall time; and the event lines
// (--events) are all written, without the daemon's per-source limit on
// denied lines, and without ever being dropped for a full buffer.
package replay

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/rules"
)

// Config configures a replay.
type Config struct {
	Policy *rules.Policy
	// Events receives the engine's event lines (verdicts, flow ends,
	// evictions) as JSON, one per line; nil writes none.
	Events io.Writer
	// Handler, when set, receives the same event lines as records, before
	// any formatting (conduit report reads them without a JSON round
	// trip). Their times are on the engine's clock (clock.go).
	Handler slog.Handler
	// OnRequest, when set, is told every request the protocol inspection
	// judges (engine.Config.OnRequest).
	OnRequest func(engine.RequestSeen)
}

// Replay feeds captures through one engine. It is not safe for concurrent use.
type Replay struct {
	eng       *engine.Engine
	w         *engine.Worker
	clock     clock
	hits      hitSpans
	lastSweep int64
	events    *bufio.Writer
	drainCtx  context.Context
	files     []File
	l2        layer2Counts // non-IP frames by the layer2 section (layer2.go)
}

// File is what one capture contributed.
type File struct {
	Name    string     `json:"file"`
	Format  string     `json:"format"`
	Frames  int        `json:"frames"`  // packet records read
	Packets int        `json:"packets"` // IP packets decided
	Skipped int        `json:"skipped"` // frames without IP (ARP, LLDP, unsupported link types)
	Snapped int        `json:"snapped"` // IP packets cut short by the snapshot length
	First   *time.Time `json:"first,omitempty"`
	Last    *time.Time `json:"last,omitempty"`
	Error   string     `json:"error,omitempty"` // where reading stopped, if it did not reach the end
}

// Result is the summary of PRODUCT.md's `replay --json`, plus the
// captures read.
type Result struct {
	Packets   uint64            `json:"packets"`
	Flows     uint64            `json:"flows"` // connections the engine tracked
	Malformed uint64            `json:"malformed"`
	Verdicts  Verdicts          `json:"verdicts"`
	WouldDrop uint64            `json:"would_drop"` // denied by the policy: dropped in enforce, logged in monitor
	Rules     []engine.RuleHits `json:"rules"`
	Captures  []File            `json:"captures"`
	// Layer2 counts the frames without IP by EtherType and the verdict
	// the policy's layer2 section gives them (layer2.go).
	Layer2 []engine.Layer2Count `json:"layer2"`
}

// Verdicts count the packets accepted and dropped.
type Verdicts struct {
	Accept uint64 `json:"accept"`
	Drop   uint64 `json:"drop"`
}

// Dropped reports whether anything was or would have been dropped.
func (r *Result) Dropped() bool { return r.Verdicts.Drop > 0 || r.WouldDrop > 0 }

const (
	// sweepEvery is how much capture time passes between sweeps.
	sweepEvery = int64(time.Second)
	// drainEvery bounds the packets decided between two drains of the
	// event buffer: each packet emits at most a few events, so the buffer
	// (sized below) never fills between drains.
	drainEvery      = 1024
	eventsPerPacket = 8
)

// New builds the engine for cfg.Policy.
func New(cfg Config) *Replay {
	r := &Replay{}
	log := slog.New(slog.DiscardHandler)
	buffer := 1 // no writer: events are dropped as soon as they are made
	if cfg.Events != nil || cfg.Handler != nil {
		var h slog.Handler
		if cfg.Events != nil {
			r.events = bufio.NewWriterSize(cfg.Events, 256<<10)
			h = ownTime{slog.NewJSONHandler(r.events, nil), &r.clock}
		}
		if cfg.Handler != nil {
			h = teeHandler(h, cfg.Handler)
		}
		log = slog.New(h)
		// A sweep may end every tracked flow at once.
		buffer = cfg.Policy.Conntrack.Capacity + drainEvery*eventsPerPacket
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r.drainCtx = ctx
	}
	r.eng = engine.New(engine.Config{
		Store:       inforce.NewStore(cfg.Policy),
		Workers:     1,
		Log:         log,
		Now:         func() int64 { return r.clock.now },
		EventBuffer: buffer,
		OnRequest:   cfg.OnRequest,
	})
	r.w = r.eng.Worker(0)
	r.l2.pol = &cfg.Policy.Layer2
	return r
}

// drain writes the queued events, on this goroutine: RunLimited with a
// cancelled context writes what is queued and returns.
func (r *Replay) drain() {
	if r.drainCtx != nil {
		r.eng.RunLimited(r.drainCtx, engine.DeniedLimit{Burst: -1})
	}
}

// Open reads the capture at path into the replay. The error says where a
// truncated or corrupt capture stopped; the packets before it count.
func (r *Replay) Open(path string) error {
	rd, err := capture.Open(path)
	if err != nil {
		r.files = append(r.files, File{Name: path, Error: err.Error()})
		return err
	}
	defer rd.Close()
	err = r.Feed(path, rd)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// OpenAll opens the captures at paths in the order given and returns the
// error of each one Open refused or that stopped early: the others, and
// the packets before each error, count.
func (r *Replay) OpenAll(paths []string) []error {
	var errs []error
	for _, path := range paths {
		if err := r.Open(path); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// Feed decides every packet of rd; name labels it in the result.
func (r *Replay) Feed(name string, rd *capture.Reader) error {
	f := File{Name: name, Format: rd.Format().String()}
	var p capture.Packet
	var first, last int64
	n := 0
	var err error
	rd.OnNonIP = r.l2.count
	for {
		if err = rd.Next(&p); err != nil {
			break
		}
		if n == 0 {
			first = p.Time
			if r.clock.begin(p.Time) && len(r.clock.eras) > 1 {
				// The engine's hit times of the era that ended are read
				// now, before this one adds to them.
				r.hits.fold(r.eng.Hits(), &r.clock)
			}
		}
		now := r.clock.tick(p.Time)
		if r.lastSweep == 0 {
			r.lastSweep = now
		}
		last = p.Time
		if now-r.lastSweep >= sweepEvery {
			r.eng.Conntrack().Sweep(now)
			r.lastSweep = now
			r.drain()
		}
		r.w.Decide(p.Data)
		n++
		if n%drainEvery == 0 {
			r.drain()
		}
	}
	r.drain()
	st := rd.Stats()
	f.Frames, f.Packets, f.Skipped, f.Snapped = st.Records, st.Packets, st.NonIP+st.Unsupported, st.Truncated
	if n > 0 {
		a, b := time.Unix(0, first).UTC(), time.Unix(0, last).UTC()
		f.First, f.Last = &a, &b
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	if err != nil {
		f.Error = err.Error()
	}
	r.files = append(r.files, f)
	return err
}

// Result summarises everything fed so far and flushes the event lines.
func (r *Replay) Result() (Result, error) {
	r.drain()
	c := r.eng.Counters()
	res := Result{
		Packets:   c.Packets,
		Flows:     r.eng.Conntrack().Stats().Inserts,
		Malformed: c.Malformed,
		Verdicts:  Verdicts{Accept: c.Accepted, Drop: c.Dropped},
		WouldDrop: c.WouldDrop,
		Rules:     r.hits.report(r.eng.Hits(), &r.clock),
		Captures:  append([]File(nil), r.files...),
		Layer2:    r.l2.report(),
	}
	if d := c.LogDropped; d > 0 && r.drainCtx != nil && r.events == nil {
		return res, fmt.Errorf("events: %d event lines were lost", d)
	}
	if r.events != nil {
		if err := r.events.Flush(); err != nil {
			return res, fmt.Errorf("write events: %w", err)
		}
		if d := c.LogDropped; d > 0 {
			return res, fmt.Errorf("write events: %d event lines were lost", d)
		}
	}
	return res, nil
}

// Engine exposes the engine, for flows and counters beyond the summary.
// Its times are on the replay's shifted clock (clock.go); Result reports
// the captures' own.
func (r *Replay) Engine() *engine.Engine { return r.eng }
