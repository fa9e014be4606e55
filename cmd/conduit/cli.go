package main

// The command kit: how the client and offline subcommands make their flag
// set, parse their command line and print their answer, so that the exit
// codes of PRODUCT.md (0 after -h, 2 for a bad command line) and the
// JSON-or-text output are written once. The daemons (run, observe) and
// remove parse their own flags.

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/conduit-ot/conduit/rules"
)

// newFlags is a subcommand's flag set; its errors go to stderr. A usage
// text, when given, is printed above the flags' defaults (setUsage).
func newFlags(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if usage != "" {
		setUsage(fs, usage)
	}
	return fs
}

// setUsage makes -h and a bad flag print usage, then the flags' defaults.
func setUsage(fs *flag.FlagSet, usage string) {
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), usage)
		fs.PrintDefaults()
	}
}

// parseFlags parses args and says how to go on: -1 to run the command, or
// its exit code, 0 after -h and 2 for a bad flag.
func parseFlags(fs *flag.FlagSet, args []string) int {
	return parseExit(fs.Parse(args))
}

// parseAnyOrder is parseFlags for commands whose flags may come after the
// positional arguments too (parseArgsAnyOrder).
func parseAnyOrder(fs *flag.FlagSet, args []string) int {
	return parseExit(parseArgsAnyOrder(fs, args))
}

func parseExit(err error) int {
	switch {
	case err == nil:
		return -1
	case errors.Is(err, flag.ErrHelp):
		return 0
	}
	return 2
}

// parseArgsAnyOrder parses flags that may come after the positional
// arguments too (conduit replay a.pcap -c p.yaml), as operators type them.
func parseArgsAnyOrder(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

// parseWindow is parseAnyOrder for the commands that judge a window
// (ready, review, report), and returns the window: flagValue, the flag named window,
// a policy duration (14d, 3h) above zero. A bad one is the command's
// error, exit 2.
func parseWindow(fs *flag.FlagSet, args []string, window string, flagValue *string) (time.Duration, int) {
	if code := parseAnyOrder(fs, args); code >= 0 {
		return 0, code
	}
	v := *flagValue
	d, err := rules.ParseDuration(v)
	if err != nil || d <= 0 {
		fmt.Fprintf(fs.Output(), "conduit %s: --%s %q is not a duration\n", fs.Name(), window, v)
		return 0, 2
	}
	return d, -1
}

// printJSON prints v as indented JSON, the form of every --json; the exit
// code is 1 when it cannot be written.
func printJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return 1
	}
	return 0
}

// query is a client command that asks the daemon one thing and prints the
// answer (status, hits, flows): the flags of every client command and its
// own, the call, then JSON with --json or the text for people.
type query[T any] struct {
	name  string                      // the command, and what it asks the daemon
	flags func(*flag.FlagSet) any     // adds the command's own flags; returns the call's arguments
	json  func(*T) any                // what --json prints, when not the whole answer
	text  func(w io.Writer, reply *T) // the text for people
}

func (q query[T]) run(args []string, stdout, stderr io.Writer) int {
	fs, cf := newClientFlags(q.name, stderr)
	var a any
	if q.flags != nil {
		a = q.flags(fs)
	}
	if code := parseClient(fs, args); code >= 0 {
		return code
	}
	var r T
	if code := cf.call(q.name, a, &r, stderr); code != 0 {
		return code
	}
	var v any = &r
	if q.json != nil {
		v = q.json(&r)
	}
	return cf.output(stdout, v, func(w io.Writer) { q.text(w, &r) })
}

// output prints a client command's answer: v as JSON with --json, else
// the text for people.
func (c *clientFlags) output(stdout io.Writer, v any, text func(io.Writer)) int {
	if c.json {
		return printJSON(stdout, v)
	}
	text(stdout)
	return 0
}
