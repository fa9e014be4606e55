package rules

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Limits on policy size, far above any real plant's communication matrix.
const (
	MaxZones = 4096
	MaxRules = 20000
)

var (
	topKeys       = []string{"mode", "queue", "conntrack", "log", "metrics", "control", "zones", "conduits", "rules", "default", "on_unparsed", "on_violation", "fastpath", "layer2"}
	queueKeys     = []string{"num", "count", "fail_open", "overload", "nflog_group"}
	conntrackKeys = []string{"capacity", "pickup", "seed", "timeouts"}
	timeoutKeys   = []string{"tcp_established", "tcp_handshake", "tcp_closing", "udp", "icmp", "other"}
	logKeys       = []string{"file", "syslog"}
	metricsKeys   = []string{"listen"}
	controlKeys   = []string{"socket"}
	zoneKeys      = []string{"level", "cidrs", "ports", "macs", "description"}
	conduitKeys   = []string{"from", "to", "mode", "description"}
	levels        = []string{"0", "1", "2", "3", "3.5", "dmz", "4", "5", LevelUnknown}
	modeWords     = []string{"passthrough", "monitor", "enforce"}
	actionWords   = []string{"allow", "deny"}

	zoneNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,62}$`)
	ruleNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$`)
)

// policy decodes the top-level mapping. Sections are decoded in dependency
// order (zones before the conduits and rules that name them) whatever
// their order in the file.
func (d *decoder) policy(root *yaml.Node) *Policy {
	p := &Policy{
		Mode:      ModeMonitor,
		Queue:     QueueConfig{Count: 1, FailOpen: true, OverloadAccept: true, NFLOGGroup: DefaultNFLOGGroup},
		Conntrack: ConntrackConfig{Capacity: 65536, Pickup: true, Seed: true, Timeouts: DefaultTimeouts},
		Log:       LogConfig{File: "-"},
		Control:   ControlConfig{Socket: "/run/conduit.sock"},
		Default:   ActionDeny,
		Fastpath:  true,
	}
	f := d.fields(root, "", "the policy", topKeys)
	if f == nil {
		return p
	}
	if v, ok := f["mode"]; ok {
		if s, ok := d.word(v.val, "", "mode", modeWords); ok {
			p.Mode, _ = ParseMode(s)
		}
	}
	if v, ok := f["queue"]; ok {
		d.queue(v.val, &p.Queue)
	}
	if v, ok := f["conntrack"]; ok {
		d.conntrack(v.val, &p.Conntrack)
	}
	if v, ok := f["log"]; ok {
		d.logConfig(v.val, &p.Log)
	}
	if v, ok := f["metrics"]; ok {
		if g := d.fields(v.val, "metrics: ", "metrics", metricsKeys); g != nil {
			if x, ok := g["listen"]; ok {
				if s, ok := d.str(x.val, "metrics: ", "listen"); ok && s != "" {
					if _, _, err := net.SplitHostPort(s); err != nil {
						d.errf(x.val, "metrics: listen must be host:port (e.g. 127.0.0.1:9108), not %q", s)
					}
					p.Metrics.Listen = s
				}
			}
		}
	}
	if v, ok := f["control"]; ok {
		if g := d.fields(v.val, "control: ", "control", controlKeys); g != nil {
			if x, ok := g["socket"]; ok {
				if s, ok := d.scalar(x.val, "control: ", "socket"); ok {
					p.Control.Socket = s
				}
			}
		}
	}
	// The protocol conditions' defaults, read before the rules that inherit them.
	if v, ok := f["on_unparsed"]; ok {
		p.OnUnparsed, _ = d.onUnparsed(v.val, "")
	}
	if v, ok := f["on_violation"]; ok {
		p.OnViolation, _ = d.onViolation(v.val, "")
	}
	d.boolField(f, "", "fastpath", &p.Fastpath)
	if v, ok := f["zones"]; ok {
		p.Zones = d.zones(v.val)
		p.zonesLine = v.key.Line
	} else {
		d.errAt(root.Line, root.Column, "the policy has no zones: section")
	}
	if v, ok := f["conduits"]; ok {
		p.Conduits = d.conduits(v.val, p)
	}
	if v, ok := f["rules"]; ok {
		p.Rules = d.rules(v.key, v.val, p)
		p.rulesLine = v.key.Line
	} else {
		d.errAt(root.Line, root.Column, "the policy has no rules: section")
	}
	// After the zones, whose ports scope its entries (layer2.go).
	if v, ok := f["layer2"]; ok {
		p.Layer2 = d.layer2(v.key, v.val, p)
	} else {
		p.Layer2 = defaultLayer2(p.Mode)
	}
	if v, ok := f["default"]; ok {
		if s, ok := d.word(v.val, "", "default", actionWords); ok && s == "allow" {
			p.Default = ActionAllow
		}
		p.DefaultLine = v.key.Line
	}
	return p
}

