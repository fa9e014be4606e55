package main

// How the daemon stops: signals are taken from the first instant of
// `conduit run`, and the nftables table is left the way queue.fail_open
// says the kernel should behave while no conduit runs.

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/engine/nft"
	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/internal/earlysig"
)

// signals are the daemon's signals, subscribed before anything else is
// done, so that a SIGTERM during the start ends the start cleanly instead
// of killing the process with its table half made. What arrives during the
// start waits in the channel until the start can act on it.
type signals struct {
	ch   chan os.Signal
	stop os.Signal // the SIGINT or SIGTERM received, once one was
	hup  bool      // a SIGHUP arrived during the start
	usr1 bool      // a SIGUSR1 arrived during the start
}

// notifySignals takes the subscription earlysig made while the program
// initialized, or makes it now.
func notifySignals() *signals {
	s := &signals{ch: earlysig.Take()}
	if s.ch == nil {
		s.ch = make(chan os.Signal, 8)
		signal.Notify(s.ch, earlysig.Signals...)
	}
	return s
}

func (s *signals) close() { signal.Stop(s.ch) }

// stopping takes the signals that arrived so far, without waiting, and
// reports whether one of them asks the daemon to stop.
func (s *signals) stopping() bool {
	for {
		select {
		case sig := <-s.ch:
			s.note(sig)
		default:
			return s.stop != nil
		}
	}
}

func (s *signals) note(sig os.Signal) {
	switch sig {
	case syscall.SIGHUP:
		s.hup = true
	case syscall.SIGUSR1:
		s.usr1 = true
	default:
		if s.stop == nil {
			s.stop = sig
		}
	}
}

// serve handles signals until one asks the daemon to stop: SIGHUP reloads,
// SIGUSR1 reopens the log file. Those that arrived during the start are
// handled first (the file may have changed after it was read).
func (s *signals) serve(reloader *inforce.Reloader, o *ops) {
	log := o.log
	for !s.stopping() {
		if !s.hup && !s.usr1 {
			s.note(<-s.ch)
			continue
		}
		if s.hup {
			s.hup = false
			reloader.Reload("sighup")
		}
		if s.usr1 {
			s.usr1 = false
			// logrotate moved the file away: continue in a new one.
			if err := o.logs.Reopen(); err != nil {
				log.Error("reopening the log file failed", "err", err)
			} else {
				log.Info("log file reopened", "event", "log_reopen")
			}
		}
	}
	log.Info("stopping", "signal", s.stop.String())
}

// exitTable is what a stop does with the nftables table.
type exitTable struct {
	log *slog.Logger
	// keep leaves the table with a drop rule first, so the kernel drops
	// while no conduit runs: queue.fail_open false, unless --remove-on-exit.
	keep   bool
	reason string
}

func newExitTable(log *slog.Logger, failOpen, removeOnExit bool) exitTable {
	switch {
	case removeOnExit:
		return exitTable{log: log, reason: "--remove-on-exit"}
	case failOpen:
		return exitTable{log: log, reason: "queue.fail_open: true"}
	}
	return exitTable{log: log, keep: true, reason: "queue.fail_open: false"}
}

// divertStale stops the queueing of a conduit table found at the start (a
// daemon was killed, or stopped fail-closed), the way this policy fails:
// queues bound next would otherwise receive packets before their readers
// run, and the kernel drops what is queued when the stale table is replaced.
//
// A table whose queues a running conduit serves is not stale: the start
// then fails on the bound queue and must leave that table alone.
func (x exitTable) divertStale(failOpen bool, num, count uint16) {
	if x.servedElsewhere(num, count) {
		return // nfq.Open says so next
	}
	n, err := nft.Divert(0, !failOpen)
	switch {
	case err != nil:
		x.log.Warn("could not stop the queueing of the conduit table left in place; packets it queues before the new table is in place may be lost", "err", err)
	case n > 0:
		x.log.Info("a conduit table was left in place; it is replaced once the queues are bound", "tables", n,
			"kernel_meanwhile", kernelDoes(!failOpen))
	}
}

// servedElsewhere reports whether a queue of num..num+count-1 is bound by
// a process other than this one (which has closed its own, if any): then
// the conduit table is another daemon's, and a start must not touch it.
// When it cannot tell, it says so and answers yes.
func (x exitTable) servedElsewhere(num, count uint16) bool {
	qs, err := engine.ReadKernelQueues()
	if err != nil {
		x.log.Warn("cannot tell whether another conduit serves the table; leaving it as it is", "err", err)
		return true
	}
	for _, q := range qs {
		if q.Num >= num && uint32(q.Num) < uint32(num)+uint32(count) {
			return true
		}
	}
	return false
}

// stopQueueing puts a rule before the queue rule, so that no packet is
// queued any more while the readers judge those already queued. A kept
// table drops from now on; otherwise the kernel forwards.
func (x exitTable) stopQueueing(inst *nft.Installed) {
	if err := inst.Divert(x.keep); err != nil {
		x.log.Error("stopping the queueing failed; packets still queued when the queues close are dropped by the kernel", "err", err)
	}
}

// finish runs once the queues are drained and closed: it removes the table
// or leaves it, and says which and why. inst is nil when the start was
// interrupted before the table was installed.
func (x exitTable) finish(inst *nft.Installed, cfg nft.Config) error {
	var err error
	switch {
	case inst == nil && x.servedElsewhere(cfg.QueueNum, cfg.QueueCount):
		x.log.Info("stopped during the start; another conduit serves the queues, so its table stays as it is")
		return nil
	case !x.keep && inst != nil:
		err = inst.Remove()
	case !x.keep:
		// A stop during the start: no table of this run, but one may be
		// left from before, and fail-open means none at all.
		_, err = nft.RemoveAll(cfg.NetNS)
	case inst == nil:
		// Fail-closed from the first instant: the kernel drops from now on
		// even if this run never got to install its table.
		cfg.Bypass = false
		if inst, err = nft.Install(cfg, x.log); err == nil {
			err = inst.Divert(true)
		}
	}
	if err != nil {
		x.log.Error("leaving the nftables table as the policy says failed", "keep", x.keep, "err", err)
		return err
	}
	if x.keep {
		x.log.Warn("nftables table kept: the kernel drops forwarded traffic until conduit starts again; `conduit remove` deletes the table",
			"event", "table_kept", "table", nft.TableName, "kernel", kernelDoes(true), "why", x.reason)
	} else {
		x.log.Info("nftables table removed: the kernel forwards on its own", "event", "table_removed",
			"table", nft.TableName, "kernel", kernelDoes(false), "why", x.reason)
	}
	return nil
}

func kernelDoes(drop bool) string {
	if drop {
		return "drops"
	}
	return "forwards"
}
