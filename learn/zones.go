package learn

import (
	"fmt"
	"github.com/conduit-ot/conduit/rules"
	"net/netip"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Zone is a zone of the draft: given with --zones, or inferred.
type Zone struct {
	Name        string
	Level       string
	CIDRs       []netip.Prefix
	Ports       []string // bridge ports, as given; learn proposes them for the others
	MACs        []string // as given
	Description string
	Inferred    bool
	Hosts       int // addresses seen in it
}

// Zones assigns addresses to zones by longest prefix, as the policy does.
type Zones struct {
	List []*Zone
}

// Zone returns the zone of a, or nil.
func (zs *Zones) Zone(a netip.Addr) *Zone {
	a = a.Unmap()
	var best *Zone
	bits := -1
	for _, z := range zs.List {
		for _, p := range z.CIDRs {
			if p.Contains(a) && p.Bits() > bits {
				best, bits = z, p.Bits()
			}
		}
	}
	return best
}

// ZoneName returns the zone name of a, or "unknown".
func (zs *Zones) ZoneName(a netip.Addr) string {
	if z := zs.Zone(a); z != nil {
		return z.Name
	}
	return "unknown"
}

// InferredLevel is the Purdue level written for inferred zones: the
// capture cannot tell it, so the draft says so (conduit check warns until
// the engineer sets it).
const InferredLevel = rules.LevelUnknown

// zoneable reports whether a gets a zone: unicast addresses do; multicast,
// broadcast and unspecified ones are named in rules as they are.
func zoneable(a netip.Addr) bool {
	return a.IsValid() && !a.IsMulticast() && !a.IsUnspecified() && a != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}

// InferZones adds a /24 (IPv4) or /64 (IPv6) zone for every subnet with
// addresses of m (and of more) that no zone in given covers.
func InferZones(m *Matrix, given []*Zone, more ...*Matrix) *Zones {
	zs := &Zones{}
	for _, z := range given {
		c := *z
		c.Hosts = 0
		zs.List = append(zs.List, &c)
	}
	inferred := map[netip.Prefix]*Zone{}
	seen := map[netip.Addr]bool{}
	var svcs []*Service
	for _, mm := range append([]*Matrix{m}, more...) {
		svcs = append(svcs, mm.Services()...)
	}
	for _, s := range svcs {
		for _, a := range []netip.Addr{s.Client.Unmap(), s.Server.Unmap()} {
			if seen[a] || !zoneable(a) {
				continue
			}
			seen[a] = true
			if z := zs.zoneGiven(a, len(given)); z != nil {
				z.Hosts++
				continue
			}
			bits := 24
			if a.Is6() {
				bits = 64
			}
			p := netip.PrefixFrom(a, bits).Masked()
			z := inferred[p]
			if z == nil {
				z = &Zone{Name: inferredName(p), Level: InferredLevel, CIDRs: []netip.Prefix{p}, Inferred: true}
				inferred[p] = z
			}
			z.Hosts++
		}
	}
	var add []*Zone
	for _, z := range inferred {
		add = append(add, z)
	}
	slices.SortFunc(add, func(a, b *Zone) int { return a.CIDRs[0].Addr().Compare(b.CIDRs[0].Addr()) })
	zs.List = append(zs.List, add...)
	return zs
}

// zoneGiven looks a up among the first n (given) zones.
func (zs *Zones) zoneGiven(a netip.Addr, n int) *Zone {
	g := Zones{List: zs.List[:n]}
	return g.Zone(a)
}

// inferredName names a subnet zone: net-10-20-0 for 10.20.0.0/24,
// net6-fd00-10-0-0 for fd00:10::/64.
func inferredName(p netip.Prefix) string {
	if p.Addr().Is4() {
		b := p.Addr().As4()
		return fmt.Sprintf("net-%d-%d-%d", b[0], b[1], b[2])
	}
	b := p.Addr().As16()
	var parts []string
	for i := 0; i < 8; i += 2 {
		parts = append(parts, fmt.Sprintf("%x", uint16(b[i])<<8|uint16(b[i+1])))
	}
	return "net6-" + strings.Join(parts, "-")
}

// LoadZones reads zones from a YAML file: a policy file (its zones:
// section is used) or a file holding just such a mapping, with or without
// the zones: key. The draft is validated as a whole by the policy parser,
// so only the shape is checked here.
func LoadZones(path string) ([]*Zone, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read zones: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("zones %s: %w", path, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("zones %s: expected a mapping of zone name to {level, cidrs}", path)
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "zones" {
			root = root.Content[i+1]
			break
		}
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("zones %s:%d: zones must be a mapping", path, root.Line)
	}
	var out []*Zone
	for i := 0; i+1 < len(root.Content); i += 2 {
		name, v := root.Content[i].Value, root.Content[i+1]
		var z struct {
			Level       string   `yaml:"level"`
			CIDRs       []string `yaml:"cidrs"`
			Ports       []string `yaml:"ports"`
			MACs        []string `yaml:"macs"`
			Description string   `yaml:"description"`
		}
		if err := v.Decode(&z); err != nil {
			return nil, fmt.Errorf("zones %s:%d: zone %s: %w", path, v.Line, name, err)
		}
		zone := &Zone{Name: name, Level: z.Level, Ports: z.Ports, MACs: z.MACs, Description: z.Description}
		for _, c := range z.CIDRs {
			p, err := parsePrefix(c)
			if err != nil {
				return nil, fmt.Errorf("zones %s:%d: zone %s: %w", path, v.Line, name, err)
			}
			zone.CIDRs = append(zone.CIDRs, p)
		}
		if zone.Level == "" || len(zone.CIDRs) == 0 {
			return nil, fmt.Errorf("zones %s:%d: zone %s needs a level and cidrs", path, v.Line, name)
		}
		out = append(out, zone)
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}
