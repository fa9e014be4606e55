package rules

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

var (
	ruleKeys = slices.Concat([]string{"name", "description", "from", "to", "proto", "sport", "dport", "icmp_types",
		"action", "log", "cleanup", "idle_timeout"}, appKeys, []string{"on_unparsed", "on_violation", "fastpath"})
	protoWords = []string{"tcp", "udp", "icmp", "icmpv6", "any"}
	protoNums  = map[string]uint8{"tcp": ProtoTCP, "udp": ProtoUDP, "icmp": ProtoICMP, "icmpv6": ProtoICMPv6, "any": ProtoAny}
)

// rules decodes the rules list and checks what involves several rules:
// unique names and the cleanup rules, last.
func (d *decoder) rules(key, n *yaml.Node, p *Policy) []Rule {
	if n.Kind != yaml.SequenceNode {
		d.errf(n, "rules must be a list of rules (each starting with \"- name:\"), not %s", describe(n))
		return nil
	}
	if len(n.Content) > MaxRules {
		d.errf(key, "the policy has %d rules; at most %d are supported", len(n.Content), MaxRules)
		return nil
	}
	out := make([]Rule, 0, len(n.Content))
	names := map[string]int{}
	for i, rn := range n.Content {
		r, ok := d.rule(rn, i, p)
		if !ok {
			continue
		}
		if r.Name != "" {
			if line, dup := names[r.Name]; dup {
				d.errAt(r.Line, r.Col, "rule %s: the name is already used by the rule at line %d", r.Name, line)
			}
			names[r.Name] = r.Line
		}
		out = append(out, r)
	}
	d.cleanupRules(out)
	return out
}

// cleanupRules checks the cleanup rules: a global one (from any, to any)
// and scoped ones, each of one conduit (one zone on each side and nothing
// else to match), at most one per zone pair. They come after every other
// rule, the global one last: each catches what the rules above leave of
// its conduit, so each has its own hits and quiet-for.
func (d *decoder) cleanupRules(out []Rule) {
	global, globalLate := -1, false
	pairs := map[[2]ZoneID]int{}
	for i := range out {
		r := &out[i]
		if !r.Cleanup {
			continue
		}
		if next := nextPlain(out, i); next >= 0 {
			n := &out[next]
			d.errAt(r.Line, r.Col, "rule %s: the cleanup rule must be the last rule; rule %s (line %d) comes after it", r.Name, n.Name, n.Line)
		}
		if r.From.Any && r.To.Any {
			if global >= 0 {
				d.errAt(r.Line, r.Col, "rule %s: only one global cleanup rule (from: any, to: any) is allowed (rule %s at line %d is one)", r.Name, out[global].Name, out[global].Line)
				continue
			}
			global = i
			continue
		}
		if !oneZone(&r.From) || !oneZone(&r.To) || r.Proto != ProtoAny || len(r.SPorts)+len(r.DPorts)+len(r.ICMPTypes) > 0 || r.App != nil {
			d.errAt(r.Line, r.Col, "rule %s: a cleanup rule is either global (from: any, to: any) or of one conduit (from and to each one zone), with no proto, ports or protocol condition", r.Name)
			continue
		}
		pair := [2]ZoneID{r.From.Zones[0], r.To.Zones[0]}
		if j, dup := pairs[pair]; dup {
			d.errAt(r.Line, r.Col, "rule %s: conduit %s -> %s already has the cleanup rule %s (line %d)", r.Name, r.From, r.To, out[j].Name, out[j].Line)
			continue
		}
		pairs[pair] = i
		if global >= 0 && !globalLate {
			globalLate = true
			g := &out[global]
			d.errAt(g.Line, g.Col, "rule %s: the global cleanup rule must be the last rule; the cleanup rule %s (line %d) comes after it", g.Name, r.Name, r.Line)
		}
	}
}

