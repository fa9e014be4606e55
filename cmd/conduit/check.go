package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/conduit-ot/conduit/proto"
	"github.com/conduit-ot/conduit/rules"
)

// runCheck implements `conduit check -c FILE [--json]`: exit 0 when the
// policy is valid (warnings allowed), 1 when it is invalid, 2 when it
// cannot be read or the command line is wrong.
func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", "usage: conduit check -c FILE [--json]", stderr)
	file := fs.String("c", "", "policy `file` to check")
	asJSON := fs.Bool("json", false, "print the result as one JSON object")
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if *file == "" && fs.NArg() == 1 {
		*file = fs.Arg(0)
	} else if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "conduit check: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if *file == "" {
		fmt.Fprintln(stderr, "conduit check: no policy file (-c FILE)")
		fs.Usage()
		return 2
	}

	p, err := rules.Load(*file)
	var invalid *rules.Errors
	switch {
	case err == nil:
	case errors.As(err, &invalid):
		if *asJSON {
			writeJSON(stdout, checkResult{File: *file, Errors: diagsJSON(invalid.List)})
		} else {
			for _, d := range invalid.List {
				fmt.Fprintf(stderr, "%s: %s\n", d.Pos(), d.Msg)
			}
			fmt.Fprintf(stderr, "%s: invalid (%s)\n", *file, plural(len(invalid.List), "error"))
		}
		return 1
	default:
		if *asJSON {
			writeJSON(stdout, checkResult{File: *file, Errors: []diagJSON{{Msg: err.Error()}}})
		} else {
			fmt.Fprintf(stderr, "conduit check: %v\n", err)
		}
		return 2
	}
	if *asJSON {
		writeJSON(stdout, resultOf(p))
	} else {
		printSummary(stdout, p)
	}
	return 0
}

type checkResult struct {
	Valid    bool          `json:"valid"`
	File     string        `json:"file"`
	SHA256   string        `json:"sha256,omitempty"`
	Mode     string        `json:"mode,omitempty"`
	Default  string        `json:"default,omitempty"`
	Zones    []zoneJSON    `json:"zones"`
	Conduits []conduitJSON `json:"conduits"`
	Rules    []ruleJSON    `json:"rules"`
	Layer2   *layer2JSON   `json:"layer2,omitempty"` // the non-IP EtherTypes allowed (layer2.go)
	Warnings []diagJSON    `json:"warnings"`
	Errors   []diagJSON    `json:"errors"`
}

type zoneJSON struct {
	ID          int      `json:"id"`
	Name        string   `json:"name"`
	Level       string   `json:"level"`
	CIDRs       []string `json:"cidrs"`
	Ports       []string `json:"ports,omitempty"` // bridge ports its addresses may come in on
	MACs        []string `json:"macs,omitempty"`  // source MACs they may come from
	Description string   `json:"description,omitempty"`
	Line        int      `json:"line"`
}

type conduitJSON struct {
	From string `json:"from"`
	To   string `json:"to"`
	Mode string `json:"mode"`
	Line int    `json:"line"`
}

type ruleJSON struct {
	Index       int        `json:"index"`
	Name        string     `json:"name"`
	From        []string   `json:"from"`
	To          []string   `json:"to"`
	Proto       string     `json:"proto"`
	Sport       []string   `json:"sport,omitempty"`
	Dport       []string   `json:"dport,omitempty"`
	ICMPTypes   []int      `json:"icmp_types,omitempty"`
	Action      string     `json:"action"`
	Log         bool       `json:"log"`
	Cleanup     bool       `json:"cleanup"`
	IdleTimeout string     `json:"idle_timeout,omitempty"`
	Fastpath    bool       `json:"fastpath"` // the kernel passes its decided flows (README: fast path)
	Description string     `json:"description,omitempty"`
	Line        int        `json:"line"`
	appJSON     `json:"-"` // after line: see MarshalJSON
}

// appJSON is a rule's industrial-protocol condition under the policy's own
// keys and names (each key's object is its protocol's); on_unparsed and
// on_violation are set with a condition.
type appJSON struct {
	Sections    []proto.Section
	OnUnparsed  string
	OnViolation string
}

// MarshalJSON writes the rule's fields, then its condition's keys and
// on_unparsed and on_violation, in that order.
func (r ruleJSON) MarshalJSON() ([]byte, error) {
	type plain ruleJSON // without this method
	b, err := json.Marshal(plain(r))
	if err != nil || len(r.Sections) == 0 && r.OnUnparsed == "" && r.OnViolation == "" {
		return b, err
	}
	b = b[:len(b)-1] // the closing brace
	add := func(key string, v any) error {
		j, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("rule %s: %s: %w", r.Name, key, err)
		}
		k, _ := json.Marshal(key)
		b = append(append(append(append(b, ','), k...), ':'), j...)
		return nil
	}
	for _, s := range r.Sections {
		if err := add(s.Key, s.JSON); err != nil {
			return nil, err
		}
	}
	for _, kv := range [][2]string{{"on_unparsed", r.OnUnparsed}, {"on_violation", r.OnViolation}} {
		if kv[1] != "" {
			if err := add(kv[0], kv[1]); err != nil {
				return nil, err
			}
		}
	}
	return append(b, '}'), nil
}

