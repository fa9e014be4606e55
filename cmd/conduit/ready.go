package main

// conduit ready: the explicit criteria for moving a conduit (or the box)
// to enforce, each with its figure, for change-management scripts.

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/learn"
	"github.com/conduit-ot/conduit/rules"
)

// Exit codes of ready.
const (
	exitReady      = 0
	exitNotReady   = 1
	exitCannotTell = 2
)

type readyArgs struct {
	Conduit string        `json:"conduit,omitempty"` // "from->to"; "": the box
	Quiet   time.Duration `json:"quiet_ns"`
}

// readyReport is the answer to "ready" and the JSON of `conduit ready
// --json`.
type readyReport struct {
	Now      time.Time        `json:"now"`
	Conduit  string           `json:"conduit"` // "from -> to", or "" for the box
	Quiet    string           `json:"quiet"`
	Verdict  string           `json:"verdict"` // "ready", "not ready", "cannot tell"
	Ready    bool             `json:"ready"`
	Criteria []readyCriterion `json:"criteria"`
}

type readyCriterion struct {
	Name   string `json:"name"` // cleanup_quiet, no_would_drops, timeouts, observed
	Pass   bool   `json:"pass"`
	Figure string `json:"figure"`
}

// timeoutWarning is a flow (or a rule's flows) whose silences come close
// to the timeout that would end it: learn's timeout advice.
type timeoutWarning struct {
	Rule string
	What string
}

func (o *ops) readyHandler(a readyArgs) (any, error) {
	pol := o.store.Load().Policy
	return buildReady(pol, o.eng.Hits(), o.eng.Coverage(0), flowTimeoutWarnings(o.eng), time.Now().UTC(), a)
}

// flowTimeoutWarnings are the tracked flows whose silences come close to
// their timeout.
func flowTimeoutWarnings(eng *engine.Engine) []timeoutWarning {
	var warns []timeoutWarning
	eng.Flows(func(fi engine.FlowInfo) bool {
		// learn sizes idle_timeout at 3 x the largest gap: a live flow
		// silent for more than a third of its timeout is what learn
		// --timeouts would flag on a longer capture.
		if fi.Allowed && fi.Rule != "" && fi.TimeoutS > 0 && fi.MaxGapS*3 > fi.TimeoutS {
			warns = append(warns, timeoutWarning{fi.Rule, fmt.Sprintf("%s %s:%d -> %s:%d largest gap %s, timeout %s", fi.Proto, fi.Src, fi.Sport, fi.Dst, fi.Dport,
				fmtAgo(time.Duration(fi.MaxGapS*float64(time.Second))), fmtAgo(time.Duration(fi.TimeoutS*float64(time.Second))))})
		}
		return true
	})
	return warns
}

// parseConduit reads "from->to" into the policy's zones.
func parseConduit(pol *rules.Policy, s string) (from, to rules.ZoneID, err error) {
	a, b, ok := strings.Cut(s, "->")
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if !ok || a == "" || b == "" {
		return 0, 0, fmt.Errorf("--conduit %q: want FROM->TO, two zone names", s)
	}
	names := make([]string, len(pol.Zones))
	for i, z := range pol.Zones {
		names[i] = z.Name
	}
	from, to = rules.ZoneID(slices.Index(names, a)+1), rules.ZoneID(slices.Index(names, b)+1)
	if from == 0 || to == 0 {
		bad := a
		if from != 0 {
			bad = b
		}
		return 0, 0, fmt.Errorf("--conduit %q: no zone %q in the policy in force (zones: %s)", s, bad, strings.Join(names, ", "))
	}
	return from, to, nil
}

