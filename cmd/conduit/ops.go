package main

// The daemon's operator interface: what the control socket, the metrics
// endpoint and the hit state file read, and the log sinks they report on.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/conduit-ot/conduit/assets"
	"github.com/conduit-ot/conduit/control"
	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/engine/host"
	"github.com/conduit-ot/conduit/engine/nft"
	"github.com/conduit-ot/conduit/engine/tap"
	"github.com/conduit-ot/conduit/eventlog"
	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/learn"
	"github.com/conduit-ot/conduit/metrics"
	"github.com/conduit-ot/conduit/rules"
)

// ops is the running daemon as its operator sees it.
type ops struct {
	eng      *engine.Engine
	store    *inforce.Store
	kernel   *nft.Installed // the table; nil before it is installed
	appQueue bool           // a queue for protocol-condition flows is bound
	reloader *inforce.Reloader
	queueNum uint16
	started  time.Time
	logs     *eventlog.Mux
	log      *slog.Logger
	state    string // hit counters file; "" keeps none
	reloads  reloadCounter
	stdout   io.Writer // where log.file "-" writes

	deniedLimit engine.DeniedLimit // denied lines per source (run flags)
	// fastpathCounter reads the kernel's count of fast-path accepts (the
	// nft rule's counter); nil without the fast path.
	fastpathCounter func() (packets, bytes uint64, ok bool, err error)

	// conduit observe: the policy is judged passively (rules.Policy.Passive)
	// and the rings are the sensor's.
	passive bool
	sensor  *tap.Sensor
	assets  *assets.Inventory // what the sensor learned of the plant's devices
	// live is the sensor's communication matrix with health figures
	// (conduit baseline save), since liveSince on liveIfaces.
	live        *learn.Live
	liveSince   time.Time
	liveIfaces  []string
	matrixState string    // file the live matrix is saved to with the hit counters; "" keeps none
	feed        *liveFeed // the inline daemon's copies of queued packets for live (matrix.go)
}

// reloadCounter counts reload attempts by result. It wraps the reloader's
// Load, which runs under the reloader's lock for every trigger (SIGHUP,
// file watch, control socket), so each attempt is counted exactly once.
type reloadCounter struct {
	ok, failed, unchanged atomic.Uint64
}

func (o *ops) loadPolicy(path string) (*rules.Policy, error) {
	p, err := rules.Load(path)
	if err == nil && o.passive {
		p = p.Passive()
	}
	switch {
	case err != nil:
		o.reloads.failed.Add(1)
	case p.SHA256 == o.store.Load().Policy.SHA256:
		o.reloads.unchanged.Add(1)
	default:
		o.reloads.ok.Add(1)
	}
	return p, err
}

func (o *ops) reloadCounts() metrics.Reloads {
	return metrics.Reloads{OK: o.reloads.ok.Load(), Error: o.reloads.failed.Load(), Unchanged: o.reloads.unchanged.Load()}
}

// onSwap warns about settings that a reload reads but only a restart applies.
func (o *ops) onSwap(old, cur *inforce.Active) {
	a, b := old.Policy, cur.Policy
	o.checkPorts(b)
	if a.Log != b.Log {
		o.applyLog(a.Log, b.Log)
	}
	if a.Conntrack.Timeouts != b.Conntrack.Timeouts {
		o.eng.SetTimeouts(b.Conntrack.Timeouts)
		o.log.Info("conntrack timeouts changed", "event", "reload", "setting", "conntrack.timeouts",
			"running", fmt.Sprint(a.Conntrack.Timeouts), "file", fmt.Sprint(b.Conntrack.Timeouts))
	}
	if !o.appQueue && nft.NeedsAppQueue(b) {
		o.log.Warn("rules with a protocol condition now share the fail-open queues; restart to give them their own",
			"event", "reload", "setting", "app_queue")
	}
	// Every flow leaves the fast path, so that its next packet is judged
	// by the policy now in force (a narrowed rule stops a running session).
	if n, err := o.eng.ClearFastpath(); err != nil {
		o.log.Error("clearing the fast path after a reload failed: offloaded flows keep passing until the sweep", "event", "reload", "err", err)
	} else if n > 0 {
		o.log.Info("flows taken off the fast path to be judged again", "event", "reload", "flows", n)
	}
	for _, c := range []struct {
		what     string
		old, new any
	}{
		{"metrics", a.Metrics, b.Metrics},
		{"control", a.Control, b.Control},
		{"conntrack.capacity", a.Conntrack.Capacity, b.Conntrack.Capacity},
	} {
		if c.old != c.new {
			o.log.Warn(c.what+" settings changed in the file; they take effect at the next restart",
				"event", "reload", "setting", c.what, "running", fmt.Sprint(c.old), "file", fmt.Sprint(c.new))
		}
	}
}

