package rules

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// The layer2 section: which non-IP EtherTypes may cross the bridge. IPv4
// and IPv6 are never judged here (the rules judge them); everything else
// a bridge forwards (ARP, LLDP, PROFINET DCP and RT, GOOSE, SV, PTP, MRP,
// …) is allowed only by an entry, and refused under the section's mode
// otherwise. A frame tagged 802.1Q is judged by the EtherType it carries,
// so a priority-tagged PROFINET frame is profinet; the entry vlan allows
// every tagged frame whatever it carries.

// EtherType numbers with a meaning here.
const (
	EtherTypeIPv4 uint16 = 0x0800
	EtherTypeIPv6 uint16 = 0x86dd
	EtherTypeARP  uint16 = 0x0806
	EtherTypeVLAN uint16 = 0x8100
	// EtherTypeLLC stands for every 802.3 frame (a length field, below
	// 0x0600): the name llc.
	EtherTypeLLC uint16 = 0
)

// JudgedEtherType maps an Ethernet type/length field to what the layer2
// section judges: an 802.3 length is llc.
func JudgedEtherType(t uint16) uint16 {
	if t < 0x0600 {
		return EtherTypeLLC
	}
	return t
}

// EtherTypeInfo is one EtherType of the vocabulary.
type EtherTypeInfo struct {
	Name   string
	Number uint16
	What   string
}

// EtherTypes is the vocabulary of layer2 entries: the industrial and
// infrastructure protocols a plant's bridge carries. Each has its own
// counters in the kernel; any other EtherType is counted as "other".
var EtherTypes = []EtherTypeInfo{
	{"arp", 0x0806, "ARP"},
	// 802.3 frames carry a length, not an EtherType, where EtherTypes
	// begin (0x0600): they are LLC, such as the spanning-tree BPDUs a
	// bridge that runs no STP itself forwards to keep loops detectable.
	{"llc", EtherTypeLLC, "IEEE 802.3 frames with an LLC header (STP BPDUs, …): a length below 0x0600 instead of an EtherType"},
	{"rarp", 0x8035, "reverse ARP"},
	{"vlan", 0x8100, "IEEE 802.1Q tagged frames, whatever they carry"},
	{"qinq", 0x88a8, "IEEE 802.1ad (Q-in-Q) service tag"},
	{"lldp", 0x88cc, "LLDP"},
	{"profinet", 0x8892, "PROFINET (DCP, RT, alarms)"},
	{"ethercat", 0x88a4, "EtherCAT"},
	{"powerlink", 0x88ab, "Ethernet POWERLINK"},
	{"goose", 0x88b8, "IEC 61850 GOOSE"},
	{"gse", 0x88b9, "IEC 61850 GSE management"},
	{"sv", 0x88ba, "IEC 61850 sampled values"},
	{"sercos", 0x88cd, "SERCOS III"},
	{"mrp", 0x88e3, "IEC 62439-2 media redundancy protocol"},
	{"ptp", 0x88f7, "IEEE 1588 precision time protocol"},
	{"prp", 0x88fb, "IEC 62439-3 PRP supervision"},
	{"hsr", 0x892f, "IEC 62439-3 HSR"},
	{"eapol", 0x888e, "IEEE 802.1X"},
	{"macsec", 0x88e5, "IEEE 802.1AE MACsec"},
	{"cfm", 0x8902, "IEEE 802.1ag connectivity fault management"},
}

// EtherTypeByName returns the number of a vocabulary name.
func EtherTypeByName(name string) (uint16, bool) {
	for _, e := range EtherTypes {
		if e.Name == name {
			return e.Number, true
		}
	}
	return 0, false
}

// EtherTypeName returns the vocabulary name of t, or "0x%04x".
func EtherTypeName(t uint16) string {
	switch t {
	case EtherTypeIPv4:
		return "ipv4"
	case EtherTypeIPv6:
		return "ipv6"
	}
	t = JudgedEtherType(t)
	for _, e := range EtherTypes {
		if e.Number == t {
			return e.Name
		}
	}
	return EtherTypeNumber(t)
}

// EtherTypeNumber returns t as written in a policy: 0x88b8 (802.3 for llc).
func EtherTypeNumber(t uint16) string {
	if t < 0x0600 {
		return "802.3"
	}
	return fmt.Sprintf("0x%04x", t)
}

// KnownEtherType reports whether t has a name in the vocabulary.
func KnownEtherType(t uint16) bool {
	t = JudgedEtherType(t)
	for _, e := range EtherTypes {
		if e.Number == t {
			return true
		}
	}
	return false
}

// Layer2 is the policy's layer2 section, or its defaults.
type Layer2 struct {
	// Mode applies to refused frames: the section's mode key, else the
	// policy's global mode (conduit overrides do not apply: a frame has
	// no addresses to put it in a zone pair).
	Mode    Mode
	ModeSet bool // the section says mode:
	// Allow lists the entries, in file order; a frame one of them
	// matches crosses the bridge.
	Allow []L2Entry
	// Written is whether the policy has the section (false: defaults).
	Written   bool
	Line, Col int
}

