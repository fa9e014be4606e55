// Package earlysig subscribes `conduit run` to its signals while the
// program is still initializing. Until a Go program asks for a signal, the
// runtime applies its default action, and for SIGTERM that is to die; the
// daemon's packages (metrics, protobuf, policy schema) take tens of
// milliseconds to initialize before main runs, which is when systemd's
// stop used to kill a start half done.
//
// Go initializes packages in the lexical order of their import paths among
// those whose imports are initialized. This one imports only os and
// os/signal, so it runs as soon as they are ready, ahead of the heavy ones.
package earlysig

import (
	"os"
	"os/signal"
	"syscall"
)

// Signals are the signals the daemon handles.
var Signals = []os.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGINT, syscall.SIGTERM}

var early chan os.Signal

func init() {
	if len(os.Args) > 1 && os.Args[1] == "run" {
		early = make(chan os.Signal, 8)
		signal.Notify(early, Signals...)
	}
}

// Take returns the channel subscribed to Signals at initialization, with
// whatever arrived since, or nil when the program is not `conduit run`.
// Only the first call gets it.
func Take() chan os.Signal {
	ch := early
	early = nil
	return ch
}