// CleanupConduit is the zone pair "from -> to" of a cleanup rule scoped
// to one conduit, "" for the global cleanup rule and other rules.
func (r *Rule) CleanupConduit() string {
	if !r.Cleanup || r.From.Any && r.To.Any {
		return ""
	}
	return r.From.String() + " -> " + r.To.String()
}

// nextPlain is the index of the first rule after i that is no cleanup
// rule, or -1.
func nextPlain(rs []Rule, i int) int {
	for j := i + 1; j < len(rs); j++ {
		if !rs[j].Cleanup {
			return j
		}
	}
	return -1
}

// oneZone reports whether e names exactly one zone and nothing else.
func oneZone(e *Endpoint) bool {
	return !e.Any && len(e.Zones) == 1 && len(e.CIDRs) == 0 && e.Zones[0] != ZoneUnknown
}

// rule decodes one rule. The name is read first so every message about the
// rule can say which one it is.
func (d *decoder) rule(n *yaml.Node, i int, p *Policy) (Rule, bool) {
	r := Rule{Index: i, Line: n.Line, Col: n.Column, Log: true, Action: ActionAllow}
	ctx := fmt.Sprintf("rule #%d: ", i+1)
	if n.Kind == yaml.MappingNode {
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == "name" && n.Content[j+1].Kind == yaml.ScalarNode && n.Content[j+1].Value != "" {
				ctx = "rule " + n.Content[j+1].Value + ": "
				break
			}
		}
	}
	f := d.fields(n, ctx, "a rule", ruleKeys)
	if f == nil {
		return r, false
	}
	if v, ok := f["name"]; ok {
		if s, ok := d.scalar(v.val, ctx, "name"); ok {
			switch {
			case s == "default":
				d.errf(v.val, "%sthe name default is reserved for the implicit last rule", ctx)
			case !ruleNameRE.MatchString(s):
				d.errf(v.val, "%sname %q must use only letters, digits, '_', '-', '.' and ':' (no spaces)", ctx, s)
			}
			r.Name = s
		}
	} else {
		d.errf(n, "%sno name; every rule needs a unique name", ctx)
	}
	if v, ok := f["description"]; ok {
		r.Description, _ = d.str(v.val, ctx, "description")
	}
	for _, side := range []string{"from", "to"} {
		v, ok := f[side]
		if !ok {
			d.errf(n, "%sno %s (a zone, a CIDR, a list of them, or any)", ctx, side)
			continue
		}
		e := d.endpoint(v.val, ctx, side, p)
		if side == "from" {
			r.From = e
		} else {
			r.To = e
		}
	}
	protoKnown := true
	if v, ok := f["proto"]; ok {
		if s, ok := d.word(v.val, ctx, "proto", protoWords); ok {
			r.Proto = protoNums[s]
		} else {
			protoKnown = false
		}
	}
	for _, k := range []string{"sport", "dport"} {
		v, ok := f[k]
		if !ok {
			continue
		}
		ports := d.ports(v.val, ctx, k)
		if protoKnown && r.Proto != ProtoTCP && r.Proto != ProtoUDP {
			d.errf(v.key, "%s%s needs proto tcp or udp (proto is %s)", ctx, k, ProtoName(r.Proto))
		}
		if k == "sport" {
			r.SPorts = ports
		} else {
			r.DPorts = ports
		}
	}
	if v, ok := f["icmp_types"]; ok {
		if items, ok := d.items(v.val, ctx, "icmp_types"); ok {
			for _, it := range items {
				if x, ok := d.integer(it, ctx, "an ICMP type", 0, 255); ok {
					r.ICMPTypes = append(r.ICMPTypes, uint8(x))
				}
			}
		}
		if protoKnown && r.Proto != ProtoICMP && r.Proto != ProtoICMPv6 {
			d.errf(v.key, "%sicmp_types needs proto icmp or icmpv6 (proto is %s)", ctx, ProtoName(r.Proto))
		}
	}
	if v, ok := f["action"]; ok {
		if s, ok := d.word(v.val, ctx, "action", actionWords); ok && s == "deny" {
			r.Action = ActionDeny
		}
	}
	d.boolField(f, ctx, "log", &r.Log)
	d.boolField(f, ctx, "cleanup", &r.Cleanup)
	if v, ok := f["idle_timeout"]; ok {
		if t, ok := d.duration(v.val, ctx, "idle_timeout"); ok {
			r.IdleTimeout = t
		}
	}
	r.App = d.appCond(f, ctx, &r, protoKnown)
	d.fastpath(f, ctx, &r, p)
	r.OnUnparsed, r.OnViolation = p.OnUnparsed, p.OnViolation
	if v, ok := f["on_unparsed"]; ok {
		r.OnUnparsed, _ = d.onUnparsed(v.val, ctx)
		if r.App == nil {
			d.errf(v.key, "%son_unparsed applies only to a rule with a protocol condition (%s)", ctx, orList(appKeys))
		}
	}
	if v, ok := f["on_violation"]; ok {
		r.OnViolation, _ = d.onViolation(v.val, ctx)
		if r.App == nil {
			d.errf(v.key, "%son_violation applies only to a rule with a protocol condition (%s)", ctx, orList(appKeys))
		}
	}
	return r, true
}

