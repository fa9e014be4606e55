package main

// The report's optional sections from the evidence commands: what each
// rule carried (coverage), the narrowing and candidate rules (review),
// and readiness per conduit (ready), offline from the replay's engine or
// from the daemon.

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/report"
	"github.com/conduit-ot/conduit/rules"
)

// coverageTop is how many tuples of a rule the report lists.
const coverageTop = 6

// reportEvidence fills the report's coverage, narrowing and readiness. ready
// judges one conduit ("" for the box); a nil review or ready leaves its
// part out.
type reportEvidence struct {
	cov    []engine.RuleCoverage
	review *reviewReport
	ready  func(conduit string) (readyReport, error)
	zones  map[string]bool
}

func (ev *reportEvidence) Annotate(r *report.Report) error {
	byName := map[string]engine.RuleCoverage{}
	for _, rc := range ev.cov {
		byName[rc.Name] = rc
	}
	notes := map[string][]string{}
	if ev.review != nil {
		for _, n := range ev.review.Narrowed {
			notes[n.Rule] = append(notes[n.Rule], fmt.Sprintf("narrow %q (%s) to what it carried:", n.Rule, n.Allows))
			for _, x := range n.Rules {
				notes[n.Rule] = append(notes[n.Rule], strings.TrimRight(x.YAML, "\n"))
			}
		}
		for _, c := range ev.review.Candidates {
			notes[c.Cleanup] = append(notes[c.Cleanup], fmt.Sprintf("candidate rules for the %d flows it caught within %s:", c.Flows, ev.review.Window))
			for _, x := range c.Rules {
				notes[c.Cleanup] = append(notes[c.Cleanup], strings.TrimRight(x.YAML, "\n"))
			}
		}
		for _, x := range ev.review.Retire {
			notes[x.Rule] = append(notes[x.Rule], fmt.Sprintf("carried nothing within %s: a candidate to retire", ev.review.Window))
		}
	}
	for i := range r.Rules {
		rule := &r.Rules[i]
		if rc, ok := byName[rule.Name]; ok {
			rule.Coverage = coverageLines(rc)
		}
		rule.Narrowing = strings.Join(notes[rule.Name], "\n")
	}
	if ev.ready == nil {
		return nil
	}
	ids := []string{""}
	for _, c := range r.Conduits {
		if ev.zones[c.From] && ev.zones[c.To] {
			ids = append(ids, c.ID())
		}
	}
	for _, id := range ids {
		rep, err := ev.ready(id)
		if err != nil {
			return fmt.Errorf("readiness of %q: %w", id, err)
		}
		rd := report.Readiness{Conduit: id, Ready: rep.Ready, Verdict: rep.Verdict}
		for _, c := range rep.Criteria {
			rd.Criteria = append(rd.Criteria, report.Criterion{Name: c.Name, Figure: c.Figure, Pass: c.Pass})
		}
		r.Readiness = append(r.Readiness, rd)
	}
	return nil
}

// coverageLines are a rule's busiest tuples, one line each.
func coverageLines(rc engine.RuleCoverage) []string {
	var out []string
	for i, t := range rc.Tuples {
		if i == coverageTop {
			out = append(out, fmt.Sprintf("and %d more tuples", len(rc.Tuples)-coverageTop+rc.MoreTuples))
			break
		}
		l := fmt.Sprintf("%s -> %s %s/%d: %s", t.Client, t.Server, t.Proto, t.Port, plural(int(t.Flows), "flow"))
		if t.Requests > 0 {
			l += fmt.Sprintf(", %d requests", t.Requests)
		}
		if len(t.Functions) > 0 {
			fs := make([]string, 0, len(t.Functions))
			for f := range t.Functions {
				fs = append(fs, f)
			}
			sort.Strings(fs)
			l += " (" + strings.Join(fs, ", ") + ")"
		}
		out = append(out, l)
	}
	if len(rc.Tuples) <= coverageTop && rc.MoreTuples > 0 {
		out = append(out, fmt.Sprintf("and %d more tuples", rc.MoreTuples))
	}
	return out
}

func zoneSet(pol *rules.Policy) map[string]bool {
	m := map[string]bool{}
	for _, z := range pol.Zones {
		m[z.Name] = true
	}
	return m
}

// offlineEvidence judges coverage, review and readiness on the replay's
// engine at the end of the evidence.
func offlineEvidence(pol *rules.Policy, eng *engine.Engine, now time.Time, quiet time.Duration) *reportEvidence {
	hits, cov := eng.Hits(), eng.Coverage(0)
	rv := buildReview(pol, eng, now, quiet)
	warns := flowTimeoutWarnings(eng)
	return &reportEvidence{cov: cov, review: &rv, zones: zoneSet(pol), ready: func(conduit string) (readyReport, error) {
		return buildReady(pol, hits, cov, warns, now, readyArgs{Conduit: conduit, Quiet: quiet})
	}}
}

// daemonEvidence asks the daemon for coverage, review and readiness; a
// daemon that answers none of them (an older one) leaves the sections out.
func daemonEvidence(cf *clientFlags, pol *rules.Policy, quiet time.Duration, stderr io.Writer) (*reportEvidence, []string) {
	var cov coverageReply
	if code := cf.call("coverage", coverageArgs{}, &cov, io.Discard); code != 0 {
		return nil, []string{"The daemon did not answer coverage: no coverage, narrowing or readiness in this report."}
	}
	ev := &reportEvidence{cov: cov.Rules, zones: zoneSet(pol)}
	var notes []string
	var rv reviewReport
	if code := cf.call("review", reviewArgs{Window: quiet}, &rv, io.Discard); code == 0 {
		ev.review = &rv
	} else {
		notes = append(notes, "The daemon did not answer review: no narrowing in this report.")
	}
	ev.ready = func(conduit string) (readyReport, error) {
		var rep readyReport
		if code := cf.call("ready", readyArgs{Conduit: conduit, Quiet: quiet}, &rep, stderr); code != 0 {
			return rep, fmt.Errorf("the daemon did not answer")
		}
		return rep, nil
	}
	return ev, notes
}