// checkPorts reads the interface names for the zone bindings of pol and
// warns about ports that do not exist: until they do, every packet of
// their zones' addresses is spoofed-source.
func (o *ops) checkPorts(pol *rules.Policy) {
	missing, err := o.eng.ResolvePorts(pol)
	if err != nil {
		o.log.Error("cannot read the interfaces for the zones' ports", "err", err)
	}
	for _, p := range missing {
		var zones []string
		for _, z := range pol.Zones {
			if z.HasPort(p) {
				zones = append(zones, z.Name)
			}
		}
		o.log.Warn("a zone names a port that does not exist here; its addresses are refused as spoofed-source until it does",
			"event", "port_missing", "port", p, "zones", zones)
	}
}

// applyLog moves the log to the sinks of a reloaded policy (a new file, a
// new SIEM) without a restart, which would take the box off the line. A
// sink that cannot be opened leaves the running ones in place.
func (o *ops) applyLog(running, want rules.LogConfig) {
	sinks, err := logSinks(want, o.stdout)
	if err != nil {
		o.log.Error("log settings refused; the running sinks stay", "event", "reload", "setting", "log",
			"running", fmt.Sprint(running), "file", fmt.Sprint(want), "err", err.Error())
		return
	}
	o.log.Info("log sinks changing", "event", "reload", "setting", "log", "running", fmt.Sprint(running), "file", fmt.Sprint(want))
	o.logs.Replace(3*time.Second, sinks...)
	o.log.Info("log sinks changed", "event", "reload", "setting", "log", "running", fmt.Sprint(want))
}

// openLogs builds the log sinks of the policy: stdout or a file, and
// syslog when set.
// openDaemon loads the policy of a daemon (run, observe), checks it runs as
// root, and opens its log sinks and the JSON logger writing to them.
func openDaemon(path string, debug bool, stdout io.Writer) (*rules.Policy, *eventlog.Mux, *slog.Logger, error) {
	pol, err := rules.Load(path)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := host.CheckRoot(); err != nil {
		return nil, nil, nil, err
	}
	logs, err := openLogs(pol.Log, stdout)
	if err != nil {
		return nil, nil, nil, err
	}
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return pol, logs, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level})), nil
}

func openLogs(cfg rules.LogConfig, stdout io.Writer) (*eventlog.Mux, error) {
	sinks, err := logSinks(cfg, stdout)
	if err != nil {
		return nil, err
	}
	return eventlog.NewMux(eventlog.DefaultQueue, sinks...), nil
}

func logSinks(cfg rules.LogConfig, stdout io.Writer) ([]eventlog.Sink, error) {
	f, err := eventlog.OpenFile(cfg.File, stdout)
	if err != nil {
		return nil, err
	}
	sinks := []eventlog.Sink{f}
	if cfg.Syslog != "" {
		s, err := eventlog.NewSyslog(cfg.Syslog, eventlog.SyslogOptions{})
		if err != nil {
			f.Close()
			return nil, err
		}
		sinks = append(sinks, s)
	}
	return sinks, nil
}

// reportLogLoss says, every period, which sinks lost lines since the last
// report; the engine reports its own event buffer.
func (o *ops) reportLogLoss(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := map[string]eventlog.SinkStats{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		errs := o.logs.LastError()
		for _, s := range o.logs.Stats() {
			p := last[s.Name]
			if s.Dropped != p.Dropped || s.Failed != p.Failed {
				o.log.Warn("log lines lost by a sink", "event", "log_dropped", "sink", s.Name,
					"dropped", s.Dropped-p.Dropped, "failed", s.Failed-p.Failed,
					"total_dropped", s.Dropped, "total_failed", s.Failed, "last_error", errs[s.Name])
			}
			last[s.Name] = s
		}
	}
}

