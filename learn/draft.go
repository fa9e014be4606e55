package learn

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"github.com/conduit-ot/conduit/proto"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/rules"
)

// DraftConfig shapes a draft policy.
type DraftConfig struct {
	// Zones given by the operator (--zones); addresses outside them get
	// inferred subnet zones.
	Zones []*Zone
	// HostsPerSide: a rule side lists hosts while a service has at most
	// this many on that side, and names the zone beyond. Default 4.
	HostsPerSide int
	// Margin multiplies the largest gap seen into idle_timeout. Default 3.
	Margin float64
	// Timeouts are the protocol defaults an idle_timeout must exceed to be
	// written. Default rules.DefaultTimeouts.
	Timeouts rules.Timeouts
	// NoConditions writes the protocol conditions as comments, for port-only
	// rules first; by default the rules of Modbus, DNP3, EtherNet/IP and
	// S7 services carry them.
	NoConditions bool
}

func (c *DraftConfig) defaults() {
	if c.HostsPerSide <= 0 {
		c.HostsPerSide = 4
	}
	if c.Margin <= 0 {
		c.Margin = 3
	}
	if c.Timeouts == (rules.Timeouts{}) {
		c.Timeouts = rules.DefaultTimeouts
	}
}

// side is one end of a draft rule: a zone, or hosts.
type side struct {
	zone  *Zone
	hosts []netip.Addr
}

func (s side) key() string {
	if s.zone != nil {
		return "zone:" + s.zone.Name
	}
	var b strings.Builder
	for _, h := range s.hosts {
		b.WriteString(h.String())
		b.WriteByte(',')
	}
	return b.String()
}

// yaml renders the side as a from/to value.
func (s side) yaml() string {
	if s.zone != nil {
		return s.zone.Name
	}
	items := make([]string, len(s.hosts))
	for i, h := range s.hosts {
		items[i] = yamlAddr(h)
	}
	if len(items) == 1 {
		return items[0]
	}
	return "[" + strings.Join(items, ", ") + "]"
}

// label is the side's part of a rule name.
func (s side) label(zs *Zones) string {
	if s.zone != nil {
		return s.zone.Name
	}
	if len(s.hosts) == 1 {
		return strings.NewReplacer(".", "-", ":", "-").Replace(s.hosts[0].String())
	}
	return zs.ZoneName(s.hosts[0]) + "-hosts"
}

func yamlAddr(a netip.Addr) string {
	if a.Is6() && !a.Is4In6() {
		return `"` + a.String() + `"`
	}
	return a.Unmap().String()
}

// draftRule is one allow rule of the draft.
type draftRule struct {
	name     string
	from, to side
	proto    uint8 // 0: any (an IP protocol the policy cannot name)
	ports    []uint16
	services []*Service
	idle     time.Duration
	gap      int64
	gapSvc   *Service
	// silent: services that only connected; donors: the services whose
	// condition they took (adoptSilent).
	silent, donors []*Service
	// fromAll, toAll: the side names its zone, whose hosts seen (this
	// many) all used exactly this service and request set.
	fromAll, toAll int
}

// adoptSilent sets the request signature of each service in svcs (one
// port between two zones). A service that only connected (no request,
// nothing unparsed) has asked for nothing a condition can say: it takes
// the signature most used towards its server (else in svcs), so it
// shares that rule rather than getting one without any condition.
func adoptSilent(svcs []*Service, sigOf map[*Service]string, cfg *DraftConfig) (donors map[*Service][]*Service) {
	donors = map[*Service][]*Service{}
	var silent []*Service
	isSilent := map[*Service]bool{}
	for _, s := range svcs {
		if !cfg.NoConditions && appOf(s.Proto, s.Port) != rules.AppNone && !s.logged && len(s.Functions) == 0 && len(s.Unparsed) == 0 {
			silent = append(silent, s)
			isSilent[s] = true
			continue
		}
		sigOf[s] = requestSig(s, cfg)
	}
	pick := func(server netip.Addr, any bool) (string, []*Service) {
		n := map[string][]*Service{}
		for _, s := range svcs {
			if sig, ok := sigOf[s]; ok && !isSilent[s] && (any || s.Server == server) {
				n[sig] = append(n[sig], s)
			}
		}
		best := ""
		for sig, ss := range n {
			if n[best] == nil || len(ss) > len(n[best]) || len(ss) == len(n[best]) && sig < best {
				best = sig
			}
		}
		return best, n[best]
	}
	for _, s := range silent {
		sig, from := pick(s.Server, false)
		if from == nil {
			sig, from = pick(s.Server, true)
		}
		sigOf[s], donors[s] = sig, from
	}
	return donors
}