func (d *decoder) queue(n *yaml.Node, q *QueueConfig) {
	const ctx = "queue: "
	f := d.fields(n, ctx, "queue", queueKeys)
	if v, ok := f["num"]; ok {
		if x, ok := d.integer(v.val, ctx, "num", 0, 65535); ok {
			q.Num = uint16(x)
		}
	}
	if v, ok := f["count"]; ok {
		if x, ok := d.integer(v.val, ctx, "count", 1, 1024); ok {
			q.Count = uint16(x)
			if int(q.Num)+int(q.Count)-1 > 65535 {
				d.errf(v.val, "%squeues %d..%d go past 65535", ctx, q.Num, int(q.Num)+int(q.Count)-1)
			}
		}
	}
	if v, ok := f["fail_open"]; ok {
		if b, ok := d.boolean(v.val, ctx, "fail_open"); ok {
			q.FailOpen = b
			q.OverloadAccept = b
		}
	}
	if v, ok := f["overload"]; ok {
		if w, ok := d.word(v.val, ctx, "overload", []string{"accept", "drop"}); ok {
			q.OverloadAccept = w == "accept"
		}
	}
	if v, ok := f["nflog_group"]; ok {
		if x, ok := d.integer(v.val, ctx, "nflog_group", 0, 65535); ok {
			q.NFLOGGroup = uint16(x)
		}
	}
}

func (d *decoder) conntrack(n *yaml.Node, c *ConntrackConfig) {
	const ctx = "conntrack: "
	f := d.fields(n, ctx, "conntrack", conntrackKeys)
	if v, ok := f["capacity"]; ok {
		if x, ok := d.integer(v.val, ctx, "capacity", 1, 1<<26); ok {
			c.Capacity = int(x)
		}
	}
	d.boolField(f, ctx, "pickup", &c.Pickup)
	d.boolField(f, ctx, "seed", &c.Seed)
	v, ok := f["timeouts"]
	if !ok {
		return
	}
	g := d.fields(v.val, ctx, "conntrack.timeouts", timeoutKeys)
	dst := map[string]*time.Duration{
		"tcp_established": &c.Timeouts.TCPEstablished,
		"tcp_handshake":   &c.Timeouts.TCPHandshake,
		"tcp_closing":     &c.Timeouts.TCPClosing,
		"udp":             &c.Timeouts.UDP,
		"icmp":            &c.Timeouts.ICMP,
		"other":           &c.Timeouts.Other,
	}
	for _, k := range timeoutKeys {
		if x, ok := g[k]; ok {
			if t, ok := d.duration(x.val, ctx, "timeouts."+k); ok {
				*dst[k] = t
			}
		}
	}
}

// duration parses a positive duration.
func (d *decoder) duration(n *yaml.Node, ctx, key string) (time.Duration, bool) {
	s, ok := d.scalar(n, ctx, key)
	if !ok {
		return 0, false
	}
	t, err := ParseDuration(s)
	if err != nil {
		if _, isNum := parseInt(s); isNum {
			d.errf(n, "%s%s needs a unit (s, m, h or d): e.g. %ss", ctx, key, s)
		} else {
			d.errf(n, "%s%s: %v", ctx, key, err)
		}
		return 0, false
	}
	if t <= 0 {
		d.errf(n, "%s%s must be longer than zero, not %s", ctx, key, s)
		return 0, false
	}
	return t, true
}