// buildReady evaluates the criteria at now for the conduit of a (or the
// box) from the hits and coverage of an engine deciding under pol.
func buildReady(pol *rules.Policy, hits []engine.RuleHits, cov []engine.RuleCoverage, warns []timeoutWarning, now time.Time, a readyArgs) (readyReport, error) {
	if a.Quiet <= 0 {
		a.Quiet = defaultWindow
	}
	rep := readyReport{Now: now, Quiet: rules.FormatDuration(a.Quiet)}
	var from, to rules.ZoneID
	scoped := a.Conduit != ""
	if scoped {
		var err error
		if from, to, err = parseConduit(pol, a.Conduit); err != nil {
			return rep, err
		}
		rep.Conduit = pol.Zones[from-1].Name + " -> " + pol.Zones[to-1].Name
	}
	inPair := func(t engine.TupleCoverage) bool {
		return !scoped || pol.Zone(t.Client) == from && pol.Zone(t.Server) == to
	}
	since := now.Add(-a.Quiet)

	// Observed: counting began (the first hit of any rule) a window ago.
	var first *time.Time
	for _, h := range hits {
		if h.FirstHit != nil && (first == nil || h.FirstHit.Before(*first)) {
			first = h.FirstHit
		}
	}
	if first == nil {
		rep.Verdict = "cannot tell"
		rep.Criteria = append(rep.Criteria, readyCriterion{"observed", false, "nothing counted yet: no evidence"})
		return rep, nil
	}

	// Cleanup quiet: the last flow the cleanup rules (and the default)
	// caught on the conduit. The global rule's hits count for the pair by
	// its tuples, unless its coverage was bounded (then all of them).
	var last *time.Time
	lastName := ""
	catch := func(at time.Time, name string) {
		if last == nil || at.After(*last) {
			t := at
			last, lastName = &t, name
		}
	}
	for i := 0; i <= len(pol.Rules) && i < len(hits) && i < len(cov); i++ {
		h, rc := hits[i], cov[i]
		if h.Name != rc.Name || h.Name != pol.RuleName(i) {
			continue // a reload between the snapshots
		}
		catchAll := h.Index >= 0 && (h.Index == len(pol.Rules) || pol.Rules[h.Index].Cleanup)
		if !catchAll || h.LastHit == nil {
			continue
		}
		if h.Index < len(pol.Rules) && scoped && pol.Rules[h.Index].CleanupConduit() != "" {
			r := &pol.Rules[h.Index]
			if r.From.Zones[0] != from || r.To.Zones[0] != to {
				continue
			}
			catch(*h.LastHit, h.Name)
			continue
		}
		if !scoped || rc.MoreFlows > 0 {
			catch(*h.LastHit, h.Name)
			continue
		}
		for _, t := range rc.Tuples {
			if inPair(t) {
				catch(t.LastSeen, h.Name)
			}
		}
	}
	c := readyCriterion{Name: "cleanup_quiet"}
	switch {
	case last == nil:
		c.Pass, c.Figure = true, "the cleanup rules never caught a flow here"
	default:
		q := now.Sub(*last)
		c.Pass = q >= a.Quiet
		c.Figure = fmt.Sprintf("quiet for %s (last caught by %s at %s), need %s", fmtAgo(q), lastName, last.Format(time.RFC3339), rep.Quiet)
	}
	rep.Criteria = append(rep.Criteria, c)

	// No would-drops on the allowed rules of the conduit over the window.
	var mine []int
	for i := range pol.Rules {
		r := &pol.Rules[i]
		if r.Action != rules.ActionAllow || r.Cleanup {
			continue
		}
		in := !scoped || covers(&r.From, from) && covers(&r.To, to)
		if i < len(cov) && cov[i].Name == r.Name {
			for _, t := range cov[i].Tuples {
				in = in || inPair(t)
			}
		}
		if in {
			mine = append(mine, i)
		}
	}
	c = readyCriterion{Name: "no_would_drops", Pass: true}
	var dropped []string
	for _, i := range mine {
		if i >= len(hits) || hits[i].Name != pol.Rules[i].Name {
			continue
		}
		if w := hits[i].LastWouldDrop; w != nil && !w.Before(since) {
			dropped = append(dropped, fmt.Sprintf("%s (last %s)", hits[i].Name, w.Format(time.RFC3339)))
		}
	}
	if len(dropped) > 0 {
		c.Pass, c.Figure = false, fmt.Sprintf("%s refused requests within %s: %s", plural(len(dropped), "allowed rule"), rep.Quiet, strings.Join(dropped, ", "))
	} else {
		c.Figure = fmt.Sprintf("none of %s refused a packet within %s", plural(len(mine), "allowed rule"), rep.Quiet)
	}
	rep.Criteria = append(rep.Criteria, c)

	// No timeout advice for the conduit's flows.
	c = readyCriterion{Name: "timeouts", Pass: true}
	var ws []string
	for _, w := range warns {
		if i := slices.IndexFunc(mine, func(i int) bool { return pol.Rules[i].Name == w.Rule }); i >= 0 {
			ws = append(ws, w.Rule+": "+w.What)
		}
	}
	if len(ws) > 0 {
		shown := ws[:min(3, len(ws))]
		more := ""
		if len(ws) > 3 {
			more = fmt.Sprintf(" and %d more", len(ws)-3)
		}
		c.Pass, c.Figure = false, fmt.Sprintf("%s with silences near their timeout: %s%s", plural(len(ws), "flow"), strings.Join(shown, "; "), more)
	} else {
		c.Figure = "no flow falls silent for near its timeout"
	}
	rep.Criteria = append(rep.Criteria, c)

	// Observed for at least the window.
	obs := now.Sub(*first)
	rep.Criteria = append(rep.Criteria, readyCriterion{"observed", obs >= a.Quiet,
		fmt.Sprintf("observed for %s (since %s), need %s", fmtAgo(obs), first.Format(time.RFC3339), rep.Quiet)})

	rep.Ready = true
	for _, c := range rep.Criteria {
		rep.Ready = rep.Ready && c.Pass
	}
	rep.Verdict = map[bool]string{true: "ready", false: "not ready"}[rep.Ready]
	return rep, nil
}