// endpoint decodes from/to: any, a zone name, a CIDR or address, or a list.
func (d *decoder) endpoint(n *yaml.Node, ctx, side string, p *Policy) Endpoint {
	var e Endpoint
	items, ok := d.items(n, ctx, side)
	if !ok {
		return e
	}
	for _, it := range items {
		s, ok := d.scalar(it, ctx, side)
		if !ok {
			continue
		}
		e.Items = append(e.Items, s)
		switch {
		case s == "any":
			if len(items) > 1 {
				d.errf(it, "%sany in a list with other entries; write just %s: any", ctx, side)
			}
			e.Any = true
		case strings.ContainsAny(s, ":/") || s[0] >= '0' && s[0] <= '9':
			if pfx, ok := d.prefix(it, ctx, side); ok {
				e.CIDRs = append(e.CIDRs, pfx)
			}
		default:
			id, found := p.ZoneByName(s)
			if !found {
				d.errf(it, "%sunknown zone %q in %s%s", ctx, s, side, suggest(s, zoneNames(p)))
				continue
			}
			e.Zones = append(e.Zones, id)
		}
	}
	return e
}

// ports decodes a port, an "a-b" range, or a list of them.
func (d *decoder) ports(n *yaml.Node, ctx, key string) []PortRange {
	items, ok := d.items(n, ctx, key)
	if !ok {
		return nil
	}
	var out []PortRange
	for _, it := range items {
		if r, ok := d.portRange(it, ctx, key, 65535); ok {
			out = append(out, r)
		}
	}
	return out
}

// portRange parses "n" or "a-b" with values in [0, max].
func (d *decoder) portRange(n *yaml.Node, ctx, key string, max int64) (PortRange, bool) {
	s, ok := d.scalar(n, ctx, key)
	if !ok {
		return PortRange{}, false
	}
	lo, hi, isRange := strings.Cut(s, "-")
	a, okA := parseInt(strings.TrimSpace(lo))
	b := a
	okB := okA
	if isRange {
		b, okB = parseInt(strings.TrimSpace(hi))
	}
	switch {
	case !okA || !okB:
		d.errf(n, "%s%s must be a number or a range like 1024-2047, not %q", ctx, key, s)
	case a < 0 || a > max || b < 0 || b > max:
		d.errf(n, "%s%s %s is out of range 0-%d", ctx, key, s, max)
	case a > b:
		d.errf(n, "%s%s range %s is backwards; write %d-%d", ctx, key, s, b, a)
	default:
		return PortRange{Lo: uint16(a), Hi: uint16(b)}, true
	}
	return PortRange{}, false
}
