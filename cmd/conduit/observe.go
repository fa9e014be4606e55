package main

// conduit observe: the passive sensor. It reads copies of traffic from TAP
// or SPAN ports and runs them through the daemon's engine, with the
// daemon's log, control socket, hit counters and reloads, but no queue, no
// nftables table and no verdict: what it judges has already passed.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/conduit-ot/conduit/assets"
	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/engine/tap"
	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/learn"
	"github.com/conduit-ot/conduit/rules"
)

func runObserve(args []string, stdout, stderr io.Writer) int {
	sigs := notifySignals()
	defer sigs.close()
	fs, df := newDaemonFlags("observe", stderr, "/var/lib/conduit/observe-state.json", "would-drop")
	var ifaces stringList
	fs.Var(&ifaces, "i", "interface to observe (a TAP's or SPAN port's); repeat or separate with commas; both ports of a TAP make one flow")
	workers := fs.Int("workers", runtime.NumCPU(), "engine workers, each reading one ring per interface (fanout by a symmetric flow hash)")
	ringMB := fs.Int("ring-mb", 16, "ring size per worker and interface, in MiB")
	socket := fs.String("socket", "", "control socket, instead of the policy's control.socket (a sensor beside an inline conduit needs its own)")
	matrixState := fs.String("matrix-state", "/var/lib/conduit/observe-matrix.json", `file keeping the live matrix (conduit baseline save) across restarts ("" keeps none)`)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if len(ifaces) == 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: conduit observe -c FILE -i IFACE[,IFACE...]")
		return 2
	}
	if *workers < 1 || *ringMB < 1 {
		fmt.Fprintln(stderr, "conduit: --workers and --ring-mb must be at least 1")
		return 2
	}
	pol, o, ok := df.open(stdout, stderr, *matrixState)
	if !ok {
		return 1
	}
	// Last out: what is queued for the sinks gets a few seconds to leave.
	defer o.logs.Close(3 * time.Second)
	o.passive = true
	cfg := tap.Config{Ifaces: ifaces, Workers: *workers, Log: o.log, RingBytes: *ringMB << 20}
	if err := observe(*df.path, pol.Passive(), o, cfg, *socket, *df.saveEvery, sigs); err != nil {
		o.log.Error("conduit stopped", "err", err)
		fmt.Fprintf(stderr, "conduit: %v\n", err)
		return 1
	}
	return 0
}

// observe runs the sensor until SIGINT or SIGTERM.
func observe(path string, pol *rules.Policy, o *ops, cfg tap.Config, socket string, saveEvery time.Duration, sigs *signals) error {
	log := o.log
	for _, w := range pol.Warnings {
		log.Warn("policy warning", "warning", w.String())
	}
	store := inforce.NewStore(pol)
	eng := engine.New(engine.Config{Store: store, Workers: cfg.Workers, Log: log})
	o.eng, o.store, o.started = eng, store, time.Now()
	o.loadState()
	if sigs.stopping() {
		log.Info("conduit stopped", "event", "stop", "during_start", true, "packets", 0)
		return nil
	}
	cfg.Engine = eng
	o.assets = assets.New(cfg.Workers)
	o.live = learn.NewLive(cfg.Workers)
	o.liveSince, o.liveIfaces = time.Now(), cfg.Ifaces
	o.loadMatrix()
	cfg.OnFrame = func(i int, ts int64, frame, ip []byte) {
		o.assets.Frame(i, ts, frame, ip)
		if ip != nil {
			o.live.Packet(i, ts, ip)
		}
	}
	sensor, err := tap.Open(cfg)
	if err != nil {
		return err
	}
	o.sensor = sensor

	ctx, cancel := context.WithCancel(context.Background())
	logCtx, stopLog := context.WithCancel(context.Background())
	var logDone sync.WaitGroup
	logDone.Go(func() { eng.RunLimited(logCtx, o.deniedLimit) })
	go eng.Sweep(ctx, time.Second)
	go o.reportLogLoss(ctx, 10*time.Second)
	go o.saveStateEvery(ctx, saveEvery)

	stop := make(chan struct{})
	var workers sync.WaitGroup
	for i := range cfg.Workers {
		workers.Go(func() { sensor.Serve(ctx, i, stop) })
	}
	watch := newFirstLook()
	reloader := &inforce.Reloader{Path: path, Store: store, Log: log, Load: o.loadPolicy, OnSwap: o.onSwap, OnWatch: watch.seen}
	o.reloader = reloader
	if socket == "" {
		socket = pol.Control.Socket
	}
	ctl := o.startControl(socket)
	met := o.startMetrics(pol.Metrics.Listen)
	watch.start(ctx, reloader, log)
	log.Info("conduit observing", "event", "start", "version", version, "observe", true, "file", path, "sha256", pol.SHA256,
		"mode", pol.Mode.String(), "policy_mode", pol.PolicyMode(0, 0).String(), "conduits", len(pol.Conduits),
		"rules", len(pol.Rules), "interfaces", strings.Join(cfg.Ifaces, ","), "workers", cfg.Workers,
		"conntrack_capacity", eng.Conntrack().Capacity(), "control_socket", ctlPath(ctl), "metrics", metAddr(met),
		"state_file", o.state, "matrix_state_file", o.matrixState)

	sigs.serve(reloader, o)
	if ctl != nil {
		ctl.Close()
	}
	if met != nil {
		met.Close()
	}
	close(stop)
	workers.Wait()
	cancel()
	rings := sensor.Stats()
	closeErr := sensor.Close()
	o.saveState()
	c := eng.Counters()
	var drops uint64
	for _, r := range rings {
		drops += r.Drops
	}
	log.Info("conduit stopped", "event", "stop", "observe", true, "packets", c.Packets, "would_drop", c.WouldDrop,
		"malformed", c.Malformed, "panics", c.Panics, "ring_drops", drops)
	stopLog()
	logDone.Wait()
	return closeErr
}

// stringList is a flag that may repeat and take comma-separated values.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// loadMatrix restores the live matrix an earlier run saved, so that weeks
// of observation survive restarts. A file that cannot be read is moved
// aside, as the hit counters' is.
func (o *ops) loadMatrix() {
	if o.matrixState == "" {
		return
	}
	m, err := learn.ReadBaselineFile(o.matrixState)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return
	case err != nil:
		bad := o.matrixState + ".bad"
		if rerr := os.Rename(o.matrixState, bad); rerr != nil {
			bad = ""
		}
		o.log.Error("live matrix not restored; starting empty", "event", "state", "file", o.matrixState, "err", err, "moved_to", bad)
		return
	}
	o.live.Load(m)
	if m.First != 0 {
		o.liveSince = time.Unix(0, m.First)
	}
	o.log.Info("live matrix restored", "event", "state", "file", o.matrixState, "services", len(m.Services()), "packets", m.Packets)
}