// L2Entry allows one EtherType, optionally only between bridge ports of
// zones.
type L2Entry struct {
	EtherType uint16
	// Name is the entry's name: its name key, else the EtherType's name.
	Name string
	// From and To are the zones whose ports the frame may come in on and
	// leave by; empty is any port. FromPorts and ToPorts are those ports.
	From, To           []string
	FromPorts, ToPorts []string
	Description        string
	Line, Col          int
}

// DefaultLayer2Allow is what a policy without a layer2 section allows:
// ARP (tagged or not). IP in 802.1Q tags is judged by the rules like any IP.
var DefaultLayer2Allow = []string{"arp"}

var (
	layer2Keys  = []string{"mode", "allow", "description"}
	l2EntryKeys = []string{"ethertype", "name", "from", "to", "description"}
)

// defaultLayer2 returns the section a policy gets when it has none.
func defaultLayer2(mode Mode) Layer2 {
	l := Layer2{Mode: mode}
	for _, n := range DefaultLayer2Allow {
		t, _ := EtherTypeByName(n)
		l.Allow = append(l.Allow, L2Entry{EtherType: t, Name: n})
	}
	return l
}

// Matches reports whether the entry allows a frame of EtherType t that
// came in on port in and leaves by port out. An empty port name is
// unknown (replay, learn) and satisfies a scope: only what is known can
// refuse.
func (e *L2Entry) Matches(t uint16, in, out string) bool {
	if e.EtherType != t && e.EtherType != EtherTypeVLAN {
		return false
	}
	return portIn(e.FromPorts, in) && portIn(e.ToPorts, out)
}

func portIn(ports []string, p string) bool {
	if len(ports) == 0 || p == "" {
		return true
	}
	for _, q := range ports {
		if q == p {
			return true
		}
	}
	return false
}

// Judge returns the index of the first entry that allows a frame whose
// judged EtherType is t (the inner one of an 802.1Q-tagged frame; tagged
// says it was tagged), -1 when none does. IP is not judged here: it
// returns -2 for IPv4 and IPv6.
func (l *Layer2) Judge(t uint16, tagged bool, in, out string) int {
	if t == EtherTypeIPv4 || t == EtherTypeIPv6 {
		return -2
	}
	t = JudgedEtherType(t)
	for i := range l.Allow {
		e := &l.Allow[i]
		if e.EtherType == EtherTypeVLAN && !tagged {
			continue
		}
		if e.Matches(t, in, out) {
			return i
		}
	}
	return -1
}

// layer2 decodes the layer2 section. Zones are decoded already.
func (d *decoder) layer2(key, n *yaml.Node, p *Policy) Layer2 {
	const ctx = "layer2: "
	l := defaultLayer2(p.Mode)
	l.Written, l.Line, l.Col = true, key.Line, key.Column
	f := d.fields(n, ctx, "layer2", layer2Keys)
	if f == nil {
		return l
	}
	if v, ok := f["mode"]; ok {
		if s, ok := d.word(v.val, ctx, "mode", modeWords); ok {
			l.Mode, _ = ParseMode(s)
			l.ModeSet = true
		}
	}
	if v, ok := f["description"]; ok {
		_, _ = d.str(v.val, ctx, "description")
	}
	v, ok := f["allow"]
	if !ok {
		return l
	}
	l.Allow = nil
	switch {
	case v.val.Kind == yaml.SequenceNode:
	case v.val.Kind == yaml.ScalarNode && v.val.Tag == "!!null":
		return l // allow: (nothing): every non-IP frame is refused
	default:
		d.errf(v.val, "%sallow must be a list of EtherTypes (arp, profinet, 0x88b8, or {ethertype, from, to, name}), not %s", ctx, describe(v.val))
		return l
	}
	seen := map[string]int{}
	for i, it := range v.val.Content {
		e, ok := d.l2Entry(it, fmt.Sprintf("%sallow #%d: ", ctx, i+1), p)
		if !ok {
			continue
		}
		if line, dup := seen[e.Name]; dup {
			d.errf(it, "%sallow #%d: entry %s is already defined at line %d (give it another name:)", ctx, i+1, e.Name, line)
			continue
		}
		seen[e.Name] = it.Line
		l.Allow = append(l.Allow, e)
	}
	return l
}

