package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/rules"
)

// hitsReply is the daemon's answer to "hits". `hits --json` prints only
// {"rules": [...]}; Now and Notes serve the human table.
type hitsReply struct {
	Now   time.Time         `json:"now"`
	Rules []engine.RuleHits `json:"rules"`
	Notes map[string]string `json:"notes,omitempty"` // rule name -> why it is highlighted
}

// hitsJSON is the `hits --json` contract.
type hitsJSON struct {
	Rules []engine.RuleHits `json:"rules"`
}

func (o *ops) hits() hitsReply {
	pol := o.store.Load().Policy
	r := hitsReply{Now: time.Now().UTC(), Rules: o.eng.Hits(), Notes: map[string]string{}}
	for i := range pol.Rules {
		if b := broadness(&pol.Rules[i]); b != "" {
			r.Notes[pol.Rules[i].Name] = "broad: " + b
		}
	}
	return r
}

// broadness says what makes an allow rule broad, or "" if nothing does:
// any endpoint, any protocol, any port, a port range over 1024 ports, or
// a CIDR shorter than /16 (IPv4) or /48 (IPv6). Such rules are where a
// policy narrows next.
func broadness(r *rules.Rule) string {
	if r.Action != rules.ActionAllow || r.Cleanup {
		return ""
	}
	var why []string
	for _, e := range []struct {
		side string
		ep   rules.Endpoint
	}{{"from", r.From}, {"to", r.To}} {
		if e.ep.Any {
			why = append(why, e.side+" any")
			continue
		}
		for _, c := range e.ep.CIDRs {
			if c.Addr().Is4() && c.Bits() < 16 || !c.Addr().Is4() && c.Bits() < 48 {
				why = append(why, e.side+" "+c.String())
			}
		}
	}
	switch r.Proto {
	case rules.ProtoAny:
		why = append(why, "any protocol")
	case rules.ProtoTCP, rules.ProtoUDP:
		n := 0
		for _, p := range r.DPorts {
			n += int(p.Hi) - int(p.Lo) + 1
		}
		switch {
		case len(r.DPorts) == 0:
			why = append(why, "any port")
		case n > 1024:
			why = append(why, fmt.Sprintf("%d ports", n))
		}
	}
	return strings.Join(why, ", ")
}

func runHits(args []string, stdout, stderr io.Writer) int {
	q := query[hitsReply]{name: "hits", text: printHits,
		json: func(r *hitsReply) any { return hitsJSON{Rules: r.Rules} }}
	return q.run(args, stdout, stderr)
}

// printHits prints one row per rule. The cleanup rule and broad allow
// rules are marked with "*" and explained in the last column.
func printHits(w io.Writer, r *hitsReply) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  RULE\tACTION\tPACKETS\tBYTES\tFLOWS\tREQUESTS\tLAST HIT\tQUIET FOR\tNOTE")
	for _, h := range r.Rules {
		mark, note := " ", r.Notes[h.Name]
		switch {
		case h.Cleanup && h.Conduit != "":
			mark, note = "*", "cleanup rule of "+h.Conduit
		case h.Cleanup:
			mark, note = "*", "cleanup rule"
		case note != "":
			mark = "*"
		}
		if h.Index < 0 {
			note = "no longer in the policy"
		}
		action := h.Action
		if action == "" {
			action = "-"
		}
		last, quiet := "never", "-"
		if h.LastHit != nil {
			last = h.LastHit.Local().Format("2006-01-02 15:04:05")
			quiet = fmtAgo(r.Now.Sub(*h.LastHit))
		}
		fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", mark, h.Name, action, fmtCount(h.Packets),
			fmtBytes(h.Bytes), fmtCount(h.Flows), fmtCount(h.Requests), last, quiet, note)
	}
	tw.Flush()
	fmt.Fprintln(w)
	printCleanupSummary(w, r.Rules, r.Now)
}

// printCleanupSummary says how long each cleanup rule has been quiet:
// the number the narrowing discipline waits on before enforce, conduit by
// conduit for the scoped ones.
func printCleanupSummary(w io.Writer, hits []engine.RuleHits, now time.Time) {
	n := 0
	for _, h := range hits {
		if !h.Cleanup || h.Index < 0 {
			continue
		}
		n++
		name := h.Name
		if h.Conduit != "" {
			name += " (" + h.Conduit + ")"
		}
		switch {
		case h.LastHit == nil:
			fmt.Fprintf(w, "cleanup rule %s: never hit since counting began\n", name)
		default:
			fmt.Fprintf(w, "cleanup rule %s: quiet for %s (last hit %s, %s in %s)\n", name,
				fmtAgo(now.Sub(*h.LastHit)), h.LastHit.Local().Format("2006-01-02 15:04:05"),
				plural(int(h.Packets), "packet"), plural(int(h.Flows), "flow"))
		}
	}
	if n == 0 {
		fmt.Fprintln(w, "no cleanup rule in the policy")
	}
}