func covers(e *rules.Endpoint, z rules.ZoneID) bool {
	return e.Any || slices.Contains(e.Zones, z)
}

// offlineTimeouts is learn's timeout advice for captures replayed under
// pol.
func offlineTimeouts(pol *rules.Policy, captures []string) ([]timeoutWarning, error) {
	l := learn.NewLearner()
	for _, path := range chronological(captures) {
		if err := learnFrom(l, path); err != nil {
			return nil, err
		}
	}
	var out []timeoutWarning
	for _, a := range learn.Timeouts(l.Matrix(), pol, 3) {
		out = append(out, timeoutWarning{a.Rule, fmt.Sprintf("%s largest gap %s, timeout %s (%s)", a.Flow, fmtAgo(a.Gap), fmtAgo(a.Timeout), a.Source)})
	}
	return out, nil
}

func runReady(args []string, stdout, stderr io.Writer) int {
	fs, cf := evidenceFlags("ready", "usage: conduit ready [--conduit FROM->TO] [--quiet DUR] [--json] [--socket PATH | -c FILE CAPTURE...]\n"+
		"exit 0 ready, 1 not ready, 2 cannot tell (no daemon, no data)", stderr)
	conduit := fs.String("conduit", "", "the conduit `FROM->TO` to judge (default: the whole box)")
	v := fs.String("quiet", "14d", "how long the cleanup rules must have been quiet, and the window of the other criteria (`duration`)")
	// A bad window is exit 2 too: exitCannotTell.
	q, code := parseWindow(fs, args, "quiet", v)
	if code >= 0 {
		return code
	}
	a := readyArgs{Conduit: *conduit, Quiet: q}
	var rep readyReport
	if fs.NArg() > 0 {
		var err error
		if rep, err = readyOffline(cf.config, fs.Args(), a); err != nil {
			fmt.Fprintf(stderr, "conduit ready: %v\n", err)
			return exitCannotTell
		}
	} else if code := cf.call("ready", a, &rep, stderr); code != 0 {
		return exitCannotTell
	}
	cf.output(stdout, rep, func(w io.Writer) { printReady(w, &rep) })
	switch rep.Verdict {
	case "ready":
		return exitReady
	case "not ready":
		return exitNotReady
	}
	return exitCannotTell
}

// readyOffline is ready's answer from captures replayed under a policy
// file.
func readyOffline(policy string, captures []string, a readyArgs) (readyReport, error) {
	off, err := replayOffline(policy, captures)
	if err != nil {
		return readyReport{}, err
	}
	warns, err := offlineTimeouts(off.pol, captures)
	if err != nil {
		return readyReport{}, err
	}
	return buildReady(off.pol, off.eng.Hits(), off.eng.Coverage(0), warns, off.now, a)
}

// printReady is the verdict, then each criterion with its figure.
func printReady(w io.Writer, rep *readyReport) {
	what := "the box"
	if rep.Conduit != "" {
		what = "conduit " + rep.Conduit
	}
	fmt.Fprintf(w, "%s: %s for enforce (quiet %s)\n", what, rep.Verdict, rep.Quiet)
	for _, c := range rep.Criteria {
		mark := "pass"
		if !c.Pass {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  %-4s  %-15s %s\n", mark, c.Name, c.Figure)
	}
}
