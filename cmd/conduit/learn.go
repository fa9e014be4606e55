package main

import (
	"bufio"
	"fmt"
	"github.com/conduit-ot/conduit/proto"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/learn"
	"github.com/conduit-ot/conduit/rules"
)

const learnUsage = `usage: conduit learn [-o FILE] [--zones FILE] [--no-conditions] [--matrix table|csv|json] INPUT...
       conduit learn --timeouts -c FILE [--json] INPUT...
       conduit learn --diff [--json] BEFORE AFTER
       conduit learn --socket PATH [-o FILE] [--matrix table|csv|json]
INPUT is a pcap or pcapng capture, a conduit event log (JSON lines), or a
baseline (conduit baseline save); --socket reads conduit observe's live matrix.
The draft's ` + "%s" + ` rules carry protocol conditions
allowing exactly the requests seen (a Modbus client that only read gets
preset read_only); --no-conditions writes them as comments instead, for
port-only rules first.`

// runLearn implements `conduit learn`: a draft policy (default), the
// communication matrix (--matrix), timeout advice (--timeouts) or a
// before/after comparison (--diff).
func runLearn(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("learn", fmt.Sprintf(learnUsage, proto.Names()), stderr)
	out := fs.String("o", "", "write the draft policy (or matrix) to `file` instead of stdout")
	zonesFile := fs.String("zones", "", "take zones from `file` (a policy, or its zones: mapping); others are inferred")
	matrix := fs.String("matrix", "", "print the communication matrix as `format` table, csv or json instead of a policy")
	hosts := fs.Int("hosts", 4, "a rule lists at most `n` hosts per side; beyond, it names the zone")
	margin := fs.Float64("margin", 3, "idle_timeout is the largest gap times `x` (never below the protocol default)")
	timeouts := fs.Bool("timeouts", false, "list the rules of -c FILE whose idle timeout is shorter than a gap seen on their flows")
	policy := fs.String("c", "", "policy `file` for --timeouts")
	diff := fs.Bool("diff", false, "compare two inputs: services present BEFORE and missing or changed AFTER")
	asJSON := fs.Bool("json", false, "--timeouts and --diff: print JSON")
	noConds := fs.Bool("no-conditions", false, "write the protocol conditions as comments: the rules allow by port only")
	socket := fs.String("socket", "", "learn from the live matrix of the conduit observe serving this control `socket` instead of inputs")
	if code := parseAnyOrder(fs, args); code >= 0 {
		return code
	}
	inputs := fs.Args()
	if *socket != "" {
		if len(inputs) > 0 || *diff || *timeouts {
			fmt.Fprintln(stderr, "conduit learn: --socket takes no inputs and does not go with --diff or --timeouts")
			return 2
		}
		inputs = []string{socketInput}
	}
	switch {
	case *timeouts && *diff:
		fmt.Fprintln(stderr, "conduit learn: --timeouts and --diff do not go together")
		return 2
	case *diff && len(inputs) != 2:
		fmt.Fprintln(stderr, "conduit learn: --diff needs exactly two inputs: BEFORE AFTER")
		return 2
	case len(inputs) == 0:
		fmt.Fprintln(stderr, "conduit learn: no input (a capture or an event log)")
		fs.Usage()
		return 2
	case *timeouts && *policy == "":
		fmt.Fprintln(stderr, "conduit learn: --timeouts needs the policy to check (-c FILE)")
		return 2
	case *matrix != "" && *matrix != "table" && *matrix != "csv" && *matrix != "json":
		fmt.Fprintf(stderr, "conduit learn: --matrix must be table, csv or json, not %q\n", *matrix)
		return 2
	}
	var given []*learn.Zone
	if *zonesFile != "" {
		var err error
		if given, err = learn.LoadZones(*zonesFile); err != nil {
			fmt.Fprintf(stderr, "conduit learn: %v\n", err)
			return 2
		}
	}

	if *diff {
		return learnDiff(inputs, given, *asJSON, stdout, stderr)
	}
	l := learn.NewLearner()
	code := 0
	// In the order the captures were taken, as replay runs them, so that the
	// engine that judges their requests sees the same sessions replay will.
	for _, in := range chronological(inputs) {
		if in == socketInput {
			if err := learnFromSocket(l, *socket, stderr); err != nil {
				fmt.Fprintf(stderr, "conduit learn: %v\n", err)
				return 1
			}
			continue
		}
		if err := learnFrom(l, in); err != nil {
			fmt.Fprintf(stderr, "conduit learn: %v\n", err)
			code = exitCapture
		}
	}
	m := l.Matrix()
	if *timeouts {
		return learnTimeouts(m, *policy, *margin, *asJSON, stdout, stderr, code)
	}

	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintf(stderr, "conduit learn: %v\n", err)
			return 2
		}
		defer f.Close()
		w = f
	}
	if *matrix != "" {
		rows := learn.Rows(m, learn.InferZones(m, given))
		var err error
		switch *matrix {
		case "table":
			err = learn.WriteTable(w, rows)
		case "csv":
			err = learn.WriteCSV(w, rows)
		default:
			err = learn.WriteJSON(w, rows)
		}
		if err != nil {
			fmt.Fprintf(stderr, "conduit learn: %v\n", err)
			return 1
		}
		return code
	}
	draft, zs := learn.Draft(m, learn.DraftConfig{Zones: given, HostsPerSide: *hosts, Margin: *margin, NoConditions: *noConds})
	// The draft must be a policy conduit accepts: check it as `conduit
	// check` would before anyone relies on it.
	name := *out
	if name == "" {
		name = "draft"
	}
	p, err := rules.Parse(name, draft)
	if err != nil {
		fmt.Fprintf(stderr, "conduit learn: the draft is not a valid policy (a bug; please report it): %v\n", err)
		return 1
	}
	if _, err := w.Write(draft); err != nil {
		fmt.Fprintf(stderr, "conduit learn: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "conduit learn: %d packets, %s in %s: %s, %s (valid; %s)\n",
		m.Packets, plural(len(m.Services()), "service"), plural(len(m.Sources), "input"),
		plural(len(zs.List), "zone"), plural(len(p.Rules), "rule"), plural(len(p.Warnings), "warning"))
	for _, wd := range p.Warnings {
		fmt.Fprintf(stderr, "  %s\n", wd)
	}
	return code
}

