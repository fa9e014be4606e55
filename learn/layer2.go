package learn

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/rules"
)

// The frames without IP a capture holds, by EtherType (the one inside an
// 802.1Q tag), and the ports they came in on: learn drafts the layer2
// section from them, each EtherType seen allowed, scoped to the zones
// whose ports all its frames came in on where those are known.

// L2Seen is what was seen of one EtherType.
type L2Seen struct {
	EtherType uint16
	Frames    uint64
	Bytes     uint64
	// Ports counts the frames by the port (capture interface) they came
	// in on; Unknown those whose port the capture does not say.
	Ports   map[string]uint64
	Unknown uint64
}

// layer2 counts frames by EtherType; 0 is 802.3 (llc).
type layer2 map[uint16]*L2Seen

// nonIP is the capture reader's OnNonIP: a frame leaving by a port is the
// copy of one counted where it came in.
func (l *Learner) nonIP(f capture.NonIP) {
	if f.Direction == capture.DirOutbound {
		return
	}
	if l.m.l2 == nil {
		l.m.l2 = layer2{}
	}
	s := l.m.l2[f.EtherType]
	if s == nil {
		s = &L2Seen{EtherType: f.EtherType, Ports: map[string]uint64{}}
		l.m.l2[f.EtherType] = s
	}
	s.Frames++
	s.Bytes += uint64(f.Len)
	if f.Interface == "" {
		s.Unknown++
	} else {
		s.Ports[f.Interface]++
	}
	l.m.seen(f.Time)
}

// Layer2 returns what was seen of each EtherType, by number.
func (m *Matrix) Layer2() []*L2Seen {
	out := make([]*L2Seen, 0, len(m.l2))
	for _, s := range m.l2 {
		out = append(out, s)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].EtherType < out[b].EtherType })
	return out
}

// writeLayer2 writes the draft's layer2 section: ARP always (IPv4 needs
// it), then every other EtherType seen, scoped `from` the zones whose
// written ports hold every port its frames came in on. ports are the
// ports each zone of the draft is written with.
func writeLayer2(b *bytes.Buffer, m *Matrix, zs *Zones, ports map[*Zone][]string) {
	b.WriteString("\n# Frames that are not IP cross the bridge only as allowed here (IP is the\n")
	b.WriteString("# rules' to judge): the EtherTypes seen, each from the zones whose ports its\n")
	b.WriteString("# frames came in on, where every one of them came with its port.\n")
	b.WriteString("layer2:\n  allow:\n")
	seen := m.Layer2()
	arp := false
	for _, s := range seen {
		arp = arp || s.EtherType == rules.EtherTypeARP
	}
	if !arp {
		b.WriteString("    - arp  # not seen; IPv4 needs it\n")
	}
	for _, s := range seen {
		if s.EtherType == rules.EtherTypeIPv4 || s.EtherType == rules.EtherTypeIPv6 {
			continue
		}
		name := rules.EtherTypeName(s.EtherType)
		evidence := plural(int(s.Frames), "frame")
		from := l2From(s, zs, ports)
		switch {
		case len(from) == 1:
			fmt.Fprintf(b, "    - {ethertype: %s, from: %s}  # %s, every one in on %s\n", name, from[0], evidence, orPorts(sortedPorts(s)))
		case len(from) > 1:
			fmt.Fprintf(b, "    - {ethertype: %s, from: [%s]}  # %s, every one in on %s\n", name, strings.Join(from, ", "), evidence, orPorts(sortedPorts(s)))
		case s.Unknown > 0:
			fmt.Fprintf(b, "    - %s  # %s; the port of %d is not known\n", name, evidence, s.Unknown)
		default:
			fmt.Fprintf(b, "    - %s  # %s, in on %s (not every one a zone's port)\n", name, evidence, orPorts(sortedPorts(s)))
		}
	}
}

func sortedPorts(s *L2Seen) []string { return slices.Sorted(maps.Keys(s.Ports)) }

// l2From returns the zones (by name) whose written ports cover every
// port s came in on, nil when a frame's port is unknown or a port is no
// zone's.
func l2From(s *L2Seen, zs *Zones, ports map[*Zone][]string) []string {
	if s.Unknown > 0 || len(s.Ports) == 0 {
		return nil
	}
	var names []string
	for _, p := range sortedPorts(s) {
		found := false
		for _, z := range zs.List {
			if slices.Contains(ports[z], p) {
				found = true
				if !slices.Contains(names, z.Name) {
					names = append(names, z.Name)
				}
			}
		}
		if !found {
			return nil
		}
	}
	return names
}

// writtenPorts are the ports writePorts gives z as its ports key (not as
// a comment).
func writtenPorts(z *Zone, in *zoneIngress) []string {
	if len(z.Ports) > 0 {
		return z.Ports
	}
	if in == nil {
		return nil
	}
	ps := in.portList()
	if len(ps) > 0 && in.unknown == 0 && len(ps) == len(in.ports) {
		return ps
	}
	return nil
}

// reasonLayer2Deny is the reason of the daemon's lines of refused frames
// (engine.ReasonLayer2Deny).
const reasonLayer2Deny = "layer2-deny"

// layer2Line learns a refused frame's verdict line: one frame of its
// EtherType, in on its in_port. The daemon writes one line per kind of
// frame per 10 s, so the counts are of lines, not frames.
func (l *Learner) layer2Line(ln *logLine, ts int64) bool {
	v, err := strconv.ParseUint(strings.TrimPrefix(ln.EtherType, "0x"), 16, 16)
	if err != nil {
		return false
	}
	port := ln.InPort
	if strings.HasPrefix(port, "ifindex ") {
		port = ""
	}
	l.nonIP(capture.NonIP{Time: ts, EtherType: uint16(v), Interface: port, Direction: capture.DirInbound})
	return true
}