type diagJSON struct {
	Line int    `json:"line"`
	Col  int    `json:"col"`
	Msg  string `json:"msg"`
}

func resultOf(p *rules.Policy) checkResult {
	r := checkResult{
		Valid: true, File: p.File, SHA256: p.SHA256, Mode: p.Mode.String(), Default: p.Default.String(),
		Zones: []zoneJSON{}, Conduits: []conduitJSON{}, Rules: []ruleJSON{},
		Warnings: diagsJSON(checkWarnings(p)), Errors: []diagJSON{},
	}
	for i, z := range p.Zones {
		zj := zoneJSON{ID: i + 1, Name: z.Name, Level: z.Level, CIDRs: []string{}, Ports: z.Ports, Description: z.Description, Line: z.Line}
		for _, c := range z.CIDRs {
			zj.CIDRs = append(zj.CIDRs, c.String())
		}
		for _, m := range z.MACs {
			zj.MACs = append(zj.MACs, m.String())
		}
		r.Zones = append(r.Zones, zj)
	}
	for _, c := range p.Conduits {
		r.Conduits = append(r.Conduits, conduitJSON{From: c.From, To: c.To, Mode: c.Mode.String(), Line: c.Line})
	}
	for _, rl := range p.Rules {
		rj := ruleJSON{
			Index: rl.Index, Name: rl.Name, From: rl.From.Items, To: rl.To.Items,
			Proto: rules.ProtoName(rl.Proto), Action: rl.Action.String(), Log: rl.Log, Cleanup: rl.Cleanup,
			Fastpath: rl.Fastpath, Description: rl.Description, Line: rl.Line,
		}
		for _, pr := range rl.SPorts {
			rj.Sport = append(rj.Sport, pr.String())
		}
		for _, pr := range rl.DPorts {
			rj.Dport = append(rj.Dport, pr.String())
		}
		for _, t := range rl.ICMPTypes {
			rj.ICMPTypes = append(rj.ICMPTypes, int(t))
		}
		if rl.IdleTimeout > 0 {
			rj.IdleTimeout = rules.FormatDuration(rl.IdleTimeout)
		}
		rj.appJSON = appOf(&rl)
		r.Rules = append(r.Rules, rj)
	}
	r.Layer2 = layer2Policy(p)
	return r
}

func diagsJSON(ds []rules.Diagnostic) []diagJSON {
	out := make([]diagJSON, 0, len(ds))
	for _, d := range ds {
		out = append(out, diagJSON{Line: d.Line, Col: d.Col, Msg: d.Msg})
	}
	return out
}

func writeJSON(w io.Writer, v checkResult) {
	// Lists are never null, so consumers can iterate without checks.
	for _, l := range []*[]diagJSON{&v.Warnings, &v.Errors} {
		if *l == nil {
			*l = []diagJSON{}
		}
	}
	if v.Zones == nil {
		v.Zones, v.Conduits, v.Rules = []zoneJSON{}, []conduitJSON{}, []ruleJSON{}
	}
	printJSON(w, v)
}

// printSummary shows what the policy means: modes, zones, conduits, rules
// in evaluation order, then the warnings.
func printSummary(out io.Writer, p *rules.Policy) {
	var buf bytes.Buffer
	defer func() {
		// tabwriter pads empty trailing cells; drop the trailing blanks.
		for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
			fmt.Fprintln(out, strings.TrimRight(line, " "))
		}
	}()
	w := &buf
	warnings := checkWarnings(p)
	fmt.Fprintf(w, "%s: valid, %s, %s, %s\n", p.File, plural(len(p.Zones), "zone"),
		plural(len(p.Rules), "rule"), plural(len(warnings), "warning"))
	fmt.Fprintf(w, "  sha256   %s\n", p.SHA256)
	fmt.Fprintf(w, "  mode     %s (global; conduits below override it)\n", p.Mode)
	fmt.Fprintf(w, "  default  %s\n", p.Default)

	fmt.Fprintf(w, "\nzones (an address belongs to the zone with the longest matching prefix)\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, z := range p.Zones {
		cidrs := make([]string, len(z.CIDRs))
		for i, c := range z.CIDRs {
			cidrs[i] = c.String()
		}
		fmt.Fprintf(tw, "  %s\tlevel %s\t%s%s\n", z.Name, z.Level, strings.Join(cidrs, ", "), bindingText(&z))
	}
	fmt.Fprintf(tw, "  unknown\t\taddresses outside every zone\n")
	tw.Flush()

	fmt.Fprintf(w, "\nconduits (mode per zone pair, in the direction written)\n")
	if len(p.Conduits) == 0 {
		fmt.Fprintf(w, "  none: every zone pair uses the global mode %s\n", p.Mode)
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range p.Conduits {
		fmt.Fprintf(tw, "  %s -> %s\t%s\n", c.From, c.To, c.Mode)
	}
	tw.Flush()

	fmt.Fprintf(w, "\nrules (first match wins; written in the request direction, replies follow the flow)\n")
	var table bytes.Buffer
	tw = tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  #\tname\tfrom\tto\tproto\tports\taction\tnotes\n")
	for _, r := range p.Rules {
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Index+1, r.Name, r.From, r.To,
			rules.ProtoName(r.Proto), portsText(&r), r.Action, notesText(&r))
	}
	fmt.Fprintf(tw, "  -\tdefault\tany\tany\tany\t-\t%s\timplicit\n", p.Default)
	tw.Flush()
	// A rule's protocol condition goes on a line of its own under the
	// rule's name: as a table cell it would widen every row.
	rows := strings.SplitAfter(table.String(), "\n")
	under := strings.Repeat(" ", strings.Index(rows[0], "name"))
	w.WriteString(rows[0])
	for i := range p.Rules {
		w.WriteString(rows[i+1])
		for _, c := range appText(appOf(&p.Rules[i])) {
			fmt.Fprintf(w, "%s%s\n", under, c)
		}
	}
	w.WriteString(rows[len(p.Rules)+1])
	printLayer2Summary(w, p)

	if len(warnings) > 0 {
		fmt.Fprintf(w, "\nwarnings\n")
		for _, d := range warnings {
			fmt.Fprintln(w, d.String())
		}
	}
}

