package report

import (
	"fmt"
	"sort"
	"time"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/rules"
)

// Input is the evidence a report is built from.
type Input struct {
	Version    string
	PolicyFile string // as the header names it; default the policy's File
	PolicySHA  string // default the policy's SHA256
	Source     string
	First      *time.Time // the evidence's time window
	Last       *time.Time
	Generated  time.Time // when the report was made; default now
	Totals     Totals
	Rules      []engine.RuleHits
	Rows       []Row
	// Modes of the conduits in force, "from->to" → mode, when the source
	// knows them (a daemon's status); default the policy's.
	Modes map[string]string
	Notes []string
}

// Build assembles the report of pol's zones, conduits and rules from in,
// then runs the annotators.
func Build(pol *rules.Policy, in Input, ann ...Annotator) (*Report, error) {
	r := &Report{
		Title:      "conduit report",
		Version:    in.Version,
		PolicyFile: in.PolicyFile,
		PolicySHA:  in.PolicySHA,
		Mode:       pol.Mode.String(),
		Source:     in.Source,
		First:      in.First,
		Last:       in.Last,
		Generated:  in.Generated,
		Totals:     in.Totals,
		Notes:      in.Notes,
	}
	if r.PolicyFile == "" {
		r.PolicyFile = pol.File
	}
	if r.PolicySHA == "" {
		r.PolicySHA = pol.SHA256
	}
	if r.Generated.IsZero() {
		r.Generated = time.Now().UTC()
	}
	r.Zones = zonesOf(pol, in.Rows)
	r.Conduits = conduitsOf(pol, in.Rows, in.Modes)
	for i := range r.Zones {
		z := &r.Zones[i]
		for _, c := range r.Conduits {
			if c.From == z.Name || c.To == z.Name {
				z.Flows += c.Flows
			}
		}
	}
	end := r.Generated
	if r.Last != nil {
		end = *r.Last
	}
	r.Rules = rulesOf(pol, in.Rules, end)
	for _, a := range ann {
		if err := a.Annotate(r); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
	}
	r.Map = layout(r.Zones, r.Conduits)
	return r, nil
}

func zonesOf(pol *rules.Policy, rows []Row) []Zone {
	zs := make([]Zone, 0, len(pol.Zones)+1)
	for _, z := range pol.Zones {
		cidrs := make([]string, len(z.CIDRs))
		for i, c := range z.CIDRs {
			cidrs[i] = c.String()
		}
		zs = append(zs, Zone{Name: z.Name, Level: z.Level, CIDRs: cidrs, Description: z.Description})
	}
	for _, row := range rows {
		if row.From == "unknown" || row.To == "unknown" {
			zs = append(zs, Zone{Name: "unknown", Level: rules.LevelUnknown, Description: "addresses in no zone"})
			break
		}
	}
	return zs
}

func conduitsOf(pol *rules.Policy, rows []Row, modes map[string]string) []Conduit {
	byID := map[string]*Conduit{}
	var order []string
	get := func(from, to string) *Conduit {
		id := from + "->" + to
		c := byID[id]
		if c == nil {
			c = &Conduit{From: from, To: to, Mode: modeOf(pol, from, to, modes)}
			byID[id] = c
			order = append(order, id)
		}
		return c
	}
	for _, cd := range pol.Conduits {
		get(cd.From, cd.To).Override = true
	}
	for _, row := range rows {
		c := get(row.From, row.To)
		c.Rows = append(c.Rows, row)
		c.Flows += row.Flows
		c.Packets += row.Packets
		c.Bytes += row.Bytes
		c.Refused += row.Refused
		c.RefusedDropped += row.RefusedDropped
		switch row.Verdict {
		case Denied:
			c.Denied += row.Flows
			c.DeniedPackets += row.Packets
		case WouldDrop:
			c.WouldDrop += row.Flows
			c.WouldDropPackets += row.Packets
		default:
			c.Allowed += row.Flows
			c.AllowedPackets += row.Packets
		}
		c.Functions = append(c.Functions, row.Functions...)
	}
	out := make([]Conduit, 0, len(order))
	for _, id := range order {
		c := byID[id]
		c.Functions = uniqueSorted(c.Functions)
		out = append(out, *c)
	}
	// What a reviewer must look at first: denied, then would-drop, then
	// allowed, then idle conduits, each by zone names.
	rank := map[string]int{Denied: 0, WouldDrop: 1, Allowed: 2, Idle: 3}
	sort.SliceStable(out, func(i, j int) bool {
		if a, b := rank[out[i].Class()], rank[out[j].Class()]; a != b {
			return a < b
		}
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out
}

func modeOf(pol *rules.Policy, from, to string, modes map[string]string) string {
	if m, ok := modes[from+"->"+to]; ok {
		return m
	}
	f, ok1 := pol.ZoneByName(from)
	t, ok2 := pol.ZoneByName(to)
	if !ok1 || !ok2 {
		return pol.Mode.String()
	}
	return pol.ModeFor(f, t).String()
}

func rulesOf(pol *rules.Policy, hits []engine.RuleHits, end time.Time) []Rule {
	desc := map[string]string{}
	for _, r := range pol.Rules {
		desc[r.Name] = r.Description
	}
	desc["default"] = "the implicit last rule (" + pol.Default.String() + ")"
	out := make([]Rule, 0, len(hits))
	for _, h := range hits {
		r := Rule{Name: h.Name, Index: h.Index, Action: h.Action, Cleanup: h.Cleanup, Description: desc[h.Name],
			Packets: h.Packets, Bytes: h.Bytes, Flows: h.Flows, Requests: h.Requests, WouldDrop: h.WouldDrop,
			FirstHit: h.FirstHit, LastHit: h.LastHit, QuietFor: "never hit"}
		if h.LastHit != nil {
			r.QuietFor = Ago(end.Sub(*h.LastHit))
		}
		out = append(out, r)
	}
	return out
}

// Ago formats a duration for people: 45s, 12m05s, 3h12m, 19d04h.
func Ago(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}
