package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/conduit-ot/conduit/control"
	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/engine/ctnl"
	"github.com/conduit-ot/conduit/engine/host"
	"github.com/conduit-ot/conduit/engine/nfq"
	"github.com/conduit-ot/conduit/engine/nft"
	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/metrics"
	"github.com/conduit-ot/conduit/rules"
)

// daemonFlags are the flags run and observe share: the policy, debug
// logging, the saved hit counters and the denied-line limit.
type daemonFlags struct {
	path, state *string
	debug       *bool
	saveEvery   *time.Duration
	limit       engine.DeniedLimit
}

// newDaemonFlags declares them on a new flag set for the command name:
// state is the hit counters' default file, lines what the denied-line
// limit counts.
func newDaemonFlags(name string, stderr io.Writer, state, lines string) (*flag.FlagSet, *daemonFlags) {
	fs := newFlags(name, "", stderr)
	d := &daemonFlags{
		path:      fs.String("c", "/etc/conduit/conduit.yaml", "policy file"),
		debug:     fs.Bool("debug", false, "log debug messages"),
		state:     fs.String("state", state, `file keeping the rule hit counters across restarts ("" keeps none)`),
		saveEvery: fs.Duration("state-every", time.Minute, "how often to save the hit counters (and at shutdown)"),
	}
	fs.IntVar(&d.limit.Burst, "denied-burst", 20, lines+" log lines per source address per window; more are counted in a later \"suppressed\" line (-1: no limit)")
	fs.DurationVar(&d.limit.Window, "denied-window", 10*time.Second, "the window of --denied-burst")
	return fs, d
}

// open loads the policy and opens the event log (openDaemon) for a
// daemon that keeps its live matrix in matrixState; the ops it returns
// carry the flags' settings, and the caller closes o.logs. A failure is
// reported on stderr (ok false: exit 1).
func (d *daemonFlags) open(stdout, stderr io.Writer, matrixState string) (pol *rules.Policy, o *ops, ok bool) {
	pol, logs, log, err := openDaemon(*d.path, *d.debug, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "conduit: %v\n", err)
		return nil, nil, false
	}
	return pol, &ops{logs: logs, log: log, state: *d.state, deniedLimit: d.limit, stdout: stdout, matrixState: matrixState}, true
}

// firstLook lets the start event wait for the policy file watcher's
// first look at the file, so that an edit after the event is the
// watcher's to see, never one it may miss or take for the start's own.
type firstLook struct {
	done chan struct{}
	once sync.Once
}

func newFirstLook() *firstLook { return &firstLook{done: make(chan struct{})} }

// seen is the reloader's OnWatch.
func (f *firstLook) seen() { f.once.Do(func() { close(f.done) }) }

// start runs the reloader's watch until ctx ends and waits up to five
// seconds for its first look; a watch that cannot start leaves SIGHUP.
func (f *firstLook) start(ctx context.Context, r *inforce.Reloader, log *slog.Logger) {
	go func() {
		if err := r.Watch(ctx); err != nil {
			log.Error("policy file watch unavailable; reload with SIGHUP", "err", err)
		}
		f.seen()
	}()
	select {
	case <-f.done:
	case <-time.After(5 * time.Second):
		log.Warn("the policy file watcher is slow to start; edits before it is ready are loaded once it is")
	}
}

