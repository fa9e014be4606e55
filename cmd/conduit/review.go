package main

// conduit review: from coverage and the cleanup rules' hits, the YAML that
// narrows the policy — a replacement for each broad rule (what it carried,
// nothing more), candidate rules for what each cleanup rule caught, and
// the rules that carried nothing for the window (to retire).

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/learn"
	"github.com/conduit-ot/conduit/rules"
)

const defaultWindow = 14 * 24 * time.Hour

type reviewArgs struct {
	Window time.Duration `json:"window_ns"`
}

// reviewReport is the answer to "review" and the JSON of `conduit review
// --json`; YAML is what the text output prints.
type reviewReport struct {
	Now        time.Time        `json:"now"`
	Window     string           `json:"window"`
	Policy     string           `json:"policy"`
	SHA256     string           `json:"sha256"`
	Narrowed   []reviewNarrowed `json:"narrowed"`
	Candidates []reviewCaught   `json:"candidates"`
	Retire     []reviewRetire   `json:"retire"`
	YAML       string           `json:"yaml"`
}

// reviewNarrowed is a broad rule and the rules of what it carried.
type reviewNarrowed struct {
	Rule     string       `json:"rule"`
	Index    int          `json:"index"`
	Allows   string       `json:"allows"` // the rule as written, in short
	Tuples   int          `json:"tuples"`
	Flows    uint64       `json:"flows"`
	Requests uint64       `json:"requests"`
	Partial  bool         `json:"partial"` // coverage was bounded: more was carried than the rules cover
	Rules    []reviewRule `json:"rules"`
}

// reviewCaught is a cleanup rule and the candidate rules of what it caught
// within the window.
type reviewCaught struct {
	Cleanup string       `json:"cleanup"`
	Conduit string       `json:"conduit,omitempty"`
	Tuples  int          `json:"tuples"`
	Flows   uint64       `json:"flows"`
	Rules   []reviewRule `json:"rules"`
}

type reviewRule struct {
	Name string `json:"name"`
	YAML string `json:"yaml"`
}

// reviewRetire is an allow rule that carried nothing for the window.
type reviewRetire struct {
	Rule    string     `json:"rule"`
	Index   int        `json:"index"`
	LastHit *time.Time `json:"last_hit"`
}

func (o *ops) reviewHandler(a reviewArgs) (any, error) {
	return buildReview(o.store.Load().Policy, o.eng, time.Now().UTC(), a.Window), nil
}

// buildReview reviews pol from what eng recorded under it, at now.
func buildReview(pol *rules.Policy, eng *engine.Engine, now time.Time, window time.Duration) reviewReport {
	if window <= 0 {
		window = defaultWindow
	}
	hits, cov := eng.Hits(), eng.Coverage(0)
	rep := reviewReport{Now: now, Window: rules.FormatDuration(window), Policy: pol.File, SHA256: pol.SHA256,
		Narrowed: []reviewNarrowed{}, Candidates: []reviewCaught{}, Retire: []reviewRetire{}}
	zones := make([]*learn.Zone, len(pol.Zones))
	for i, z := range pol.Zones {
		zones[i] = &learn.Zone{Name: z.Name, Level: z.Level, CIDRs: z.CIDRs, Description: z.Description}
	}
	var seen []learn.Carried
	for _, rc := range cov {
		seen = append(seen, carried(rc.Tuples, time.Time{})...)
	}
	since := now.Add(-window)
	for i := range pol.Rules {
		if i >= len(cov) || i >= len(hits) || cov[i].Name != pol.Rules[i].Name || hits[i].Name != pol.Rules[i].Name {
			continue // a reload between the snapshots
		}
		r, rc, h := &pol.Rules[i], cov[i], hits[i]
		switch {
		case r.Cleanup:
			cs := carried(rc.Tuples, since)
			if len(cs) == 0 {
				continue
			}
			c := reviewCaught{Cleanup: r.Name, Conduit: r.CleanupConduit(), Tuples: len(cs)}
			for _, x := range cs {
				c.Flows += x.Flows
			}
			for _, d := range learn.DraftCarried(cs, seen, zones, learn.DraftConfig{}, "") {
				c.Rules = append(c.Rules, reviewRule{d.Name, d.YAML})
			}
			rep.Candidates = append(rep.Candidates, c)
		case r.Action != rules.ActionAllow:
		case h.LastHit == nil || h.LastHit.Before(since):
			rep.Retire = append(rep.Retire, reviewRetire{Rule: r.Name, Index: i, LastHit: h.LastHit})
		case len(rc.Tuples) > 0:
			cs := carried(rc.Tuples, time.Time{})
			drafted := learn.DraftCarried(cs, seen, zones, learn.DraftConfig{}, r.Name+"-")
			if !widerThan(pol, r, drafted) {
				continue
			}
			n := reviewNarrowed{Rule: r.Name, Index: i, Allows: ruleShort(r), Tuples: len(rc.Tuples), Partial: rc.MoreFlows > 0 || rc.MoreRequests > 0}
			for _, t := range rc.Tuples {
				n.Flows, n.Requests = n.Flows+t.Flows, n.Requests+t.Requests
			}
			for _, d := range drafted {
				n.Rules = append(n.Rules, reviewRule{d.Name, inherit(d.YAML, r)})
			}
			rep.Narrowed = append(rep.Narrowed, n)
		}
	}
	rep.YAML = reviewYAML(&rep)
	return rep
}