// loadState restores the hit counters saved by an earlier run. A file that
// cannot be read is moved aside, so that the next save does not destroy
// what an operator may want to recover.
func (o *ops) loadState() {
	if o.state == "" {
		return
	}
	n, err := o.eng.LoadHits(o.state)
	if err != nil {
		bad := o.state + ".bad"
		if rerr := os.Rename(o.state, bad); rerr != nil {
			bad = ""
		}
		o.log.Error("hit counters not restored; counting from zero", "event", "state", "file", o.state, "err", err, "moved_to", bad)
		return
	}
	if n > 0 {
		o.log.Info("hit counters restored", "event", "state", "file", o.state, "rules", n)
	}
}

func (o *ops) saveState() {
	if o.live != nil && o.matrixState != "" {
		if err := learn.WriteBaselineFile(o.matrixState, o.live.Snapshot()); err != nil {
			o.log.Error("saving the live matrix failed", "event", "state", "file", o.matrixState, "err", err)
		}
	}
	if o.state == "" {
		return
	}
	if err := o.eng.SaveHits(o.state); err != nil {
		o.log.Error("saving the hit counters failed", "event", "state", "file", o.state, "err", err)
	}
}

// saveStateEvery saves the hit counters periodically until ctx ends.
func (o *ops) saveStateEvery(ctx context.Context, every time.Duration) {
	if o.state == "" && o.matrixState == "" || every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			o.saveState()
		}
	}
}

// startControl opens the control socket. Failing to is logged, not fatal:
// the firewall matters more than its dashboard.
func (o *ops) startControl(path string) *control.Server {
	if path == "" {
		return nil
	}
	srv, err := control.Listen(path, map[string]control.Handler{
		"status":   noArgs(func() (any, error) { return o.status(), nil }),
		"hits":     noArgs(func() (any, error) { return o.hits(), nil }),
		"flows":    withArgs(o.flowsHandler),
		"coverage": withArgs(o.coverageHandler),
		"review":   withArgs(o.reviewHandler),
		"ready":    withArgs(o.readyHandler),
		"reload":   noArgs(func() (any, error) { return o.reload(), nil }),
		"assets":   noArgs(o.assetsHandler),
		"baseline": noArgs(o.baselineHandler),
	}, o.log)
	if err != nil {
		o.log.Error("control socket unavailable; status, hits, flows and reload will not answer", "socket", path, "err", err)
		return nil
	}
	go srv.Serve()
	return srv
}

// withArgs adapts a handler of typed arguments to the control socket: the
// request's arguments decode into A, the zero A when there are none.
func withArgs[A any](h func(A) (any, error)) control.Handler {
	return func(_ context.Context, raw json.RawMessage) (any, error) {
		var a A
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, &a); err != nil {
				return nil, fmt.Errorf("bad arguments: %w", err)
			}
		}
		return h(a)
	}
}

// noArgs adapts a handler that takes no arguments to the control socket.
func noArgs(h func() (any, error)) control.Handler {
	return func(context.Context, json.RawMessage) (any, error) { return h() }
}

// startMetrics serves Prometheus metrics when listen is set; a failure is
// logged, not fatal.
func (o *ops) startMetrics(listen string) *metrics.Server {
	if listen == "" {
		return nil
	}
	src := metrics.Source{
		Engine: o.eng, Store: o.store, QueueNum: o.queueNum, Started: o.started,
		Reloads: o.reloadCounts, Sinks: o.logs.Stats, Fastpath: o.fastpathAccepted,
	}
	if o.sensor != nil {
		// A sensor has no queue: the kernel's queues are another daemon's.
		src.Kernel = func() ([]engine.KernelQueue, error) { return nil, nil }
	}
	reg := metrics.NewRegistry(src)
	if o.sensor != nil {
		reg.MustRegister(ringCollector{stats: o.sensor.Stats, frames: o.sensor.Counters})
	}
	srv, err := metrics.Listen(listen, reg, o.log)
	if err != nil {
		o.log.Error("metrics endpoint unavailable", "err", err)
		return nil
	}
	return srv
}