func (d *decoder) logConfig(n *yaml.Node, l *LogConfig) {
	const ctx = "log: "
	f := d.fields(n, ctx, "log", logKeys)
	if v, ok := f["file"]; ok {
		if s, ok := d.scalar(v.val, ctx, "file"); ok {
			l.File = s
		}
	}
	if v, ok := f["syslog"]; ok {
		if s, ok := d.str(v.val, ctx, "syslog"); ok && s != "" {
			u, err := url.Parse(s)
			switch {
			case err != nil || u.Scheme != "udp" && u.Scheme != "tcp" && u.Scheme != "unix":
				d.errf(v.val, "%ssyslog must be udp://host:port, tcp://host:port or unix:///path, not %q", ctx, s)
			case u.Scheme != "unix" && u.Port() == "":
				d.errf(v.val, "%ssyslog %q needs a port (e.g. udp://127.0.0.1:514)", ctx, s)
			}
			l.Syslog = s
		}
	}
}

// zones decodes the zones mapping: name -> {level, cidrs, ports, macs, description}.
func (d *decoder) zones(n *yaml.Node) []Zone {
	if n.Kind != yaml.MappingNode {
		d.errf(n, "zones must be a mapping of zone name to {level, cidrs}, not %s", describe(n))
		return nil
	}
	if len(n.Content)/2 > MaxZones {
		d.errf(n, "the policy has %d zones; at most %d are supported", len(n.Content)/2, MaxZones)
		return nil
	}
	var zones []Zone
	owner := map[netip.Prefix]int{} // prefix -> index in zones
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name, ok := d.scalar(k, "", "a zone name")
		if !ok {
			continue
		}
		if line, dup := seen[name]; dup {
			d.errf(k, "zone %s is defined twice (first at line %d)", name, line)
			continue
		}
		seen[name] = k.Line
		switch {
		case name == "any" || name == "unknown":
			d.errf(k, "zone name %q is reserved", name)
		case !zoneNameRE.MatchString(name):
			d.errf(k, "zone name %q must start with a letter and use only letters, digits, '_', '-' and '.'", name)
		}
		z := Zone{Name: name, Line: k.Line, Col: k.Column}
		ctx := "zone " + name + ": "
		f := d.fields(v, ctx, "zone "+name, zoneKeys)
		if f != nil {
			if x, ok := f["level"]; ok {
				if s, ok := d.scalar(x.val, ctx, "level"); ok {
					if !slices.Contains(levels, s) {
						d.errf(x.val, "%slevel must be a Purdue level: 0, 1, 2, 3, 3.5 (or dmz), 4 or 5 (or unknown), not %q", ctx, s)
					}
					z.Level = s
				}
			} else {
				d.errf(k, "%sno level (the Purdue level: 0, 1, 2, 3, 3.5 or dmz, 4, 5, or unknown)", ctx)
			}
			if x, ok := f["cidrs"]; ok {
				z.CIDRs = d.zoneCIDRs(x.val, ctx, len(zones), zones, owner)
			} else {
				d.errf(k, "%sno cidrs (the networks in the zone)", ctx)
			}
			if x, ok := f["ports"]; ok {
				z.Ports = d.zonePorts(x.val, ctx)
			}
			if x, ok := f["macs"]; ok {
				z.MACs = d.zoneMACs(x.val, ctx)
			}
			if x, ok := f["description"]; ok {
				z.Description, _ = d.str(x.val, ctx, "description")
			}
		}
		zones = append(zones, z)
	}
	if len(zones) == 0 && len(d.diags) == 0 {
		d.errf(n, "zones is empty; define at least one zone")
	}
	return zones
}

