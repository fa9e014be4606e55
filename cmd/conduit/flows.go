package main

import (
	"flag"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/conduit-ot/conduit/engine"
)

// flowsArgs filter the flows the daemon returns.
type flowsArgs struct {
	Zone  string `json:"zone,omitempty"`  // either side's zone
	Rule  string `json:"rule,omitempty"`  // the deciding rule
	Addr  string `json:"addr,omitempty"`  // an address or CIDR, either side
	Limit int    `json:"limit,omitempty"` // at most this many; 0: all
}

// flowsReply is the daemon's answer and `flows --json`.
type flowsReply struct {
	Total   int               `json:"total"`   // flows in the table
	Matched int               `json:"matched"` // flows matching the filter
	Flows   []engine.FlowInfo `json:"flows"`   // by id, at most Limit
}

// flowFilter is a parsed flowsArgs.
type flowFilter struct {
	zone, rule string
	prefix     netip.Prefix // invalid: any address
}

func (o *ops) parseFlowFilter(a flowsArgs) (flowFilter, error) {
	f := flowFilter{zone: a.Zone, rule: a.Rule}
	pol := o.store.Load().Policy
	if a.Zone != "" {
		if _, ok := pol.ZoneByName(a.Zone); !ok {
			names := make([]string, len(pol.Zones))
			for i, z := range pol.Zones {
				names[i] = z.Name
			}
			return f, fmt.Errorf("no zone %q in the policy in force (zones: %s)", a.Zone, strings.Join(names, ", "))
		}
	}
	if a.Rule != "" {
		found := false
		for i := 0; i <= len(pol.Rules); i++ {
			found = found || pol.RuleName(i) == a.Rule
		}
		if !found {
			return f, fmt.Errorf("no rule %q in the policy in force", a.Rule)
		}
	}
	if a.Addr != "" {
		if p, err := netip.ParsePrefix(a.Addr); err == nil {
			f.prefix = p.Masked()
		} else if ip, err := netip.ParseAddr(a.Addr); err == nil {
			f.prefix = netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen())
		} else {
			return f, fmt.Errorf("--addr %q is neither an address nor a CIDR", a.Addr)
		}
	}
	if a.Limit < 0 {
		return f, fmt.Errorf("--limit %d is negative", a.Limit)
	}
	return f, nil
}

func (f *flowFilter) match(fi *engine.FlowInfo) bool {
	if f.zone != "" && fi.FromZone != f.zone && fi.ToZone != f.zone {
		return false
	}
	if f.rule != "" && fi.Rule != f.rule {
		return false
	}
	if f.prefix.IsValid() && !f.prefix.Contains(fi.Src.Unmap()) && !f.prefix.Contains(fi.Dst.Unmap()) {
		return false
	}
	return true
}

func (o *ops) flowsHandler(a flowsArgs) (any, error) {
	f, err := o.parseFlowFilter(a)
	if err != nil {
		return nil, err
	}
	r := flowsReply{Flows: []engine.FlowInfo{}}
	o.eng.Flows(func(fi engine.FlowInfo) bool {
		r.Total++
		if f.match(&fi) {
			r.Matched++
			r.Flows = append(r.Flows, fi)
		}
		return true
	})
	sort.Slice(r.Flows, func(i, j int) bool { return r.Flows[i].ID < r.Flows[j].ID })
	if a.Limit > 0 && len(r.Flows) > a.Limit {
		r.Flows = r.Flows[:a.Limit]
	}
	return r, nil
}

func runFlows(args []string, stdout, stderr io.Writer) int {
	return query[flowsReply]{name: "flows", flags: flowsFlags, text: printFlows}.run(args, stdout, stderr)
}

// flowsFlags are the filters of conduit flows.
func flowsFlags(fs *flag.FlagSet) any {
	var a flowsArgs
	fs.StringVar(&a.Zone, "zone", "", "only flows from or to this zone")
	fs.StringVar(&a.Rule, "rule", "", "only flows decided by this rule (\"default\" for the default)")
	fs.StringVar(&a.Addr, "addr", "", "only flows from or to this address or CIDR")
	// A full table holds tens of thousands of flows: a terminal wants the
	// first page and a count, not a scroll.
	fs.IntVar(&a.Limit, "limit", 200, "at most this many flows, oldest first (0: all)")
	return &a
}

func printFlows(w io.Writer, r *flowsReply) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPROTO\tFROM\tTO\tZONES\tRULE\tMODE\tPATH\tSTATE\tIDLE\tMAX GAP\tTIMEOUT\tPACKETS\tBYTES")
	for _, f := range r.Flows {
		rule := f.Rule
		switch {
		case rule != "":
		case f.Mode == "passthrough":
			rule = "(passthrough)"
		default:
			rule = fmt.Sprintf("(generation %d)", f.Generation)
		}
		if f.PickedUp {
			rule += " [pickup]"
		}
		if !f.Allowed && f.Mode != "passthrough" {
			rule += " [denied]"
		}
		// PATH: where the flow's packets are decided; "kernel" is the
		// fast path (offloaded), its counters from conntrack accounting.
		path := "queue"
		if f.Offloaded {
			path = "kernel"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s -> %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%s/%s\n",
			f.ID, f.Proto, endpoint(f.Src, f.Sport, f.Proto), endpoint(f.Dst, f.Dport, f.Proto),
			f.FromZone, f.ToZone, rule, f.Mode, path, f.State,
			fmtAgo(secs(f.IdleS)), fmtAgo(secs(f.MaxGapS)), fmtAgo(secs(f.TimeoutS)),
			f.PacketsOrig, f.PacketsReply, fmtBytes(f.BytesOrig), fmtBytes(f.BytesReply))
	}
	tw.Flush()
	fmt.Fprintf(w, "%d of %d tracked flows shown", len(r.Flows), r.Total)
	if r.Matched != len(r.Flows) {
		fmt.Fprintf(w, " (%d matched; --limit 0 shows all)", r.Matched)
	}
	fmt.Fprintln(w)
}

func endpoint(a netip.Addr, port uint16, proto string) string {
	if proto == "tcp" || proto == "udp" {
		return netip.AddrPortFrom(a, port).String()
	}
	return a.String()
}

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
