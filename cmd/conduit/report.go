package main

import (
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/conduit-ot/conduit/report"
	"github.com/conduit-ot/conduit/rules"
)

// runReport implements `conduit report -o FILE.html [--socket PATH | -c
// FILE CAPTURE...]`: offline through replay's engine when captures are
// given, else from the running daemon.
func runReport(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("report", "usage: conduit report -o FILE.html [--quiet DUR] [--socket PATH | -c FILE CAPTURE...]", stderr)
	out := fs.String("o", "report.html", "write the report to `file` (- for stdout)")
	file := fs.String("c", "", "policy `file`: with captures, the policy to replay them with; with --socket, the zones' file when the daemon's is not readable here")
	socket := fs.String("socket", "", "the daemon's control socket (default: control.socket of -c, else "+defaultSocket+")")
	v := fs.String("quiet", "14d", "the window of readiness (how long the cleanup rules must have been quiet) and of review (`duration`)")
	q, c := parseWindow(fs, args, "quiet", v)
	if c >= 0 {
		return c
	}
	var (
		rep  *report.Report
		code int
	)
	if fs.NArg() > 0 {
		if *socket != "" {
			fmt.Fprintln(stderr, "conduit report: give captures (offline) or --socket (a daemon), not both")
			return 2
		}
		if *file == "" {
			fmt.Fprintln(stderr, "conduit report: captures need a policy (-c FILE)")
			return 2
		}
		pol, err := rules.Load(*file)
		if err != nil {
			fmt.Fprintf(stderr, "conduit report: %v\n", err)
			return 2
		}
		ev, err := report.Offline(pol, chronological(fs.Args()))
		if err != nil {
			fmt.Fprintf(stderr, "conduit report: %v (the packets before it were replayed)\n", err)
			code = exitCapture
		}
		in := ev.Input
		in.Version = version
		end := time.Now().UTC()
		if in.Last != nil {
			end = *in.Last
		}
		if rep, err = report.Build(pol, in, offlineEvidence(pol, ev.Engine, end, q)); err != nil {
			fmt.Fprintf(stderr, "conduit report: %v\n", err)
			return 1
		}
	} else {
		cf := &clientFlags{socket: *socket, config: defaultPolicy}
		if *file != "" {
			cf.config = *file
		}
		var c int
		if rep, c = daemonReport(cf, *file, q, stderr); c != 0 {
			return c
		}
	}
	w, done, err := createOutput(*out, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "conduit report: %v\n", err)
		return 1
	}
	defer done()
	if err := report.Render(w, rep); err != nil {
		fmt.Fprintf(stderr, "conduit report: %v\n", err)
		return 1
	}
	if *out != "-" {
		fmt.Fprintf(stdout, "wrote %s: %d zones, %d conduits, %d rules\n", *out, len(rep.Zones), len(rep.Conduits), len(rep.Rules))
	}
	return code
}

// daemonReport asks the daemon for its status, hits and every tracked
// flow. The zones come from the policy file the daemon names (the report
// runs on the box), else from -c.
func daemonReport(cf *clientFlags, file string, quiet time.Duration, stderr io.Writer) (*report.Report, int) {
	var st statusReport
	if code := cf.call("status", nil, &st, stderr); code != 0 {
		return nil, code
	}
	var hits hitsReply
	if code := cf.call("hits", nil, &hits, stderr); code != 0 {
		return nil, code
	}
	var flows flowsReply
	if code := cf.call("flows", flowsArgs{}, &flows, stderr); code != 0 {
		return nil, code
	}
	var notes []string
	path := st.Policy.File
	if file != "" {
		path = file
	}
	pol, err := rules.Load(path)
	if err != nil {
		fmt.Fprintf(stderr, "conduit report: the daemon's policy: %v (give the file with -c)\n", err)
		return nil, 1
	}
	if pol.SHA256 != st.Policy.SHA256 {
		notes = append(notes, fmt.Sprintf("The zones are drawn from %s (sha256 %s), which is not the file the daemon has in force.", path, pol.SHA256))
	}
	c := report.NewCollector()
	for _, f := range flows.Flows {
		c.AddFlow(f)
	}
	modes := map[string]string{}
	for _, cd := range st.Conduits {
		modes[cd.From+"->"+cd.To] = cd.Mode
	}
	first, last := st.Started.UTC(), hits.Now
	if last.IsZero() {
		last = time.Now().UTC()
	}
	notes = append(notes, fmt.Sprintf("The matrix shows the %d flows in the daemon's table now; flows that ended before are in the rule counters only.", flows.Total))
	in := report.Input{
		Version:    st.Version,
		PolicyFile: st.Policy.File,
		PolicySHA:  st.Policy.SHA256,
		Source:     fmt.Sprintf("daemon at %s (generation %d, up %s)", filepath.Clean(cf.socketPath()), st.Policy.Generation, fmtAgo(time.Duration(st.UptimeS)*time.Second)),
		First:      &first,
		Last:       &last,
		Totals: report.Totals{Packets: st.Verdicts.Packets, Flows: st.Conntrack.Inserts, Malformed: st.Verdicts.Malformed,
			Accepted: st.Verdicts.Accept, Dropped: st.Verdicts.Drop, WouldDrop: st.Verdicts.WouldDrop, Spoofed: st.Verdicts.Spoofed},
		Rules: hits.Rules,
		Rows:  c.Rows(),
		Modes: modes,
		Notes: notes,
	}
	if st.Version != version {
		in.Notes = append(in.Notes, fmt.Sprintf("Report written by conduit %s.", version))
	}
	var ann []report.Annotator
	if ev, evNotes := daemonEvidence(cf, pol, quiet, stderr); ev != nil {
		ann = append(ann, ev)
		in.Notes = append(in.Notes, evNotes...)
	} else {
		in.Notes = append(in.Notes, evNotes...)
	}
	rep, err := report.Build(pol, in, ann...)
	if err != nil {
		fmt.Fprintf(stderr, "conduit report: %v\n", err)
		return nil, 1
	}
	return rep, 0
}