// learnFrom learns one input: a capture (told by its magic number) or an
// event log.
func learnFrom(l *learn.Learner, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	if head, _ := br.Peek(16); learn.IsBaseline(head) {
		return l.Baseline(path, br) // conduit baseline save
	}
	head, _ := br.Peek(4)
	if capture.Detect(head) != capture.FormatUnknown {
		r, err := capture.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := l.Capture(path, r); err != nil {
			return fmt.Errorf("%s: %w (the packets before it were learned)", path, err)
		}
		return nil
	}
	for {
		c, err := br.ReadByte()
		if err != nil {
			return fmt.Errorf("%s: empty, or neither a capture nor an event log", path)
		}
		if c == ' ' || c == '\n' || c == '\r' || c == '\t' {
			continue
		}
		br.UnreadByte()
		if c != '{' {
			return fmt.Errorf("%s: neither a pcap/pcapng capture nor a conduit event log (JSON lines)", path)
		}
		break
	}
	_, err = l.Log(path, br)
	return err
}

type adviceJSON struct {
	Rule     string  `json:"rule"`
	Index    int     `json:"index"`
	TimeoutS float64 `json:"timeout_s"`
	Source   string  `json:"source"`
	GapS     float64 `json:"gap_s"`
	Flow     string  `json:"flow"`
	Services int     `json:"services"`
	Suggest  string  `json:"suggest"`
}

func learnTimeouts(m *learn.Matrix, policy string, margin float64, asJSON bool, stdout, stderr io.Writer, code int) int {
	pol, err := rules.Load(policy)
	if err != nil {
		fmt.Fprintf(stderr, "conduit learn: %v\n", err)
		return 2
	}
	adv := learn.Timeouts(m, pol, margin)
	if asJSON {
		list := make([]adviceJSON, 0, len(adv))
		for _, a := range adv {
			list = append(list, adviceJSON{a.Rule, a.Index, a.Timeout.Seconds(), a.Source, a.Gap.Seconds(), a.Flow, a.Services, rules.FormatDuration(a.Suggest)})
		}
		printJSON(stdout, struct {
			Advice []adviceJSON `json:"advice"`
		}{list})
	} else if len(adv) == 0 {
		fmt.Fprintf(stdout, "no rule of %s has a timeout shorter than a gap seen on its flows (%d packets, %s)\n",
			policy, m.Packets, plural(len(m.Services()), "service"))
	} else {
		fmt.Fprintf(stdout, "%s of %s would let the connection table forget sessions that were only quiet:\n", plural(len(adv), "rule"), policy)
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "RULE\tTIMEOUT\tSET BY\tLARGEST GAP\tFLOW\tSERVICES\tSUGGEST")
		for _, a := range adv {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\tidle_timeout: %s\n", a.Rule, rules.FormatDuration(a.Timeout), a.Source,
				rules.FormatDuration(a.Gap.Round(time.Second)), a.Flow, a.Services, rules.FormatDuration(a.Suggest))
		}
		tw.Flush()
	}
	if len(adv) > 0 {
		return exitDropped
	}
	return code
}

func learnDiff(inputs []string, given []*learn.Zone, asJSON bool, stdout, stderr io.Writer) int {
	code := 0
	var ms [2]*learn.Matrix
	for i, in := range inputs {
		l := learn.NewLearner()
		if err := learnFrom(l, in); err != nil {
			fmt.Fprintf(stderr, "conduit learn: %v\n", err)
			code = exitCapture
		}
		ms[i] = l.Matrix()
	}
	if code != 0 {
		// A verdict on what could not be read would be a guess.
		fmt.Fprintln(stderr, "conduit learn: no comparison: an input could not be read whole")
		return code
	}
	zs := learn.InferZones(ms[0], given, ms[1])
	changes := learn.Diff(ms[0], ms[1], zs)
	bad := 0
	for _, c := range changes {
		if c.Kind != learn.New {
			bad++
		}
	}
	if asJSON {
		if changes == nil {
			changes = []learn.Change{}
		}
		printJSON(stdout, struct {
			Changes []learn.Change `json:"changes"`
		}{changes})
	} else {
		fmt.Fprintf(stdout, "before: %s (%s); after: %s (%s)\n", inputs[0], plural(len(ms[0].Services()), "service"),
			inputs[1], plural(len(ms[1].Services()), "service"))
		if len(changes) == 0 {
			fmt.Fprintln(stdout, "no service went missing or changed")
		} else {
			tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "KIND\tCLIENT\tSERVER\tSERVICE\tWHY")
			for _, c := range changes {
				k := c.Key
				fmt.Fprintf(tw, "%s\t%s (%s)\t%s (%s)\t%s %s/%d\t%s\n", c.Kind, k.Client, k.ClientZone, k.Server, k.ServerZone,
					k.Service, k.Proto, k.Port, c.Why)
			}
			tw.Flush()
		}
	}
	if bad > 0 {
		return exitDropped
	}
	return code
}
