package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"
)

// newFlags returns a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("plantpeer "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parse parses args, rejects positional leftovers and checks that the
// flags named in hostPorts are IP:PORT (needHostPort).
func parse(fs *flag.FlagSet, args []string, hostPorts ...string) error {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	for _, name := range hostPorts {
		if err := needHostPort(name, fs.Lookup(name).Value.String()); err != nil {
			return err
		}
	}
	return nil
}

// usagef builds a usageError.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// needHostPort validates a HOST:PORT flag value.
func needHostPort(flagName, v string) error {
	if v == "" {
		return usagef("-%s is required", flagName)
	}
	if _, err := netip.ParseAddrPort(v); err != nil {
		return usagef("-%s %q: want IP:PORT ([v6]:PORT for IPv6): %v", flagName, v, err)
	}
	return nil
}

// localAddr parses the -src flag: an IP to bind outgoing sockets to.
func localAddr(src string) (netip.Addr, error) {
	if src == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(src)
	if err != nil {
		return netip.Addr{}, usagef("-src %q: %v", src, err)
	}
	return a, nil
}

// dialer binds to src when it is valid.
func dialer(proto string, src netip.Addr, timeout time.Duration) *net.Dialer {
	d := &net.Dialer{Timeout: timeout}
	if src.IsValid() {
		switch proto {
		case "tcp":
			d.LocalAddr = net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		case "udp":
			d.LocalAddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		}
	}
	return d
}

// lifetime derives the context a server runs in: until killed, or for d.
func lifetime(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

func writeJSON(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// us converts a duration to microseconds with one decimal.
func us(d time.Duration) float64 {
	return float64(d.Nanoseconds()/100) / 10
}

// serverFlags are the flags every server takes: -l, where it listens,
// and -for, how long it lives.
type serverFlags struct {
	listen *string
	dur    *time.Duration
}

func newServerFlags(fs *flag.FlagSet) serverFlags {
	return serverFlags{
		listen: fs.String("l", "", "listen address IP:PORT"),
		dur:    fs.Duration("for", serverLifetime, "exit after this long (0: until killed)"),
	}
}

// runServer runs a server that takes no flags but -l and -for: serve
// listens on -l until ctx, bounded by -for, ends.
func runServer(ctx context.Context, name string, args []string, stderr io.Writer, serve func(ctx context.Context, listen string) error) error {
	fs := newFlags(name, stderr)
	sf := newServerFlags(fs)
	ctx, cancel, err := sf.start(ctx, fs, args)
	if err != nil {
		return err
	}
	defer cancel()
	return serve(ctx, *sf.listen)
}

// start parses args, checks -l and bounds ctx by -for; the caller must
// call cancel when it gets no error.
func (s serverFlags) start(ctx context.Context, fs *flag.FlagSet, args []string) (context.Context, context.CancelFunc, error) {
	if err := parse(fs, args, "l"); err != nil {
		return nil, nil, err
	}
	ctx, cancel := lifetime(ctx, *s.dur)
	return ctx, cancel, nil
}
