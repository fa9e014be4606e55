// Command conduit is an inline segmentation firewall for industrial
// networks: it decides every packet a Linux bridge forwards between two
// Purdue zones against a default-deny policy. See README.md.
package main

import (
	"fmt"
	"io"
	"os"
)

// version is set at build time: -ldflags "-X main.version=..."
var version = "0.1.0-dev"

type command struct {
	name, usage string
	run         func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"run", "run -c FILE [--remove-on-exit]  the daemon: install the nftables table, serve the queues", runDaemon},
		{"observe", "observe -c FILE -i IFACE[,IFACE...] [--workers N]  passive sensor on TAP/SPAN ports: judge and record copies, never transmit", runObserve},
		{"remove", "remove [--force]        delete the nftables table a fail-closed conduit keeps while stopped", runRemove},
		{"check", "check -c FILE [--json]  validate a policy file", runCheck},
		{"replay", "replay -c FILE [--json] [--events FILE] [--mode M] [--fail-on-drop] CAPTURE...  run captures through the engine, offline", runReplay},
		{"learn", "learn [-o FILE] [--zones FILE] [--matrix table|csv|json] | --timeouts -c FILE | --diff  INPUT... | --socket PATH  draft a policy from captures, event logs or conduit observe's live matrix", runLearn},
		{"status", "status [--json] [--socket PATH]   ask the daemon how it is doing", runStatus},
		{"hits", "hits [--json] [--socket PATH]     per-rule hits, and how long the cleanup rule has been quiet", runHits},
		{"flows", "flows [--json] [--socket PATH] [--zone Z] [--rule R] [--addr IP|CIDR] [--limit N]  tracked flows", runFlows},
		{"coverage", "coverage [--rule R] [--top N] [--json] [--socket PATH | -c FILE CAPTURE...]  what each rule carried: its tuples and requests", runCoverage},
		{"review", "review [--window DUR] [--json] [--socket PATH | -c FILE CAPTURE...]  narrowed rules, candidates and retire candidates, as YAML", runReview},
		{"ready", "ready [--conduit FROM->TO] [--quiet DUR] [--json] [--socket PATH | -c FILE CAPTURE...]  readiness for enforce; exit 0 ready, 1 not, 2 cannot tell", runReady},
		{"assets", "assets [--json] [--socket PATH] | assets [--json] CAPTURE...  asset inventory: addresses, MACs, device identities, services and their clients", runAssets},
		{"baseline", "baseline save -o FILE [--socket PATH]  save conduit observe's matrix and health figures for learn --diff", runBaseline},
		{"reload", "reload [--json] [--socket PATH]   reload the policy file now and print the result", runReload},
		{"report", "report -o FILE.html [--socket PATH | -c FILE CAPTURE...]  one self-contained HTML page: zone map, matrix, rules", runReport},
		{"version", "version                 print the version", func([]string, io.Writer, io.Writer) int {
			fmt.Println("conduit", version)
			return 0
		}},
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: conduit COMMAND [flags]")
	for _, c := range commands() {
		fmt.Fprintln(w, "  conduit", c.usage)
	}
}

func main() {
	if len(os.Args) < 2 {
		usage(os.Stderr)
		os.Exit(2)
	}
	name := os.Args[1]
	for _, c := range commands() {
		if c.name == name {
			os.Exit(c.run(os.Args[2:], os.Stdout, os.Stderr))
		}
	}
	if name == "-h" || name == "--help" || name == "help" {
		usage(os.Stdout)
		return
	}
	fmt.Fprintf(os.Stderr, "conduit: unknown command %q\n", name)
	usage(os.Stderr)
	os.Exit(2)
}