func (d *decoder) zoneCIDRs(n *yaml.Node, ctx string, self int, zones []Zone, owner map[netip.Prefix]int) []netip.Prefix {
	items, ok := d.items(n, ctx, "cidrs")
	if !ok {
		return nil
	}
	var out []netip.Prefix
	for _, it := range items {
		p, ok := d.prefix(it, ctx, "cidrs")
		if !ok {
			continue
		}
		if o, dup := owner[p]; dup {
			if o == self {
				d.errf(it, "%s%s is listed twice", ctx, p)
			} else {
				d.errf(it, "%s%s is already in zone %s (line %d); an address belongs to one zone", ctx, p, zones[o].Name, zones[o].Line)
			}
			continue
		}
		owner[p] = self
		out = append(out, p)
	}
	return out
}

// prefix parses a CIDR or a bare address (a host prefix).
func (d *decoder) prefix(n *yaml.Node, ctx, key string) (netip.Prefix, bool) {
	s, ok := d.scalar(n, ctx, key)
	if !ok {
		return netip.Prefix{}, false
	}
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		p, err = netip.ParsePrefix(s)
		if err != nil {
			d.errf(n, "%s%q is not a valid CIDR (e.g. 10.20.0.0/24 or fd00:20::/64)", ctx, s)
			return netip.Prefix{}, false
		}
		if m := p.Masked(); m != p {
			d.errf(n, "%s%s has host bits set: write %s for the network or %s for the host", ctx, s, m, netip.PrefixFrom(p.Addr(), p.Addr().BitLen()))
			return netip.Prefix{}, false
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			d.errf(n, "%s%q is not a valid IP address or CIDR", ctx, s)
			return netip.Prefix{}, false
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			d.errf(n, "%s%s mixes IPv4-mapped and IPv6 addresses; write the IPv4 part as an IPv4 CIDR", ctx, s)
			return netip.Prefix{}, false
		}
		p = canonPrefix(p)
	}
	return p, true
}

func (d *decoder) conduits(n *yaml.Node, p *Policy) []Conduit {
	if n.Kind != yaml.SequenceNode {
		d.errf(n, "conduits must be a list of {from, to, mode}, not %s", describe(n))
		return nil
	}
	var out []Conduit
	seen := map[uint32]int{}
	for i, cn := range n.Content {
		ctx := fmt.Sprintf("conduit #%d: ", i+1)
		f := d.fields(cn, ctx, "a conduit", conduitKeys)
		if f == nil {
			continue
		}
		c := Conduit{Line: cn.Line, Col: cn.Column}
		ok := true
		for _, side := range []string{"from", "to"} {
			v, has := f[side]
			if !has {
				d.errf(cn, "%sno %s zone", ctx, side)
				ok = false
				continue
			}
			s, good := d.scalar(v.val, ctx, side)
			if !good {
				ok = false
				continue
			}
			id, found := p.ZoneByName(s)
			if !found {
				d.errf(v.val, "%sunknown zone %q%s", ctx, s, suggest(s, zoneNames(p)))
				ok = false
			}
			if side == "from" {
				c.From, c.FromID = s, id
			} else {
				c.To, c.ToID = s, id
			}
		}
		if v, has := f["mode"]; has {
			if s, good := d.word(v.val, ctx, "mode", modeWords); good {
				c.Mode, _ = ParseMode(s)
			}
		} else {
			d.errf(cn, "%sno mode (passthrough, monitor or enforce)", ctx)
		}
		if v, has := f["description"]; has {
			c.Description, _ = d.str(v.val, ctx, "description")
		}
		if ok {
			key := uint32(c.FromID)<<16 | uint32(c.ToID)
			if line, dup := seen[key]; dup {
				d.errf(cn, "%s%s -> %s is already defined at line %d", ctx, c.From, c.To, line)
			}
			seen[key] = cn.Line
		}
		out = append(out, c)
	}
	return out
}

func zoneNames(p *Policy) []string {
	names := make([]string, 0, len(p.Zones)+1)
	for _, z := range p.Zones {
		names = append(names, z.Name)
	}
	return append(names, "unknown")
}
