package main

// conduit coverage: what each rule carried, from the daemon or offline
// from captures (-c FILE CAPTURE...), the evidence review and ready use.

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/replay"
	"github.com/conduit-ot/conduit/rules"
)

type coverageArgs struct {
	Rule string `json:"rule,omitempty"`
	Top  int    `json:"top,omitempty"`
}

// coverageReply is the answer to "coverage" and the JSON of `conduit
// coverage --json`.
type coverageReply struct {
	Now   time.Time             `json:"now"`
	Rules []engine.RuleCoverage `json:"rules"`
}

func (o *ops) coverageHandler(a coverageArgs) (any, error) {
	return coverageOf(o.store.Load().Policy, o.eng, time.Now().UTC(), a)
}

// coverageOf is the coverage answer of an engine deciding under pol.
func coverageOf(pol *rules.Policy, eng *engine.Engine, now time.Time, a coverageArgs) (coverageReply, error) {
	r := coverageReply{Now: now, Rules: eng.Coverage(a.Top)}
	if a.Rule != "" {
		for _, rc := range r.Rules {
			if rc.Name == a.Rule {
				r.Rules = []engine.RuleCoverage{rc}
				return r, nil
			}
		}
		return r, fmt.Errorf("no rule %q in the policy in force (rules: %s)", a.Rule, strings.Join(ruleNames(pol), ", "))
	}
	return r, nil
}

func ruleNames(pol *rules.Policy) []string {
	out := make([]string, 0, len(pol.Rules)+1)
	for i := 0; i <= len(pol.Rules); i++ {
		out = append(out, pol.RuleName(i))
	}
	return out
}

// offline is the evidence of captures replayed under a policy file: the
// same engine as the daemon's, with the capture's clock.
type offline struct {
	pol *rules.Policy
	eng *engine.Engine
	res replay.Result
	now time.Time // the last packet's time
}

func replayOffline(policy string, captures []string) (*offline, error) {
	pol, err := rules.Load(policy)
	if err != nil {
		return nil, err
	}
	r := replay.New(replay.Config{Policy: pol})
	for _, path := range chronological(captures) {
		if err := r.Open(path); err != nil {
			return nil, err
		}
	}
	res, err := r.Result()
	if err != nil {
		return nil, err
	}
	off := &offline{pol: pol, eng: r.Engine(), res: res}
	for _, c := range res.Captures {
		if c.Last != nil && c.Last.After(off.now) {
			off.now = c.Last.UTC()
		}
	}
	return off, nil
}

// replayCaptures is replayOffline for the command line of an evidence
// command; a failure is reported as the command's error.
func replayCaptures(cmd, policy string, captures []string, stderr io.Writer) (*offline, bool) {
	off, err := replayOffline(policy, captures)
	if err != nil {
		fmt.Fprintf(stderr, "conduit %s: %v\n", cmd, err)
		return nil, false
	}
	return off, true
}

// evidenceFlags are the flags of coverage, review and ready: the daemon's
// socket, or -c FILE with captures for the offline answer.
func evidenceFlags(name, usage string, stderr io.Writer) (*flag.FlagSet, *clientFlags) {
	fs, cf := newClientFlags(name, stderr)
	fs.Lookup("c").Usage = "policy `file`: with captures, replay them under it instead of asking the daemon; else the file whose control.socket to use"
	setUsage(fs, usage)
	return fs, cf
}

func runCoverage(args []string, stdout, stderr io.Writer) int {
	fs, cf := evidenceFlags("coverage", "usage: conduit coverage [--rule R] [--top N] [--json] [--socket PATH | -c FILE CAPTURE...]", stderr)
	rule := fs.String("rule", "", "only the rule `name`d")
	top := fs.Int("top", 20, "tuples per rule, the busiest first (0: all kept)")
	if code := parseAnyOrder(fs, args); code >= 0 {
		return code
	}
	a := coverageArgs{Rule: *rule, Top: *top}
	var r coverageReply
	if fs.NArg() > 0 {
		off, ok := replayCaptures("coverage", cf.config, fs.Args(), stderr)
		if !ok {
			return 2
		}
		var err error
		if r, err = coverageOf(off.pol, off.eng, off.now, a); err != nil {
			fmt.Fprintf(stderr, "conduit coverage: %v\n", err)
			return 1
		}
	} else if code := cf.call("coverage", a, &r, stderr); code != 0 {
		return code
	}
	return cf.output(stdout, r, func(w io.Writer) { printCoverage(w, &r) })
}

// printCoverage prints, per rule that carried anything, its tuples with
// the requests per tuple.
func printCoverage(w io.Writer, r *coverageReply) {
	idle := []string{}
	for _, rc := range r.Rules {
		if len(rc.Tuples) == 0 && rc.MoreFlows == 0 && rc.MoreRequests == 0 {
			idle = append(idle, rc.Name)
			continue
		}
		var flows, reqs uint64
		for _, t := range rc.Tuples {
			flows, reqs = flows+t.Flows, reqs+t.Requests
		}
		what := rc.Action
		if rc.Cleanup {
			what += ", cleanup"
			if rc.Conduit != "" {
				what += " of " + rc.Conduit
			}
		}
		if rc.Index < 0 {
			what = "no longer in the policy"
		}
		fmt.Fprintf(w, "rule %s (%s): %s\n", rc.Name, what, plural(len(rc.Tuples)+rc.MoreTuples, "tuple"))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  CLIENT\tSERVER\tSERVICE\tFLOWS\tREQUESTS\tLAST SEEN\tFUNCTIONS")
		for _, t := range rc.Tuples {
			fmt.Fprintf(tw, "  %s\t%s\t%s/%d\t%s\t%s\t%s\t%s\n", t.Client, t.Server, t.Proto, t.Port, fmtCount(t.Flows), fmtCount(t.Requests),
				t.LastSeen.Format("2006-01-02 15:04:05"), functionList(t))
		}
		tw.Flush()
		if rc.MoreTuples > 0 {
			fmt.Fprintf(w, "  … and %d more\n", rc.MoreTuples)
		}
		if rc.MoreFlows > 0 || rc.MoreRequests > 0 {
			fmt.Fprintf(w, "  … and %s, %s beyond the %d tuples kept per rule\n", plural(int(rc.MoreFlows), "flow"), plural(int(rc.MoreRequests), "request"), engine.CoverTuples)
		}
		fmt.Fprintln(w)
	}
	if len(idle) > 0 {
		fmt.Fprintf(w, "carried nothing: %s\n", strings.Join(idle, ", "))
	}
}

// functionList is a tuple's requests, the most frequent first.
func functionList(t engine.TupleCoverage) string {
	names := make([]string, 0, len(t.Functions))
	for n := range t.Functions {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := t.Functions[names[i]], t.Functions[names[j]]
		return a > b || a == b && names[i] < names[j]
	})
	for i, n := range names {
		names[i] = fmt.Sprintf("%s %d", n, t.Functions[n])
	}
	s := strings.Join(names, ", ")
	if len(t.UnitIDs) > 0 {
		us := make([]string, len(t.UnitIDs))
		for i, u := range t.UnitIDs {
			us[i] = fmt.Sprint(u)
		}
		s += " (units " + strings.Join(us, ",") + ")"
	}
	if s == "" {
		s = "-"
	}
	return s
}
