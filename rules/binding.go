package rules

import (
	"fmt"
	"net"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Zone bindings: where a zone's addresses may come from. A zone that names
// bridge ports (ports:) or source MAC addresses (macs:) is bound, and a
// packet whose source address is in that zone but which entered on another
// port, or from another MAC, carries a forged source address.

// MAC is an EUI-48 hardware address.
type MAC [6]byte

// String returns the address as 00:11:22:33:44:55.
func (m MAC) String() string { return net.HardwareAddr(m[:]).String() }

// maxBindings bounds the ports and MACs of one zone: a binding is checked
// by a linear scan on the packet path.
const maxBindings = 64

// Bound reports whether the zone names ports or MACs.
func (z *Zone) Bound() bool { return len(z.Ports) > 0 || len(z.MACs) > 0 }

// Binds reports whether any zone of the policy is bound.
func (p *Policy) Binds() bool { return p.binds }

// BindsPorts reports whether any zone of the policy names bridge ports.
func (p *Policy) BindsPorts() bool {
	for i := range p.Zones {
		if len(p.Zones[i].Ports) > 0 {
			return true
		}
	}
	return false
}

// Binding returns the zone z's binding, nil when z is unbound (or unknown).
func (p *Policy) Binding(z ZoneID) *Zone {
	if z == ZoneUnknown || int(z) > len(p.Zones) || !p.Zones[z-1].Bound() {
		return nil
	}
	return &p.Zones[z-1]
}

// Admits reports whether a packet of the zone's addresses may have come
// in on port (an interface name, "" when unknown) from the source MAC mac
// (hasMAC false when the kernel gave none). An unbound side admits
// anything; a bound side admits only what it names, so a packet whose
// port or MAC is not known does not pass a binding that asks for it. It
// does not allocate.
func (z *Zone) Admits(port string, mac MAC, hasMAC bool) bool {
	if len(z.Ports) > 0 && !z.HasPort(port) {
		return false
	}
	if len(z.MACs) > 0 {
		if !hasMAC {
			return false
		}
		for _, m := range z.MACs {
			if m == mac {
				return true
			}
		}
		return false
	}
	return true
}

// HasPort reports whether the zone names port.
func (z *Zone) HasPort(port string) bool { return slices.Contains(z.Ports, port) }

// zonePorts decodes a zone's ports: Linux interface names.
func (d *decoder) zonePorts(n *yaml.Node, ctx string) []string {
	return bindings(d, n, ctx, "ports", "ports", func(it *yaml.Node, s string) (string, string, bool) {
		if msg := badIfName(s); msg != "" {
			d.errf(it, "%sport %q is not an interface name: %s", ctx, s, msg)
			return "", "", false
		}
		return s, "port " + s, true
	})
}

// bindings decodes one of a zone's binding lists (key "ports" or "macs"):
// at most maxBindings entries, each checked by parse and listed once.
// parse reports its own errors and returns the entry and how the
// "listed twice" message names it.
func bindings[T comparable](d *decoder, n *yaml.Node, ctx, key, noun string, parse func(it *yaml.Node, s string) (T, string, bool)) []T {
	items, ok := d.items(n, ctx, key)
	if !ok {
		return nil
	}
	if len(items) > maxBindings {
		d.errf(n, "%s%s lists %d %s; at most %d are supported", ctx, key, len(items), noun, maxBindings)
		return nil
	}
	var out []T
	seen := map[T]bool{}
	for _, it := range items {
		s, ok := d.scalar(it, ctx, key)
		if !ok {
			continue
		}
		v, name, ok := parse(it, s)
		if !ok {
			continue
		}
		if seen[v] {
			d.errf(it, "%s%s is listed twice", ctx, name)
			continue
		}
		seen[v] = true
		out = append(out, v)
	}
	return out
}

// badIfName says why s cannot be a Linux interface name (dev_valid_name),
// or "" when it can be.
func badIfName(s string) string {
	switch {
	case len(s) > 15:
		return "at most 15 characters"
	case s == "." || s == "..":
		return "reserved"
	case strings.ContainsAny(s, "/: \t"):
		return "no '/', ':' or blanks"
	}
	return ""
}

// zoneMACs decodes a zone's macs: unicast EUI-48 addresses.
func (d *decoder) zoneMACs(n *yaml.Node, ctx string) []MAC {
	return bindings(d, n, ctx, "macs", "addresses", func(it *yaml.Node, s string) (MAC, string, bool) {
		hw, err := net.ParseMAC(s)
		if err != nil || len(hw) != 6 {
			d.errf(it, "%s%q is not a MAC address (six bytes, e.g. 00:1d:9c:c7:b0:10)", ctx, s)
			return MAC{}, "", false
		}
		m := MAC(hw)
		switch {
		case m == MAC{}:
			d.errf(it, "%s%s is the zero address; no host sends from it", ctx, s)
			return MAC{}, "", false
		case m[0]&1 != 0:
			d.errf(it, "%s%s is a multicast address; a source MAC never is", ctx, s)
			return MAC{}, "", false
		}
		return m, m.String(), true
	})
}

// Advice returns the hints `conduit check` gives beyond the warnings: on
// a bridge box, a policy whose zones name no bridge ports lets any port
// send with any zone's addresses.
func (p *Policy) Advice(file string) []Diagnostic {
	if p.BindsPorts() {
		return nil
	}
	line := max(p.zonesLine, 1)
	return []Diagnostic{{File: file, Line: line, Col: 1, Warning: true, Msg: fmt.Sprintf(
		"no zone names its bridge ports (ports: [eth1]), so a host on any port may send with any zone's addresses; " +
			"advice for a bridge box: bind each zone to the ports its hosts are on and forged source addresses are dropped")}}
}