// checkWarnings are the policy's warnings and the advice check adds to
// them (a bridge box whose zones name no ports), in file order.
func checkWarnings(p *rules.Policy) []rules.Diagnostic {
	adv := p.Advice(p.File)
	if len(adv) == 0 {
		return p.Warnings
	}
	ws := append(append([]rules.Diagnostic(nil), adv...), p.Warnings...)
	sort.SliceStable(ws, func(i, j int) bool {
		if ws[i].Line != ws[j].Line {
			return ws[i].Line < ws[j].Line
		}
		return ws[i].Col < ws[j].Col
	})
	return ws
}

// bindingText is a zone's binding in the summary: "  ports vent; macs 02:..".
func bindingText(z *rules.Zone) string {
	var parts []string
	if len(z.Ports) > 0 {
		parts = append(parts, "ports "+strings.Join(z.Ports, ","))
	}
	if len(z.MACs) > 0 {
		ms := make([]string, len(z.MACs))
		for i, m := range z.MACs {
			ms[i] = m.String()
		}
		parts = append(parts, "macs "+strings.Join(ms, ","))
	}
	if len(parts) == 0 {
		return ""
	}
	return "  (from " + strings.Join(parts, "; ") + ")"
}

func portsText(r *rules.Rule) string {
	var parts []string
	if len(r.SPorts) > 0 {
		parts = append(parts, "sport "+rules.FormatPorts(r.SPorts))
	}
	if len(r.DPorts) > 0 {
		parts = append(parts, "dport "+rules.FormatPorts(r.DPorts))
	}
	if len(r.ICMPTypes) > 0 {
		ts := make([]string, len(r.ICMPTypes))
		for i, t := range r.ICMPTypes {
			ts[i] = strconv.Itoa(int(t))
		}
		parts = append(parts, "type "+strings.Join(ts, ","))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}

func notesText(r *rules.Rule) string {
	var n []string
	if r.Cleanup {
		n = append(n, "cleanup")
	}
	if !r.Log {
		n = append(n, "no log")
	}
	if r.IdleTimeout > 0 {
		n = append(n, "idle "+rules.FormatDuration(r.IdleTimeout))
	}
	// Only what differs from the default: allow rules without a protocol
	// condition are on the fast path, the cleanup rule is not.
	switch {
	case r.Fastpath && r.Cleanup:
		n = append(n, "fastpath")
	case !r.Fastpath && !r.Cleanup && r.Action == rules.ActionAllow && r.App == nil:
		n = append(n, "no fastpath")
	}
	if r.App != nil {
		// Only what differs from the defaults: deny and drop.
		if r.OnUnparsed != rules.UnparsedDeny {
			n = append(n, "on_unparsed "+r.OnUnparsed.String())
		}
		if r.OnViolation != rules.ViolationDrop {
			n = append(n, "on_violation "+r.OnViolation.String())
		}
	}
	return strings.Join(n, ", ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// appOf renders a rule's protocol condition in the policy's vocabulary:
// names where the protocol has one, numbers otherwise.
func appOf(r *rules.Rule) appJSON {
	c := r.App
	if c == nil {
		return appJSON{}
	}
	a := appJSON{OnUnparsed: r.OnUnparsed.String(), OnViolation: r.OnViolation.String()}
	a.Sections = c.Cond.Describe()
	return a
}

// appText is the summary's form of a condition, one line per policy key:
// "modbus: functions read_coils,read_holding_registers; unit_ids 1,2".
func appText(a appJSON) []string {
	var out []string
	for _, s := range a.Sections {
		out = append(out, s.Text)
	}
	return out
}

func rangeList(rs []rules.PortRange) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

func nameOr(name, number string) string {
	if name != "" {
		return name
	}
	return number
}