// l2Entry decodes one allow entry: an EtherType (a name or a number), or
// a mapping with ethertype and optional name, from, to, description.
func (d *decoder) l2Entry(n *yaml.Node, ctx string, p *Policy) (L2Entry, bool) {
	e := L2Entry{Line: n.Line, Col: n.Column}
	if n.Kind == yaml.ScalarNode {
		t, ok := d.etherType(n, ctx)
		if !ok {
			return e, false
		}
		e.EtherType, e.Name = t, EtherTypeName(t)
		return e, true
	}
	f := d.fields(n, ctx, "a layer2 entry", l2EntryKeys)
	if f == nil {
		return e, false
	}
	v, ok := f["ethertype"]
	if !ok {
		d.errf(n, "%sno ethertype (a name such as profinet, or a number 0x0600-0xffff)", ctx)
		return e, false
	}
	t, good := d.etherType(v.val, ctx)
	e.EtherType, e.Name = t, EtherTypeName(t)
	if x, has := f["name"]; has {
		if s, ok := d.scalar(x.val, ctx, "name"); ok {
			if !ruleNameRE.MatchString(s) {
				d.errf(x.val, "%sname %q must start with a letter or digit and use only letters, digits, '_', '.', ':' and '-'", ctx, s)
				good = false
			}
			e.Name = s
		}
	}
	for _, side := range []string{"from", "to"} {
		x, has := f[side]
		if !has {
			continue
		}
		zones, ports, ok := d.l2Scope(x.val, ctx, side, p)
		good = good && ok
		if side == "from" {
			e.From, e.FromPorts = zones, ports
		} else {
			e.To, e.ToPorts = zones, ports
		}
	}
	if x, has := f["description"]; has {
		e.Description, _ = d.str(x.val, ctx, "description")
	}
	return e, good
}

// etherType decodes a name of the vocabulary or a number 0x0600-0xffff;
// IP is refused, since the rules judge it.
func (d *decoder) etherType(n *yaml.Node, ctx string) (uint16, bool) {
	s, ok := d.scalar(n, ctx, "ethertype")
	if !ok {
		return 0, false
	}
	if t, ok := EtherTypeByName(strings.ToLower(s)); ok {
		return t, true
	}
	switch strings.ToLower(s) {
	case "ip", "ipv4", "ip6", "ipv6":
		d.errf(n, "%s%s is IP: the rules judge IP traffic, layer2 judges only what is not IP", ctx, s)
		return 0, false
	}
	v, isNum := parseInt(s)
	if !isNum {
		names := make([]string, len(EtherTypes))
		for i, e := range EtherTypes {
			names[i] = e.Name
		}
		msg := suggest(s, names)
		if msg == "" {
			sorted := append([]string(nil), names...)
			sort.Strings(sorted)
			msg = " (expected a number 0x0600-0xffff or one of: " + strings.Join(sorted, ", ") + ")"
		}
		d.errf(n, "%sunknown EtherType %q%s", ctx, s, msg)
		return 0, false
	}
	if v < 0x0600 || v > 0xffff {
		d.errf(n, "%sEtherType %s is out of range: EtherTypes are 0x0600-0xffff (smaller values are 802.3 lengths: write llc)", ctx, s)
		return 0, false
	}
	if t := uint16(v); t == EtherTypeIPv4 || t == EtherTypeIPv6 {
		d.errf(n, "%sEtherType %s is IP (%s): the rules judge IP traffic, layer2 judges only what is not IP", ctx, s, EtherTypeName(t))
		return 0, false
	}
	return uint16(v), true
}

// l2Scope decodes a from or to scope: a zone or a list of zones, each
// naming ports (a frame has no addresses: only its ports place it).
func (d *decoder) l2Scope(n *yaml.Node, ctx, side string, p *Policy) (zones, ports []string, ok bool) {
	items, good := d.items(n, ctx, side)
	if !good {
		return nil, nil, false
	}
	ok = true
	for _, it := range items {
		s, good := d.scalar(it, ctx, side)
		if !good {
			ok = false
			continue
		}
		id, found := p.ZoneByName(s)
		if !found || id == ZoneUnknown {
			d.errf(it, "%sunknown zone %q%s", ctx, s, suggest(s, zoneNames(p)[:len(p.Zones)]))
			ok = false
			continue
		}
		z := &p.Zones[id-1]
		if len(z.Ports) == 0 {
			d.errf(it, "%s%s zone %s names no ports: a frame is placed in a zone only by the bridge port it uses (give the zone ports: [...])", ctx, side, s)
			ok = false
			continue
		}
		zones = append(zones, s)
		for _, port := range z.Ports {
			if !slices.Contains(ports, port) {
				ports = append(ports, port)
			}
		}
	}
	return zones, ports, ok
}

// Verdict is the layer2 verdict word of a frame that entry allows (-1:
// none does): accept, or for a refused frame drop in enforce, would_drop
// in monitor and accept in passthrough, as the bridge table counts it.
func (l *Layer2) Verdict(entry int) string {
	switch {
	case entry >= 0 || l.Mode == ModePassthrough:
		return "accept"
	case l.Mode == ModeEnforce:
		return "drop"
	}
	return "would_drop"
}

// CounterName is the EtherType name a frame is counted under: the
// allowing entry's EtherType (vlan for the vlan entry), else the frame's
// own name; a tagged frame carrying an EtherType outside the vocabulary
// counts as vlan, an untagged one as other (the bridge table has a
// counter per name of the vocabulary only).
func (l *Layer2) CounterName(t uint16, tagged bool, entry int) string {
	if entry >= 0 && l.Mode != ModePassthrough {
		return EtherTypeName(l.Allow[entry].EtherType)
	}
	t = JudgedEtherType(t)
	switch {
	case KnownEtherType(t) && t != EtherTypeVLAN:
		return EtherTypeName(t)
	case tagged || t == EtherTypeVLAN:
		return "vlan"
	}
	return "other"
}
