package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/conduit-ot/conduit/capture"

	"github.com/conduit-ot/conduit/replay"
	"github.com/conduit-ot/conduit/rules"
)

// Exit codes of replay and learn beyond 0 (success) and 2 (command line,
// unreadable or invalid policy).
const (
	exitCapture = 1 // a capture was unreadable, truncated or corrupt
	exitDropped = 3 // --fail-on-drop: something was or would have been dropped
)

// runReplay implements `conduit replay -c FILE [--json] [--events FILE]
// [--mode M] [--fail-on-drop] CAPTURE...`.
func runReplay(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("replay", "usage: conduit replay -c FILE [--json] [--events FILE] [--mode M] [--fail-on-drop] CAPTURE...", stderr)
	file := fs.String("c", "", "policy `file`")
	asJSON := fs.Bool("json", false, "print the summary as one JSON object")
	events := fs.String("events", "", "write the verdict and flow lines (JSON) to `file` (- for stdout)")
	mode := fs.String("mode", "", "replace the policy's global `mode` (passthrough, monitor, enforce); per-conduit modes still apply")
	failOnDrop := fs.Bool("fail-on-drop", false, "exit 3 when any packet was or would have been dropped")
	if code := parseAnyOrder(fs, args); code >= 0 {
		return code
	}
	if *file == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "conduit replay: need a policy (-c FILE) and at least one capture")
		fs.Usage()
		return 2
	}
	pol, err := rules.Load(*file)
	if err != nil {
		fmt.Fprintf(stderr, "conduit replay: %v\n", err)
		return 2
	}
	if *mode != "" {
		m, ok := rules.ParseMode(*mode)
		if !ok {
			fmt.Fprintf(stderr, "conduit replay: --mode must be passthrough, monitor or enforce, not %q\n", *mode)
			return 2
		}
		// The policy is ours alone: no daemon shares it.
		pol.Mode = m
		if !pol.Layer2.ModeSet {
			pol.Layer2.Mode = m // the layer2 section follows the global mode unless it sets its own
		}
	}

	cfg := replay.Config{Policy: pol}
	if *events != "" {
		w, closeEvents, err := createOutput(*events, stdout)
		if err != nil {
			fmt.Fprintf(stderr, "conduit replay: %v\n", err)
			return 2
		}
		defer closeEvents()
		cfg.Events = w
	}
	r := replay.New(cfg)
	code := 0
	for _, path := range chronological(fs.Args()) {
		if err := r.Open(path); err != nil {
			fmt.Fprintf(stderr, "conduit replay: %v (the packets before it were replayed)\n", err)
			code = exitCapture
		}
	}
	res, err := r.Result()
	if err != nil {
		fmt.Fprintf(stderr, "conduit replay: %v\n", err)
		code = exitCapture
	}
	if *asJSON {
		printJSON(stdout, res)
	} else {
		printReplay(stdout, pol, &res)
	}
	if *failOnDrop && res.Dropped() {
		if !*asJSON {
			fmt.Fprintf(stdout, "fail-on-drop: %d packets dropped, %d denied by the policy\n", res.Verdicts.Drop, res.WouldDrop)
		}
		return exitDropped
	}
	return code
}

// createOutput opens path for writing, "-" being stdout.
func createOutput(path string, stdout io.Writer) (io.Writer, func(), error) {
	if path == "-" {
		return stdout, func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("create %s: %w", path, err)
	}
	return f, func() { f.Close() }, nil
}

func printReplay(w io.Writer, pol *rules.Policy, res *replay.Result) {
	var span string
	var first, last *time.Time
	for _, c := range res.Captures {
		if c.First != nil && (first == nil || c.First.Before(*first)) {
			first = c.First
		}
		if c.Last != nil && (last == nil || c.Last.After(*last)) {
			last = c.Last
		}
	}
	if first != nil {
		span = fmt.Sprintf(", %s to %s (%s)", first.Format(time.RFC3339), last.Format(time.RFC3339), last.Sub(*first).Round(time.Second))
	}
	fmt.Fprintf(w, "replayed %s, global mode %s%s\n", plural(len(res.Captures), "capture"), pol.Mode, span)
	for _, c := range res.Captures {
		extra := ""
		if c.Skipped > 0 {
			extra += fmt.Sprintf(", %d non-IP frames skipped", c.Skipped)
		}
		if c.Snapped > 0 {
			extra += fmt.Sprintf(", %d packets cut by the snapshot length", c.Snapped)
		}
		if c.Error != "" {
			extra += "; STOPPED: " + c.Error
		}
		fmt.Fprintf(w, "  %s: %s, %d packets%s\n", c.Name, c.Format, c.Packets, extra)
	}
	fmt.Fprintf(w, "packets %d, flows %d, malformed %d\n", res.Packets, res.Flows, res.Malformed)
	fmt.Fprintf(w, "verdicts: %d accepted, %d dropped; %d denied by the policy (dropped in enforce, logged in monitor)\n",
		res.Verdicts.Accept, res.Verdicts.Drop, res.WouldDrop)
	printReplayLayer2(w, pol, res.Layer2)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tACTION\tPACKETS\tBYTES\tFLOWS\tFIRST HIT\tLAST HIT")
	for _, h := range res.Rules {
		name := h.Name
		if h.Cleanup {
			name += " (cleanup)"
		}
		if h.Index < 0 {
			name += " (not in policy)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%s\n", name, h.Action, h.Packets, h.Bytes, h.Flows, hitStamp(h.FirstHit), hitStamp(h.LastHit))
	}
	tw.Flush()
}

func hitStamp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// chronological orders captures by their first packet's time, so that the
// connection table's clock runs forward through them as it did live and
// every rule's first_hit is its earliest. A capture whose first packet
// cannot be read keeps its place after the others; Open reports it.
func chronological(paths []string) []string {
	first := make(map[string]int64, len(paths))
	for _, path := range paths {
		first[path] = math.MaxInt64
		if r, err := capture.Open(path); err == nil {
			var p capture.Packet
			if r.Next(&p) == nil {
				first[path] = p.Time
			}
			r.Close()
		}
	}
	out := append([]string(nil), paths...)
	sort.SliceStable(out, func(i, j int) bool { return first[out[i]] < first[out[j]] })
	return out
}