// carried converts coverage tuples last seen at or after since.
func carried(ts []engine.TupleCoverage, since time.Time) []learn.Carried {
	var out []learn.Carried
	for _, t := range ts {
		if t.LastSeen.Before(since) {
			continue
		}
		out = append(out, learn.Carried{Client: t.Client, Server: t.Server, Proto: protoNumber(t.Proto), Port: t.Port,
			Flows: t.Flows, Functions: t.Functions, Units: t.UnitIDs, First: t.FirstSeen.UnixNano(), Last: t.LastSeen.UnixNano()})
	}
	return out
}

func protoNumber(name string) uint8 {
	for p := range 256 {
		if packet.ProtoName(uint8(p)) == name {
			return uint8(p)
		}
	}
	return 0
}

// widerThan reports whether r allows more than the drafted rules: unless
// they are one rule with r's sides, protocol, ports and condition.
func widerThan(pol *rules.Policy, r *rules.Rule, drafted []learn.Drafted) bool {
	if len(drafted) != 1 {
		return true
	}
	var b strings.Builder
	b.WriteString("zones:\n")
	for _, z := range pol.Zones {
		cidrs := make([]string, len(z.CIDRs))
		for i, c := range z.CIDRs {
			cidrs[i] = `"` + c.String() + `"`
		}
		fmt.Fprintf(&b, "  %q: {level: %q, cidrs: [%s]}\n", z.Name, z.Level, strings.Join(cidrs, ", "))
	}
	b.WriteString("rules:\n" + drafted[0].YAML)
	p, err := rules.Parse("review.yaml", []byte(b.String()))
	if err != nil || len(p.Rules) != 1 {
		return true
	}
	d := &p.Rules[0]
	return d.From.String() != r.From.String() || d.To.String() != r.To.String() || d.Proto != r.Proto ||
		rules.FormatPorts(d.DPorts) != rules.FormatPorts(r.DPorts) || len(r.SPorts) > 0 ||
		(d.App == nil) != (r.App == nil) || d.App != nil && d.App.String() != r.App.String()
}

// inherit gives a replacement the settings of the rule it replaces that
// the evidence does not decide: its idle_timeout, log and on_violation.
func inherit(y string, r *rules.Rule) string {
	var add []string
	if r.IdleTimeout > 0 && !strings.Contains(y, "\n    idle_timeout: ") {
		add = append(add, "    idle_timeout: "+rules.FormatDuration(r.IdleTimeout)+"  # as "+r.Name)
	}
	if !r.Log {
		add = append(add, "    log: false  # as "+r.Name)
	}
	if r.App != nil && r.OnViolation == rules.ViolationReset {
		add = append(add, "    on_violation: reset  # as "+r.Name)
	}
	if len(add) == 0 {
		return y
	}
	body := strings.TrimRight(y, "\n")
	return body + "\n" + strings.Join(add, "\n") + "\n\n"
}