// condServices are the services a rule's condition is decided from: its
// own and those whose condition its silent services took.
func (r *draftRule) condServices() []*Service {
	if len(r.donors) == 0 {
		return r.services
	}
	out := slices.Clone(r.services)
	for _, d := range r.donors {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// requestSig is what a client asked of a server, as the condition that
// allows exactly that: services with the same one may share a rule.
// Without conditions (--no-conditions) the rules allow by port only.
func requestSig(s *Service, cfg *DraftConfig) string {
	if cfg.NoConditions {
		return ""
	}
	var parts []string
	for _, c := range conditions([]*Service{s}) {
		parts = append(parts, c.keys...)
		if len(c.keys) > 0 && len(c.unparsed) > 0 {
			parts = append(parts, "on_unparsed: allow")
		}
	}
	return strings.Join(parts, "\n")
}

// Draft writes a draft policy for m: the narrowest allow rules covering
// every service seen, a logged cleanup rule that denies the rest, mode
// monitor. It returns the YAML and the zones it used.
func Draft(m *Matrix, cfg DraftConfig) ([]byte, *Zones) {
	cfg.defaults()
	zs := InferZones(m, cfg.Zones)
	dedupeZoneNames(zs, len(cfg.Zones))
	rs := draftRules(m, zs, &cfg)

	var b bytes.Buffer
	writeHeader(&b, m, zs, &cfg, rs)
	b.WriteString("mode: monitor\n\nzones:\n")
	bind := zoneBindings(m, zs)
	ports := map[*Zone][]string{}
	for _, z := range zs.List {
		writeZone(&b, z, bind[z])
		ports[z] = writtenPorts(z, bind[z])
	}
	b.WriteString("\nrules:\n")
	for i := range rs {
		writeRule(&b, &rs[i], zs, &cfg)
	}
	writeConduitCleanups(&b, rs, zs)
	b.WriteString(`  # The logged catch-all: in monitor it reports (as would-drop) every flow
  # the rules above do not cover; narrow the rules until it is quiet, then
  # enforce. It denies, so switching to enforce never allows more than the
  # rules above.
  - name: cleanup
    description: logged catch-all; quiet means the rules above cover the plant
    from: any
    to: any
    action: deny
    cleanup: true

default: deny
`)
	writeLayer2(&b, m, zs, ports)
	return b.Bytes(), zs
}

// writeConduitCleanups writes a logged catch-all for each zone pair the
// rules serve, so that each conduit has its own cleanup rule and quiet-for
// and can go to enforce on its own.
func writeConduitCleanups(b *bytes.Buffer, rs []draftRule, zs *Zones) {
	type pair struct{ from, to int }
	seen := map[pair]bool{}
	var pairs []pair
	index := map[*Zone]int{}
	for i, z := range zs.List {
		index[z] = i
	}
	taken := map[string]bool{}
	for _, r := range rs {
		taken[r.name] = true
		for _, s := range r.services {
			cz, sz := zs.Zone(s.Client), zs.Zone(s.Server)
			if cz == nil || sz == nil || !zoneable(s.Client) || !zoneable(s.Server) {
				continue
			}
			p := pair{index[cz], index[sz]}
			if !seen[p] {
				seen[p] = true
				pairs = append(pairs, p)
			}
		}
	}
	if len(pairs) == 0 {
		return
	}
	slices.SortFunc(pairs, func(a, b pair) int { return cmp.Or(cmp.Compare(a.from, b.from), cmp.Compare(a.to, b.to)) })
	b.WriteString(`  # A logged catch-all per conduit (zone pair the rules serve): each reports
  # what the rules above leave of its conduit and has its own quiet-for in
  # conduit hits; conduit ready tells when one has been quiet long enough
  # for its conduit to go to enforce.
`)
	for _, p := range pairs {
		from, to := zs.List[p.from].Name, zs.List[p.to].Name
		name := truncName("cleanup-" + from + "-to-" + to)
		for taken[name] {
			name += "-cleanup"
		}
		taken[name] = true
		fmt.Fprintf(b, "  - name: %s\n    from: %s\n    to: %s\n    action: deny\n    cleanup: true\n\n", name, from, to)
	}
}

func dedupeZoneNames(zs *Zones, given int) {
	names := map[string]bool{}
	for _, z := range zs.List[:given] {
		names[z.Name] = true
	}
	for _, z := range zs.List[given:] {
		for names[z.Name] {
			z.Name += "-inferred"
		}
		names[z.Name] = true
	}
}

// groupKey gathers the services between two zones on one port.
type groupKey struct {
	cz, sz *Zone
	proto  uint8
	port   uint16
}

func draftRules(m *Matrix, zs *Zones, cfg *DraftConfig) []draftRule {
	groups := map[groupKey][]*Service{}
	var order []groupKey
	for _, s := range m.Services() {
		k := groupKey{zs.Zone(s.Client), zs.Zone(s.Server), s.Proto, s.Port}
		if !zoneable(s.Client) {
			k.cz = nil
		}
		if !zoneable(s.Server) {
			k.sz = nil
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], s)
	}
	// Each group becomes units that grant exactly what was seen: the
	// clients that asked the same servers for the same requests (the same
	// protocol condition) share a unit, so no client gets a request, a
	// server or a port it was not seen using. A side names its zone only
	// where it has more than HostsPerSide hosts and they are every host
	// seen in that zone: the zone then adds no seen host that did not use
	// exactly this set.
	var units []draftRule
	for _, k := range order {
		svcs := groups[k]
		proto := k.proto
		if !knownProto(proto) {
			proto = 0
		}
		type cell struct {
			sig     string
			servers []netip.Addr
		}
		cells := map[netip.Addr]map[string][]netip.Addr{} // client -> sig -> servers
		cellSvcs := map[netip.Addr]map[string][]*Service{}
		sigOf := map[*Service]string{}
		donors := adoptSilent(svcs, sigOf, cfg)
		for _, s := range svcs {
			sig := sigOf[s]
			if cells[s.Client] == nil {
				cells[s.Client] = map[string][]netip.Addr{}
				cellSvcs[s.Client] = map[string][]*Service{}
			}
			cells[s.Client][sig] = append(cells[s.Client][sig], s.Server)
			cellSvcs[s.Client][sig] = append(cellSvcs[s.Client][sig], s)
		}
		var keys []string
		members := map[string][]netip.Addr{} // unit key -> clients
		unitSvcs := map[string][]*Service{}
		unitCell := map[string]cell{}
		for _, c := range hostSet(svcs, true) {
			sigs := make([]string, 0, len(cells[c]))
			for sig := range cells[c] {
				sigs = append(sigs, sig)
			}
			sort.Strings(sigs)
			for _, sig := range sigs {
				srvs := cells[c][sig]
				slices.SortFunc(srvs, func(a, b netip.Addr) int { return a.Compare(b) })
				srvs = slices.Compact(srvs)
				key := sig + "|" + side{hosts: srvs}.key()
				if _, ok := members[key]; !ok {
					keys = append(keys, key)
					unitCell[key] = cell{sig, srvs}
				}
				members[key] = append(members[key], c)
				unitSvcs[key] = append(unitSvcs[key], cellSvcs[c][sig]...)
			}
		}
		for _, key := range keys {
			uc, clients := unitCell[key], members[key]
			ss := unitSvcs[key]
			slices.SortFunc(ss, func(a, b *Service) int { return compareKeys(a.ServiceKey, b.ServiceKey) })
			u := draftRule{from: side{hosts: clients}, to: side{hosts: uc.servers}, proto: proto, ports: []uint16{k.port}, services: ss}
			for _, s := range ss {
				if d := donors[s]; d != nil {
					u.silent = append(u.silent, s)
					u.donors = append(u.donors, d...)
				}
			}
			if k.cz != nil && len(clients) > cfg.HostsPerSide && len(clients) == k.cz.Hosts {
				u.from, u.fromAll = side{zone: k.cz}, len(clients)
			}
			if k.sz != nil && len(uc.servers) > cfg.HostsPerSide && len(uc.servers) == k.sz.Hosts {
				u.to, u.toAll = side{zone: k.sz}, len(uc.servers)
			}
			units = append(units, u)
		}
	}
	// Units between the same sides with the same protocol share a rule
	// listing their ports (or ICMP types), except a unit with a protocol
	// condition: a rule's condition judges every flow the rule matches.
	merged := map[string]int{}
	var rs []draftRule
	for _, u := range units {
		key := fmt.Sprint(u.from.key(), "|", u.to.key(), "|", u.proto)
		if !cfg.NoConditions && hasCondition(u.condServices()) {
			key += fmt.Sprint("|", u.ports[0])
		}
		if i, ok := merged[key]; ok {
			r := &rs[i]
			r.ports = append(r.ports, u.ports...)
			r.services = append(r.services, u.services...)
			r.silent = append(r.silent, u.silent...)
			r.donors = append(r.donors, u.donors...)
			continue
		}
		merged[key] = len(rs)
		rs = append(rs, u)
	}
	for i := range rs {
		r := &rs[i]
		slices.Sort(r.ports)
		r.ports = slices.Compact(r.ports)
		r.timeout(cfg)
	}
	slices.SortStableFunc(rs, func(a, b draftRule) int {
		return cmp.Or(cmp.Compare(protoRank(a.proto), protoRank(b.proto)),
			cmp.Compare(a.ports[0], b.ports[0]),
			strings.Compare(a.to.yaml(), b.to.yaml()),
			strings.Compare(a.from.yaml(), b.from.yaml()))
	})
	names := map[string]int{}
	for i := range rs {
		r := &rs[i]
		name := truncName(r.from.label(zs) + "-to-" + r.to.label(zs) + "-" + r.serviceLabel())
		names[name]++
		if n := names[name]; n > 1 {
			name = truncName(fmt.Sprintf("%s-%d", name, n))
		}
		r.name = name
	}
	return rs
}

func knownProto(p uint8) bool {
	switch p {
	case packet.ProtoTCP, packet.ProtoUDP, packet.ProtoICMP, packet.ProtoICMPv6:
		return true
	}
	return false
}

func protoRank(p uint8) int {
	switch p {
	case packet.ProtoTCP:
		return 0
	case packet.ProtoUDP:
		return 1
	case packet.ProtoICMP, packet.ProtoICMPv6:
		return 2
	}
	return 3 // any: last, so it shadows none of the others
}

func hostSet(ss []*Service, clients bool) []netip.Addr {
	var out []netip.Addr
	for _, s := range ss {
		a := s.Server
		if clients {
			a = s.Client
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return slices.Compact(out)
}

func truncName(s string) string {
	if len(s) > 120 {
		s = s[:120]
	}
	return strings.Trim(s, "-.")
}

func (r *draftRule) serviceLabel() string {
	if r.proto == 0 {
		var ps []string
		for _, s := range r.services {
			ps = append(ps, fmt.Sprint("ip", s.Proto))
		}
		slices.Sort(ps)
		return strings.Join(slices.Compact(ps), "-")
	}
	var names []string
	for _, p := range r.ports {
		names = append(names, serviceName(r.proto, p))
	}
	if len(names) > 3 {
		names = append(names[:3], "etc")
	}
	return strings.Join(names, "-")
}

// timeout sets idle_timeout from the largest gap, where the gap times the
// margin exceeds the protocol default (ICMP flows keep theirs: rules do
// not change it).
func (r *draftRule) timeout(cfg *DraftConfig) {
	for _, s := range r.services {
		if s.MaxGap > r.gap {
			r.gap, r.gapSvc = s.MaxGap, s
		}
	}
	def, ok := r.defaultTimeout(cfg)
	if !ok {
		return
	}
	want := time.Duration(float64(r.gap) * cfg.Margin)
	if want > def {
		r.idle = roundUp(want)
	}
}

// defaultTimeout is the timeout the rule's flows get without idle_timeout,
// and whether idle_timeout applies to them at all.
func (r *draftRule) defaultTimeout(cfg *DraftConfig) (time.Duration, bool) {
	switch r.proto {
	case packet.ProtoTCP:
		return cfg.Timeouts.TCPEstablished, true
	case packet.ProtoUDP:
		return cfg.Timeouts.UDP, true
	case packet.ProtoICMP, packet.ProtoICMPv6:
		return cfg.Timeouts.ICMP, false
	}
	return cfg.Timeouts.Other, true
}

func timeoutKey(proto uint8) string {
	switch proto {
	case packet.ProtoTCP:
		return "tcp_established"
	case packet.ProtoUDP:
		return "udp"
	case packet.ProtoICMP, packet.ProtoICMPv6:
		return "icmp"
	}
	return "other"
}

// roundUp rounds a timeout up to a whole second, minute or hour.
func roundUp(d time.Duration) time.Duration {
	unit := time.Second
	switch {
	case d >= 10*time.Hour:
		unit = time.Hour
	case d >= time.Minute:
		unit = time.Minute
	}
	return (d + unit - 1) / unit * unit
}

// --- writing ---------------------------------------------------------------

func writeHeader(b *bytes.Buffer, m *Matrix, zs *Zones, cfg *DraftConfig, rs []draftRule) {
	var flows uint64
	var reversed uint64
	other := 0
	for _, s := range m.services {
		flows += s.Flows
		reversed += s.ReversedStarts
	}
	for _, r := range rs {
		if r.proto == 0 {
			other++
		}
	}
	fmt.Fprintf(b, "# Draft policy learned by `conduit learn` from %s:\n", plural(len(m.Sources), "source"))
	for _, s := range m.Sources {
		fmt.Fprintf(b, "#   %s\n", s)
	}
	if m.First != 0 {
		fmt.Fprintf(b, "# %s to %s (%s): %d packets, %d flows, %s, %s.\n",
			stampNS(m.First), stampNS(m.Last), shortDur(time.Duration(m.Last-m.First)),
			m.Packets, flows, plural(len(m.services), "service"), plural(len(rs), "rule"))
	}
	if m.Malformed > 0 {
		fmt.Fprintf(b, "# %d packets were malformed or later fragments: no rule covers them (enforce drops them).\n", m.Malformed)
	}
	if m.Spoofed > 0 {
		fmt.Fprintf(b, "# %d verdict lines were spoofed-source (a zone's address from a port or MAC its binding does not name): not learned.\n", m.Spoofed)
	}
	b.WriteString(`#
# It allows exactly the services seen, from the side that opened them.
# Review it before use:
#   - zones marked inferred are the /24 (IPv6: /64) subnets of the addresses
#     seen; the capture cannot tell their Purdue level, so it says ` + InferredLevel + `: set it.
`)
	b.WriteString("#   - no host is granted a service, a request or a peer it was not seen using:\n")
	b.WriteString("#     clients that asked the same servers for the same requests share a rule.\n")
	fmt.Fprintf(b, "#     A side names its zone where it has more than %d hosts and they are every\n", cfg.HostsPerSide)
	b.WriteString("#     host seen in the zone (the rule's comment says so); it lists hosts elsewhere.\n")
	fmt.Fprintf(b, "#   - idle_timeout is the largest gap seen times %g where that exceeds the\n", cfg.Margin)
	b.WriteString("#     protocol default (conntrack.timeouts); elsewhere the default stands.\n")
	if cfg.NoConditions {
		b.WriteString("#   - the protocol conditions that would allow exactly the requests seen are\n")
		b.WriteString("#     comments (--no-conditions): the rules allow by port only.\n")
	} else {
		b.WriteString("#   - " + proto.Names() + " rules carry a protocol condition\n")
		b.WriteString("#     allowing the requests seen (a Modbus client that only read gets\n")
		b.WriteString("#     preset read_only); enforce drops any other request.\n")
	}
	b.WriteString("#   - the cleanup rules (last: one per conduit the rules serve, then the global\n")
	b.WriteString("#     one) deny and log what the rules do not cover.\n")
	if reversed > 0 {
		fmt.Fprintf(b, "#   - %d UDP flows were first seen from their server (the capture began\n", reversed)
		b.WriteString("#     mid-exchange): enforce would drop such a first packet; see the rules.\n")
	}
	if other > 0 {
		b.WriteString("#   - IP protocols other than TCP, UDP and ICMP cannot be named in a rule: their\n")
		b.WriteString("#     rules (last) allow any protocol between the hosts; narrow or remove them.\n")
	}
	b.WriteString("\n")
}

func writeZone(b *bytes.Buffer, z *Zone, in *zoneIngress) {
	fmt.Fprintf(b, "  %s:\n", z.Name)
	if z.Inferred {
		fmt.Fprintf(b, "    level: %s  # inferred zone: set its Purdue level\n", z.Level)
	} else {
		fmt.Fprintf(b, "    level: %s\n", yamlScalar(z.Level))
	}
	cidrs := make([]string, len(z.CIDRs))
	for i, c := range z.CIDRs {
		cidrs[i] = c.String()
		if c.Addr().Is6() {
			cidrs[i] = `"` + cidrs[i] + `"`
		}
	}
	fmt.Fprintf(b, "    cidrs: [%s]\n", strings.Join(cidrs, ", "))
	writePorts(b, z, in)
	desc := z.Description
	if z.Inferred {
		desc = fmt.Sprintf("inferred from traffic: %s seen", plural(z.Hosts, "host"))
	}
	if desc != "" {
		fmt.Fprintf(b, "    description: %s\n", quote(desc))
	}
}

func writeRule(b *bytes.Buffer, r *draftRule, zs *Zones, cfg *DraftConfig) {
	var flows, packets, bytes_, reversed uint64
	var first, last int64
	funcs := map[string]uint64{}
	for _, s := range r.services {
		flows += s.Flows
		packets += s.Packets
		bytes_ += s.Bytes
		reversed += s.ReversedStarts
		if first == 0 || s.First < first {
			first = s.First
		}
		last = max(last, s.Last)
		for f, n := range s.Functions {
			funcs[f] += n
		}
	}
	what := ""
	switch r.proto {
	case packet.ProtoTCP, packet.ProtoUDP:
		what = fmt.Sprintf("%s/%s", packet.ProtoName(r.proto), joinPorts(r.ports))
	case packet.ProtoICMP, packet.ProtoICMPv6:
		what = fmt.Sprintf("%s types %s", packet.ProtoName(r.proto), joinPorts(r.ports))
		if slices.Contains(r.ports, ICMPTypeUnknown) {
			what = packet.ProtoName(r.proto) + " (types not in the log: all allowed)"
		}
	default:
		var ps []string
		for _, s := range r.services {
			ps = append(ps, fmt.Sprint(s.Proto))
		}
		slices.Sort(ps)
		what = "IP protocol " + strings.Join(slices.Compact(ps), ", ")
	}
	volume := fmt.Sprintf("%s, %s packets, %s", plural(int(flows), "flow"), commas(packets), byteSize(bytes_))
	if packets == 0 { // drafted from coverage (review), which counts flows and requests
		volume = plural(int(flows), "flow")
	}
	fmt.Fprintf(b, "  # evidence: %s, %s from %s to %s (%s): %s,\n",
		r.serviceLabel(), what, plural(len(hostSetRule(r, true)), "client"), plural(len(hostSetRule(r, false)), "server"),
		zonePair(r, zs), volume)
	fmt.Fprintf(b, "  #   seen %s to %s", stampNS(first), stampNS(last))
	if r.gapSvc != nil {
		s := r.gapSvc
		fmt.Fprintf(b, "; largest gap %s (%s)", shortDur(time.Duration(r.gap)), flowText(s))
	}
	b.WriteString("\n")
	if def, ok := r.defaultTimeout(cfg); ok && r.gap > 0 {
		want := time.Duration(float64(r.gap) * cfg.Margin)
		if r.idle > 0 {
			fmt.Fprintf(b, "  #   idle_timeout: %g x the gap, above %s %s\n", cfg.Margin, timeoutKey(r.proto), rules.FormatDuration(def))
		} else {
			fmt.Fprintf(b, "  #   %g x the gap is %s, within %s %s: no idle_timeout\n", cfg.Margin, shortDur(want), timeoutKey(r.proto), rules.FormatDuration(def))
		}
	}
	pairs := pairList(r)
	const show = 6
	if len(pairs) > 1 || r.from.zone != nil || r.to.zone != nil {
		shown := pairs[:min(show, len(pairs))]
		more := ""
		if len(pairs) > show {
			more = fmt.Sprintf(" and %d more", len(pairs)-show)
		}
		fmt.Fprintf(b, "  #   pairs: %s%s\n", strings.Join(shown, ", "), more)
	}
	if r.fromAll > 0 {
		fmt.Fprintf(b, "  #   from the zone: all %d hosts seen in %s are clients that asked exactly this of %s\n",
			r.fromAll, r.from.zone.Name, r.to.yaml())
	}
	if r.toAll > 0 {
		fmt.Fprintf(b, "  #   to the zone: all %d hosts seen in %s are servers of exactly this for these clients\n",
			r.toAll, r.to.zone.Name)
	}
	if reversed > 0 {
		fmt.Fprintf(b, "  #   %d flows began with the server's datagram (capture started mid-exchange):\n", reversed)
		b.WriteString("  #   enforce drops such a first datagram until the client sends.\n")
	}
	writeFunctions(b, funcs)
	conds := conditions(r.condServices())
	if len(r.silent) > 0 && len(r.donors) > 0 {
		var hs []string
		for _, s := range r.silent {
			hs = append(hs, fmt.Sprintf("%s -> %s", s.Client.Unmap(), s.Server.Unmap()))
		}
		slices.Sort(hs)
		fmt.Fprintf(b, "  #   only connected, no request seen: %s; the condition is the one of %s\n",
			strings.Join(slices.Compact(hs), ", "), plural(len(hostSet(r.donors, true)), "client"))
		b.WriteString("  #   of the same server(s), the narrowest the capture shows (a condition cannot allow nothing)\n")
	}
	var keys []string
	unparsed := false
	for _, c := range conds {
		for _, n := range c.notes {
			fmt.Fprintf(b, "  #   %s\n", n)
		}
		if cfg.NoConditions {
			if len(c.keys) > 0 {
				s := strings.Join(c.keys, " ")
				if len(c.unparsed) > 0 {
					s += " with on_unparsed: allow"
				}
				fmt.Fprintf(b, "  #   condition allowing only these: %s\n", s)
			}
			continue
		}
		keys = append(keys, c.keys...)
		unparsed = unparsed || len(c.keys) > 0 && len(c.unparsed) > 0
	}
	if r.proto == 0 {
		b.WriteString("  #   the policy cannot name this IP protocol: this allows any protocol between the hosts.\n")
	}

	fmt.Fprintf(b, "  - name: %s\n", r.name)
	desc := fmt.Sprintf("learned: %s, %s packets, %s to %s", plural(int(flows), "flow"), commas(packets), stampNS(first), stampNS(last))
	if packets == 0 {
		desc = fmt.Sprintf("carried: %s, %s to %s", plural(int(flows), "flow"), stampNS(first), stampNS(last))
	}
	fmt.Fprintf(b, "    description: %s\n", quote(desc))
	fmt.Fprintf(b, "    from: %s\n", r.from.yaml())
	fmt.Fprintf(b, "    to: %s\n", r.to.yaml())
	switch r.proto {
	case packet.ProtoTCP, packet.ProtoUDP:
		fmt.Fprintf(b, "    proto: %s\n", packet.ProtoName(r.proto))
		fmt.Fprintf(b, "    dport: %s\n", yamlList(r.ports))
	case packet.ProtoICMP, packet.ProtoICMPv6:
		fmt.Fprintf(b, "    proto: %s\n", packet.ProtoName(r.proto))
		if !slices.Contains(r.ports, ICMPTypeUnknown) {
			fmt.Fprintf(b, "    icmp_types: [%s]\n", joinPorts(r.ports))
		}
	}
	for _, k := range keys {
		fmt.Fprintf(b, "    %s\n", k)
	}
	if unparsed {
		b.WriteString("    on_unparsed: allow\n")
	}
	if r.idle > 0 {
		fmt.Fprintf(b, "    idle_timeout: %s\n", rules.FormatDuration(r.idle))
	}
	b.WriteString("\n")
}

// writeFunctions lists the industrial requests seen, the evidence of the
// rule's protocol condition.
func writeFunctions(b *bytes.Buffer, funcs map[string]uint64) {
	if len(funcs) == 0 {
		return
	}
	byProto := map[string][]string{}
	for f := range funcs {
		proto, name, _ := strings.Cut(f, " ")
		byProto[proto] = append(byProto[proto], name)
	}
	for _, k := range kindOrder() {
		id, proto := k.id, k.name
		names := byProto[proto]
		if len(names) == 0 {
			continue
		}
		sort.Slice(names, func(i, j int) bool {
			a, c := funcs[proto+" "+names[i]], funcs[proto+" "+names[j]]
			return a > c || a == c && names[i] < names[j]
		})
		parts := make([]string, len(names))
		for i, n := range names {
			parts[i] = fmt.Sprintf("%s %s", n, commas(funcs[proto+" "+n]))
		}
		note := ""
		if p := protoOf(id); p != nil {
			note = p.Annotate(proto, names)
		}
		fmt.Fprintf(b, "  #   %s requests%s: %s\n", strings.Replace(proto, "-", " ", 1), note, strings.Join(parts, ", "))
	}
}

func hostSetRule(r *draftRule, clients bool) []netip.Addr { return hostSet(r.services, clients) }

func zonePair(r *draftRule, zs *Zones) string {
	cz, sz := map[string]bool{}, map[string]bool{}
	for _, s := range r.services {
		cz[zs.ZoneName(s.Client)] = true
		sz[zs.ZoneName(s.Server)] = true
	}
	return strings.Join(slices.Sorted(maps.Keys(cz)), "+") + " -> " + strings.Join(slices.Sorted(maps.Keys(sz)), "+")
}

func pairList(r *draftRule) []string {
	var out []string
	for _, s := range r.services {
		out = append(out, fmt.Sprintf("%s -> %s", s.Client.Unmap(), s.Server.Unmap()))
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func flowText(s *Service) string {
	switch s.Proto {
	case packet.ProtoTCP, packet.ProtoUDP:
		return fmt.Sprintf("%s:%d -> %s:%d", s.Client.Unmap(), s.MaxGapClientPort, s.Server.Unmap(), s.Port)
	}
	return fmt.Sprintf("%s -> %s", s.Client.Unmap(), s.Server.Unmap())
}

func joinPorts(ps []uint16) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprint(p)
	}
	return strings.Join(s, ", ")
}

func yamlList(ps []uint16) string {
	if len(ps) == 1 {
		return fmt.Sprint(ps[0])
	}
	return "[" + joinPorts(ps) + "]"
}

// quote renders s as a YAML double-quoted scalar (JSON strings are).
func quote(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// yamlScalar quotes s unless it is a plain word or number.
func yamlScalar(s string) string {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return quote(s)
		}
	}
	return s
}

func stampNS(ns int64) string { return time.Unix(0, ns).UTC().Format(time.RFC3339) }

// shortDur prints a duration to the second (to the millisecond below
// 10s), in days and hours beyond two days.
func shortDur(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return d.Round(time.Millisecond).String()
	case d >= 48*time.Hour:
		days := d / (24 * time.Hour)
		rest := (d - days*24*time.Hour).Round(time.Hour)
		if rest == 0 {
			return fmt.Sprintf("%dd", days)
		}
		return fmt.Sprintf("%dd%dh", days, rest/time.Hour)
	}
	return rules.FormatDuration(d.Round(time.Second))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%s %ss", commas(uint64(n)), word)
}

// commas groups digits in thousands: 1,234,567.
func commas(n uint64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func byteSize(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
