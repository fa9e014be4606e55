// Package plant builds a small OT plant out of network namespaces for
// end-to-end tests, demos and benchmarks: one firewall namespace holding a
// bridge, and one namespace per Purdue zone joined to that bridge by a veth
// pair. Traffic between zones crosses the bridge, so a firewall inline on
// the bridge (br_netfilter + nftables forward hook) sees all of it.
//
// It shells out to iproute2; every failure carries the command's stderr.
package plant

import (
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"sort"
)

// Zone keys of Plant.Hosts; each is also the namespace suffix.
const (
	Enterprise  = "ent" // level 4
	Operations  = "ops" // level 3
	Supervisory = "sup" // level 2, HMI
	Control     = "ctl" // level 1, PLC
)

// FWSuffix is the namespace suffix of the firewall namespace.
const FWSuffix = "fw"

// Bridge is the name of the bridge inside the firewall namespace.
const Bridge = "br0"

// EWS is the engineering workstation's address, a second address on the
// operations host so that policies can tell it from the ordinary ops host.
var EWS = netip.MustParseAddr("10.30.0.11")

// Host is one zone's end host.
type Host struct {
	Zone  string       // one of Enterprise, Operations, Supervisory, Control
	NS    string       // network namespace name
	IPv4  netip.Addr   // primary IPv4 address
	IPv6  netip.Addr   // IPv6 address
	Extra []netip.Addr // further addresses on the same interface
}

// Plant is a built topology. The zero value is not usable; see Up.
type Plant struct {
	Prefix string
	FW     string           // firewall namespace name
	Hosts  map[string]*Host // keyed by zone (Enterprise, ...)
}

// zoneSpec is the static description of a zone host.
type zoneSpec struct {
	zone  string
	ipv4  string
	ipv6  string
	extra []string
}

// zones is the plant layout. Every address gets a /8 (/16 for IPv6) so all
// hosts are on-link over the one bridged segment.
var zones = []zoneSpec{
	{Enterprise, "10.40.0.10", "fd00:40::10", nil},
	{Operations, "10.30.0.10", "fd00:30::10", []string{"10.30.0.11"}},
	{Supervisory, "10.20.0.10", "fd00:20::10", nil},
	{Control, "10.10.0.10", "fd00:10::10", nil},
}

// Zones returns the zone keys in a stable order (enterprise first).
func Zones() []string {
	out := make([]string, len(zones))
	for i, z := range zones {
		out[i] = z.zone
	}
	return out
}

// Layout returns the Plant for prefix without touching the system: the
// names and addresses Up would use. Down on it removes whatever exists.
func Layout(prefix string) *Plant {
	p := &Plant{Prefix: prefix, FW: prefix + FWSuffix, Hosts: make(map[string]*Host, len(zones))}
	for _, z := range zones {
		h := &Host{
			Zone: z.zone,
			NS:   prefix + z.zone,
			IPv4: netip.MustParseAddr(z.ipv4),
			IPv6: netip.MustParseAddr(z.ipv6),
		}
		for _, e := range z.extra {
			h.Extra = append(h.Extra, netip.MustParseAddr(e))
		}
		p.Hosts[z.zone] = h
	}
	return p
}

// Namespaces lists every namespace of the plant, firewall first.
func (p *Plant) Namespaces() []string {
	out := []string{p.FW}
	keys := make([]string, 0, len(p.Hosts))
	for k := range p.Hosts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, p.Hosts[k].NS)
	}
	return out
}

// Host returns the host of a zone, panicking on an unknown zone key: a
// typo in a test is a programming error.
func (p *Plant) Host(zone string) *Host {
	h, ok := p.Hosts[zone]
	if !ok {
		panic(fmt.Sprintf("plant: unknown zone %q", zone))
	}
	return h
}

// Cmd returns a command that runs name inside namespace ns.
func (p *Plant) Cmd(ns string, name string, args ...string) *exec.Cmd {
	return NSCmd(ns, name, args...)
}

// NSCmd returns a command that runs name inside namespace ns.
func NSCmd(ns string, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// validPrefix keeps interface and namespace names sane; namespace names
// become file names under /run/netns.
func validPrefix(prefix string) error {
	if prefix == "" {
		return errors.New("empty prefix")
	}
	if len(prefix) > 12 {
		return fmt.Errorf("prefix %q longer than 12 characters", prefix)
	}
	for _, r := range prefix {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("prefix %q: only a-z, 0-9, '-' and '_' allowed", prefix)
		}
	}
	return nil
}
