package main

import (
	"context"
	"errors"
	"time"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/engine/nflog"
	"github.com/conduit-ot/conduit/engine/nft"
	"github.com/conduit-ot/conduit/rules"
	"golang.org/x/sys/unix"
)

// kernelCounts adapts the table's counters to the engine's.
func kernelCounts(inst *nft.Installed) func() (engine.KernelCounts, error) {
	return func() (engine.KernelCounts, error) {
		c, err := inst.Counters()
		if err != nil {
			return engine.KernelCounts{}, err
		}
		out := engine.KernelCounts{Dropped: make(map[string]engine.KernelCounter, len(c.Dropped)),
			Unjudged: engine.KernelCounter(c.Unjudged)}
		for name, d := range c.Dropped {
			out.Dropped[name] = engine.KernelCounter(d)
		}
		out.Layer2 = layer2Counts(c.Layer2)
		return out, nil
	}
}

// readKernelLog turns the pre-filter's NFLOG messages into verdict lines
// (reason kernel-deny), and the bridge table's into layer2 lines (reason
// layer2-deny, layer2.go), until ctx ends. The kernel rate-limits them per
// rule; the engine's log writer limits them per source like any denied
// line.
func (o *ops) readKernelLog(ctx context.Context, group uint16) {
	r, err := nflog.Open(group, 0, 200*time.Millisecond)
	if err != nil {
		o.log.Error("kernel drops are counted but not logged: the nflog group is unavailable",
			"event", "nflog", "group", group, "err", err)
		return
	}
	defer r.Close()
	var m nflog.Message
	var lastErr time.Time
	for ctx.Err() == nil {
		err := r.Read(&m)
		switch {
		case err == nil && m.Family == unix.NFPROTO_BRIDGE:
			if f, ok := layer2Frame(o.eng, &m); ok {
				o.eng.Layer2Refused(f)
			}
		case err == nil:
			o.eng.KernelDenied(string(m.Prefix), m.Payload)
		case errors.Is(err, nflog.ErrTimeout):
		default:
			if time.Since(lastErr) > time.Second {
				o.log.Error("nflog read failed; continuing", "event", "nflog", "group", group, "err", err)
				lastErr = time.Now()
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func overloadWord(accept bool) string {
	if accept {
		return "accept"
	}
	return "drop"
}

func nflogGroup(inst *nft.Installed, pol *rules.Policy) int {
	if !inst.Logging {
		return 0
	}
	return int(pol.Queue.NFLOGGroup)
}

// appQueueNum is the app queue's number, -1 without one.
func appQueueNum(pol *rules.Policy, count, app int) int {
	if app == 0 {
		return -1
	}
	return int(pol.Queue.Num) + count
}