func runDaemon(args []string, stdout, stderr io.Writer) int {
	// Before anything else: a SIGTERM from here on ends the start cleanly.
	sigs := notifySignals()
	defer sigs.close()
	fs, df := newDaemonFlags("run", stderr, "/var/lib/conduit/state.json", "denied-flow")
	matrixState := fs.String("matrix-state", "", `file keeping the live matrix (conduit baseline save) across restarts; default matrix.json beside --state ("" with --state "" keeps none)`)
	removeOnExit := fs.Bool("remove-on-exit", false, "delete the nftables table at exit even with queue.fail_open: false (decommissioning)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	pol, o, ok := df.open(stdout, stderr, *matrixState)
	if !ok {
		return 1
	}
	// Last out: what is queued for the sinks gets a few seconds to leave.
	defer o.logs.Close(3 * time.Second)
	if o.matrixState == "" && o.state != "" {
		o.matrixState = filepath.Join(filepath.Dir(o.state), "matrix.json")
	}
	if err := serve(*df.path, pol, o, *df.saveEvery, sigs, *removeOnExit); err != nil {
		o.log.Error("conduit stopped", "err", err)
		fmt.Fprintf(stderr, "conduit: %v\n", err)
		return 1
	}
	return 0
}

// serve runs the daemon until SIGINT or SIGTERM, also when one arrives
// during the start.
func serve(path string, pol *rules.Policy, o *ops, saveEvery time.Duration, sigs *signals, removeOnExit bool) error {
	log := o.log
	for _, w := range pol.Warnings {
		log.Warn("policy warning", "warning", w.String())
	}
	if err := host.PrepareBridge(log); err != nil {
		return err
	}
	count := int(pol.Queue.Count)
	if count == 0 {
		count = 1
	}
	store := inforce.NewStore(pol)
	// One worker per queue, and with protocol-condition rules one more for
	// the app queue (num+count): their flows never pass unjudged.
	app := 0
	if nft.NeedsAppQueue(pol) {
		app = 1
	}
	feed := o.startLive(count + app)
	eng := engine.New(engine.Config{Store: store, Workers: count + app, Log: log, VerdictMark: nft.MarkJudged,
		OnPacket: feed.push, OnKernelCounts: feed.counted})
	o.eng, o.store, o.queueNum, o.started = eng, store, pol.Queue.Num, time.Now()
	// Counting continues on top of the saved counts.
	o.loadState()
	o.checkPorts(pol)
	if pol.Conntrack.Seed {
		seedFromKernel(eng, o.log)
	}
	fastpath := startFastpath(eng, log)
	exit := newExitTable(log, pol.Queue.FailOpen, removeOnExit)
	nftCfg := nft.Config{QueueNum: pol.Queue.Num, QueueCount: uint16(count), Bypass: pol.Queue.FailOpen,
		Policy: pol, Filter: nft.FilterConfig{LogGroup: pol.Queue.NFLOGGroup}, AppQueue: app == 1, Fastpath: fastpath}
	// A stop before the table is in place: nothing was queued to this run.
	abort := func(queues []*nfq.Queue) error {
		for _, q := range queues {
			q.Close()
		}
		log.Info("stopping during the start", "signal", sigs.stop.String())
		err := exit.finish(nil, nftCfg)
		log.Info("conduit stopped", "event", "stop", "during_start", true, "packets", 0)
		return err
	}
	if sigs.stopping() {
		return abort(nil)
	}
	exit.divertStale(pol.Queue.FailOpen, pol.Queue.Num, uint16(count))

	// Bind the queues before the rule exists, so no packet is ever queued
	// to a queue without a reader.
	queues := make([]*nfq.Queue, 0, count+app)
	closeQueues := func() {
		for _, q := range queues {
			q.Close()
		}
	}
	for i := range count + app {
		if sigs.stopping() {
			return abort(queues)
		}
		num := pol.Queue.Num + uint16(i)
		// A full queue accepts (queue.overload) or drops; the app queue
		// always drops: its traffic waits for inspection or does not pass.
		q, err := nfq.Open(nfq.Config{Num: num, FailOpen: pol.Queue.OverloadAccept && i < count})
		if err != nil {
			closeQueues()
			if errors.Is(err, nfq.ErrBusy) {
				return fmt.Errorf("%w: is another conduit (or another NFQUEUE program) running in this namespace? see /proc/net/netfilter/nfnetlink_queue, or choose another queue.num", err)
			}
			return err
		}
		queues = append(queues, q)
	}
	if sigs.stopping() {
		return abort(queues)
	}
	inst, err := nft.Install(nftCfg, log)
	if err != nil && fastpath {
		// A kernel without nft's ct expression refuses the fast-path rule:
		// queue every packet rather than not run.
		log.Warn("fast path off: the kernel refused the fast-path rule", "event", "fastpath", "err", err.Error())
		eng.DisableFastpath()
		fastpath, nftCfg.Fastpath = false, false
		inst, err = nft.Install(nftCfg, log)
	}
	if err != nil {
		closeQueues()
		return err
	}
	o.kernel, o.appQueue = inst, app == 1
	eng.SetKernelCounts(kernelCounts(inst))
	if fastpath {
		o.fastpathCounter = inst.FastpathCounter
	}

	ctx, cancel := context.WithCancel(context.Background())
	logCtx, stopLog := context.WithCancel(context.Background())
	var logDone sync.WaitGroup
	logDone.Go(func() { eng.RunLimited(logCtx, o.deniedLimit) })
	go eng.Sweep(ctx, time.Second)
	if fastpath {
		go keepFastpathAlive(ctx, inst, log)
	}
	go func() {
		if err := eng.WatchLinks(ctx); err != nil {
			log.Warn("link events unavailable: a port renamed under its index goes unnoticed until conduit reads the interfaces again", "err", err)
		}
	}()
	go o.reportLogLoss(ctx, 10*time.Second)
	go o.saveStateEvery(ctx, saveEvery)

	stop := make(chan struct{})
	var workers sync.WaitGroup
	for i, q := range queues {
		workers.Go(func() { eng.Serve(ctx, i, q, stop) })
	}
	if inst.Logging {
		go o.readKernelLog(ctx, pol.Queue.NFLOGGroup)
	}
	// The start event waits for the watcher's first look at the file.
	watch := newFirstLook()
	// The kernel's table follows the policy: replaced in one batch before
	// the swap, or the reload is refused.
	reloader := &inforce.Reloader{Path: path, Store: store, Log: log, Load: o.loadPolicy, OnSwap: o.onSwap, OnWatch: watch.seen,
		Prepare: func(_ *inforce.Active, next *rules.Policy) error { return inst.Replace(next) }}
	o.reloader = reloader
	// After the queues: a second daemon fails on its queue before it can
	// take over anything; before the start event: tests and scripts that
	// wait for it may ask at once.
	ctl := o.startControl(pol.Control.Socket)
	met := o.startMetrics(pol.Metrics.Listen)
	watch.start(ctx, reloader, log)
	log.Info("conduit started", "event", "start", "version", version, "file", path, "sha256", pol.SHA256,
		"mode", pol.Mode.String(), "conduits", len(pol.Conduits), "rules", len(pol.Rules),
		"queue_num", pol.Queue.Num, "queue_count", count, "fail_open", pol.Queue.FailOpen,
		"overload", overloadWord(pol.Queue.OverloadAccept), "app_queue", appQueueNum(pol, count, app),
		"nft_method", string(inst.Method), "nflog_group", nflogGroup(inst, pol), "conntrack_capacity", eng.Conntrack().Capacity(),
		"control_socket", ctlPath(ctl), "metrics", metAddr(met), "state_file", o.state)

	// Returns at once when a stop signal arrived during the start.
	sigs.serve(reloader, o)
	if ctl != nil {
		ctl.Close()
	}
	if met != nil {
		met.Close()
	}

	// Shutdown: first stop queueing without unregistering anything (the
	// kernel would drop what is queued), then give every packet already
	// queued its verdict, then let go and leave the table as the policy
	// says: removed (the kernel forwards) or kept with a drop rule first.
	exit.stopQueueing(inst)
	close(stop)
	workers.Wait()
	// No flow stays on the fast path without conduit behind it.
	if _, err := eng.ClearFastpath(); err != nil {
		log.Error("clearing the fast path at stop failed", "err", err)
	}
	cancel()
	closeQueues()
	rmErr := exit.finish(inst, nftCfg)
	o.stopLive()
	o.saveState()
	// The pre-filter's drops; a removed table's counts stay readable.
	var kernelDropped uint64
	if kc, _, err := eng.KernelCounts(); err == nil {
		for _, d := range kc.Dropped {
			kernelDropped += d.Packets
		}
	}
	c := eng.Counters()
	log.Info("conduit stopped", "event", "stop", "packets", c.Packets, "accepted", c.Accepted,
		"dropped", c.Dropped, "would_drop", c.WouldDrop, "malformed", c.Malformed, "panics", c.Panics,
		"kernel_dropped", kernelDropped, "matrix_dropped", feed.dropped())
	stopLog()
	logDone.Wait()
	return rmErr
}

func ctlPath(s *control.Server) string {
	if s == nil {
		return ""
	}
	return s.Path()
}

func metAddr(s *metrics.Server) string {
	if s == nil {
		return ""
	}
	return s.Addr().String()
}

// seedFromKernel tracks the sessions the kernel's connection table holds
// in this namespace (those that ran while conduit was stopped or before it
// was put inline), so they are not met mid-stream. A kernel without
// ctnetlink only costs the head start.
func seedFromKernel(eng *engine.Engine, log *slog.Logger) {
	c, err := ctnl.Dial()
	if err == nil {
		defer c.Close()
		var entries []ctnl.Entry
		if entries, err = ctnl.Dump(c); err == nil {
			res := eng.Seed(entries)
			log.Info("connection table seeded from the kernel", "event", "seed", "kernel_entries", len(entries),
				"seeded", res.Seeded, "denied", res.Denied, "skipped", res.Skipped)
			return
		}
	}
	log.Warn("connection table not seeded from the kernel; running sessions are picked up on their next packet",
		"event", "seed", "err", err.Error())
}
