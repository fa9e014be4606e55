package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/engine/ctnl"
	"github.com/conduit-ot/conduit/engine/host"
	"github.com/conduit-ot/conduit/engine/nft"
)

// startFastpath enables the kernel fast path for decided flows: conntrack
// accounting in this namespace (the counts of offloaded flows) and a
// ctnetlink connection per worker. Without them every packet is queued,
// as before; that is logged, not fatal.
func startFastpath(eng *engine.Engine, log *slog.Logger) bool {
	if err := host.PrepareAccounting(log); err != nil {
		log.Warn("fast path off: every packet is judged in userspace", "event", "fastpath", "err", err.Error())
		return false
	}
	verdict := host.CtVerdictMarks()
	err := eng.EnableFastpath(engine.FastpathConfig{
		Mark: nft.CtMarkFastpath,
		Open: func() (engine.KernelConntrack, error) {
			c, err := ctnl.Open()
			if err != nil {
				return nil, err
			}
			return c, nil
		},
		Verdict: verdict,
	})
	if err != nil {
		log.Warn("fast path off: every packet is judged in userspace", "event", "fastpath", "err", err.Error())
		return false
	}
	method := "ctnetlink"
	if verdict {
		method = "verdict"
	}
	log.Info("fast path on: the kernel passes decided flows", "event", "fastpath", "method", method)
	return true
}

// keepFastpathAlive renews the fail-closed table's alive element until ctx
// ends: if the daemon dies, offloaded flows stop passing within
// nft.AliveTimeout. A missed renewal costs speed (offloaded flows are
// queued, and conduit still passes them), never a verdict.
func keepFastpathAlive(ctx context.Context, inst *nft.Installed, log *slog.Logger) {
	t := time.NewTicker(nft.AliveTimeout / 4)
	defer t.Stop()
	var lastErr time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := inst.FastpathAlive(); err != nil && time.Since(lastErr) > 10*time.Second {
				log.Error("renewing the fast path's alive element failed", "event", "fastpath", "err", err.Error())
				lastErr = time.Now()
			}
		}
	}
}