// ruleShort is a rule in one line: "supervisory -> control tcp/502 modbus: {...}".
func ruleShort(r *rules.Rule) string {
	s := r.From.String() + " -> " + r.To.String() + " " + rules.ProtoName(r.Proto)
	if len(r.DPorts) > 0 {
		s += "/" + rules.FormatPorts(r.DPorts)
	}
	if r.App != nil {
		s += " " + r.App.String()
	}
	return s
}

// reviewYAML lays the review out as a rules list to paste from, in
// learn's layout, with what to remove as comments.
func reviewYAML(rep *reviewReport) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# conduit review of %s (sha256 %s) at %s, window %s.\n", rep.Policy, short(rep.SHA256), rep.Now.Format(time.RFC3339), rep.Window)
	b.WriteString("# Each rule below allows exactly what the evidence shows, and nothing more.\n")
	if len(rep.Narrowed)+len(rep.Candidates) == 0 {
		b.WriteString("# Nothing to narrow and no cleanup rule caught anything in the window.\n")
	} else {
		b.WriteString("rules:\n")
	}
	for _, n := range rep.Narrowed {
		fmt.Fprintf(&b, "  # === replaces %s (%s): it carried %s, %s, %s.\n",
			n.Rule, n.Allows, plural(n.Tuples, "tuple"), plural(int(n.Flows), "flow"), plural(int(n.Requests), "request"))
		b.WriteString("  # Put these in its place and remove it.\n")
		if n.Partial {
			b.WriteString("  # Coverage was bounded for this rule: it carried more than these list; keep it until they do.\n")
		}
		b.WriteString("\n")
		for _, r := range n.Rules {
			b.WriteString(r.YAML)
		}
	}
	for _, c := range rep.Candidates {
		scope := "(global)"
		if c.Conduit != "" {
			scope = "of " + c.Conduit
		}
		fmt.Fprintf(&b, "  # === candidates from cleanup rule %s %s: it caught %s, %s within the window.\n",
			c.Cleanup, scope, plural(c.Tuples, "tuple"), plural(int(c.Flows), "flow"))
		b.WriteString("  # Allow them above the cleanup rule only where the plant needs them.\n\n")
		for _, r := range c.Rules {
			b.WriteString(r.YAML)
		}
	}
	if len(rep.Retire) > 0 {
		fmt.Fprintf(&b, "# === retire candidates: allow rules that carried nothing for %s:\n", rep.Window)
		for _, r := range rep.Retire {
			last := "never hit"
			if r.LastHit != nil {
				last = "last hit " + r.LastHit.Format(time.RFC3339)
			}
			fmt.Fprintf(&b, "#   - %s (%s)\n", r.Rule, last)
		}
	}
	return b.String()
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

func runReview(args []string, stdout, stderr io.Writer) int {
	fs, cf := evidenceFlags("review", "usage: conduit review [--window DUR] [--json] [--socket PATH | -c FILE CAPTURE...]", stderr)
	v := fs.String("window", "14d", "a rule that carried nothing for this `duration` is a retire candidate; cleanup hits older are left out")
	w, code := parseWindow(fs, args, "window", v)
	if code >= 0 {
		return code
	}
	var rep reviewReport
	if fs.NArg() > 0 {
		off, ok := replayCaptures("review", cf.config, fs.Args(), stderr)
		if !ok {
			return 2
		}
		rep = buildReview(off.pol, off.eng, off.now, w)
	} else if code := cf.call("review", reviewArgs{Window: w}, &rep, stderr); code != 0 {
		return code
	}
	return cf.output(stdout, rep, func(w io.Writer) { io.WriteString(w, rep.YAML) })
}
