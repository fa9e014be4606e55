// Command plantpeer is the set of small traffic peers that e2e tests, the
// demo and the bench run inside plant namespaces. Every subcommand is
// bounded in count and time and exits on its own; results are JSON lines
// on stdout so that scripts and tests can assert on them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// command is one subcommand. It parses its own flags from args; a flag
// error is returned as usageError.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"tcp-server":   {"TCP echo server: -l ADDR [-for D]", runTCPServer},
	"udp-server":   {"UDP echo server: -l ADDR [-for D]", runUDPServer},
	"probe":        {"one exchange: -proto tcp|udp|icmp -addr HOST[:PORT] [-timeout 1s] [-n 1] [-src IP]", runProbe},
	"pingpong":     {"request/response latency: -proto udp|tcp -addr HOST:PORT [-size 64] [-n 20000] [-warmup 1000] [-json]", runPingPong},
	"flood":        {"UDP sender: -addr HOST:PORT [-size 64] [-for 5s]", runFlood},
	"udp-sink":     {"UDP packets/s receiver: -l ADDR [-for 7s] [-idle 1s] [-by-source]", runSink},
	"modbus-plc":   {"Modbus/TCP server: -l ADDR [-for D]", runPLC},
	"modbus-hmi":   {"Modbus/TCP poller: -addr HOST:PORT [-n 10] [-interval 100ms] [-write] [-src IP]", runHMI},
	"opcua-server": {"OPC UA server (security None): -l ADDR [-for D]", runOPCUAServer},
	"opcua-client": {"OPC UA client (security None): -addr HOST:PORT [-ops read,browse,write,call] [-timeout 2s] [-src IP]", runOPCUAClient},
}

// usageError marks bad command lines (exit 2) apart from failures (exit 1).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "help" || args[0] == "--help" {
		usage(stderr)
		return 2
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "plantpeer: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	if err := c.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 2
		}
		fmt.Fprintf(stderr, "plantpeer %s: %v\n", args[0], err)
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: plantpeer COMMAND [flags]")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-11s %s\n", n, commands[n].summary)
	}
}
