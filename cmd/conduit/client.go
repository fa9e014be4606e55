package main

// The client side of the control socket, shared by status, hits, flows
// and reload.

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/conduit-ot/conduit/control"
	"github.com/conduit-ot/conduit/report"
	"github.com/conduit-ot/conduit/rules"
)

const (
	defaultPolicy = "/etc/conduit/conduit.yaml"
	defaultSocket = "/run/conduit.sock"
	clientTimeout = 30 * time.Second
)

// clientFlags are the flags every client command takes.
type clientFlags struct {
	json   bool
	socket string
	config string
}

func newClientFlags(name string, stderr io.Writer) (*flag.FlagSet, *clientFlags) {
	fs := newFlags(name, "", stderr)
	c := &clientFlags{}
	fs.BoolVar(&c.json, "json", false, "print JSON for tools")
	fs.StringVar(&c.socket, "socket", "", "the daemon's control socket (default: control.socket of -c, else "+defaultSocket+")")
	fs.StringVar(&c.config, "c", defaultPolicy, "policy file whose control.socket to use when --socket is not given")
	return fs, c
}

// socketPath is --socket, else the control.socket of the policy file, else
// the default.
func (c *clientFlags) socketPath() string {
	if c.socket != "" {
		return c.socket
	}
	if _, err := os.Stat(c.config); err == nil {
		if p, err := rules.Load(c.config); err == nil && p.Control.Socket != "" {
			return p.Control.Socket
		}
	}
	return defaultSocket
}

// call asks the daemon and reports a failure on stderr; it returns the
// exit code for the failure (1) or 0.
func (c *clientFlags) call(cmd string, args, result any, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	if err := control.Call(ctx, c.socketPath(), cmd, args, result); err != nil {
		fmt.Fprintf(stderr, "conduit %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// parseClient parses a client command's flags; extra positional
// arguments are a usage error.
func parseClient(fs *flag.FlagSet, args []string) int {
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "conduit %s: unexpected arguments %q\n", fs.Name(), fs.Args())
		fs.Usage()
		return 2
	}
	return -1
}

// fmtAgo formats a duration for people: 45s, 12m05s, 3h12m, 19d04h; the
// report's form, so that the page and the terminal say the same.
func fmtAgo(d time.Duration) string { return report.Ago(d) }

// fmtCount formats a counter compactly: 999, 12.3k, 4.5M, 6.7G.
func fmtCount(n uint64) string {
	switch {
	case n < 10000:
		return fmt.Sprint(n)
	case n < 1e6:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	case n < 1e9:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	default:
		return fmt.Sprintf("%.1fG", float64(n)/1e9)
	}
}

// fmtBytes formats a byte count: 512B, 1.5KiB, 3.0MiB.
func fmtBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
