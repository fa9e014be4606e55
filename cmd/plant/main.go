// Command plant builds and removes the netns plant topology for shell
// scripts (demo, bench, e2e):
//
//	export $(plant up -prefix bn1)   # FW=bn1fw OPS=bn1ops ... CTL_IP=10.10.0.10
//	plant down -prefix bn1
//	plant cleanup -pattern 'bn*'     # stale plants of crashed runs
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/conduit-ot/conduit/internal/plant"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  plant up -prefix P        build the plant, print KEY=value lines (export $(plant up ...))
  plant env -prefix P       print the same lines without building anything
  plant down -prefix P      remove the plant and stop processes left inside it
  plant cleanup -pattern G  remove stale plants whose prefix matches glob G
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("plant "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	prefix := fs.String("prefix", "", "namespace name prefix (a-z0-9-_, at most 12 characters)")
	pattern := fs.String("pattern", "", "glob over plant prefixes (cleanup)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "plant %s: unexpected arguments %q\n", cmd, fs.Args())
		return 2
	}
	needPrefix := func() bool {
		if *prefix == "" {
			fmt.Fprintf(stderr, "plant %s: -prefix is required\n", cmd)
			return false
		}
		return true
	}
	switch cmd {
	case "up":
		if !needPrefix() {
			return 2
		}
		p, err := plant.Up(*prefix)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		writeEnv(stdout, p)
	case "env":
		if !needPrefix() {
			return 2
		}
		writeEnv(stdout, plant.Layout(*prefix))
	case "down":
		if !needPrefix() {
			return 2
		}
		if err := plant.Layout(*prefix).Down(); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	case "cleanup":
		if *pattern == "" {
			fmt.Fprintln(stderr, "plant cleanup: -pattern is required")
			return 2
		}
		removed, err := plant.Cleanup(*pattern)
		for _, ns := range removed {
			fmt.Fprintln(stdout, "removed", ns)
		}
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "plant: unknown command %q\n%s", cmd, usage)
		return 2
	}
	return 0
}

// writeEnv prints one KEY=value line per name and address. Values never
// contain spaces or shell metacharacters, so `export $(plant up ...)` and
// eval both work.
func writeEnv(w io.Writer, p *plant.Plant) {
	fmt.Fprintf(w, "PREFIX=%s\n", p.Prefix)
	fmt.Fprintf(w, "FW=%s\n", p.FW)
	fmt.Fprintf(w, "BRIDGE=%s\n", plant.Bridge)
	for _, z := range plant.Zones() {
		h := p.Host(z)
		k := strings.ToUpper(z)
		fmt.Fprintf(w, "%s=%s\n%s_IP=%s\n%s_IP6=%s\n", k, h.NS, k, h.IPv4, k, h.IPv6)
	}
	fmt.Fprintf(w, "EWS_IP=%s\n", plant.EWS)
}
