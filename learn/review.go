package learn

import (
	"bytes"
	"net/netip"
)

// Carried is one tuple a rule of a running policy carried (conduit
// coverage): review drafts the rules that allow exactly these.
type Carried struct {
	Client, Server netip.Addr
	Proto          uint8
	Port           uint16
	Flows          uint64
	Functions      map[string]uint64 // "modbus read_coils" -> requests
	Units          []uint16          // Modbus unit ids
	First, Last    int64             // ns
}

// Drafted is one rule drafted from carried tuples.
type Drafted struct {
	Name string
	YAML string // the rule with its evidence comment, as learn writes it
}

// DraftCarried drafts the narrowest rules allowing exactly what carried
// holds, in learn's vocabulary and layout, never wider (see Draft). A
// side names a zone only where it lists every host of the zone that
// appears in carried or in seen (what every rule carried). Names begin
// with prefix.
func DraftCarried(carried, seen []Carried, zones []*Zone, cfg DraftConfig, prefix string) []Drafted {
	cfg.defaults()
	m, all := matrixOf(carried), matrixOf(seen)
	zs := InferZones(m, zones, all)
	dedupeZoneNames(zs, len(zones))
	rs := draftRules(m, zs, &cfg)
	out := make([]Drafted, 0, len(rs))
	for i := range rs {
		r := &rs[i]
		r.name = truncName(prefix + r.name)
		var b bytes.Buffer
		writeRule(&b, r, zs, &cfg)
		out = append(out, Drafted{Name: r.name, YAML: b.String()})
	}
	return out
}

func matrixOf(cs []Carried) *Matrix {
	m := NewMatrix()
	for _, c := range cs {
		s := m.service(ServiceKey{Client: c.Client, Server: c.Server, Proto: c.Proto, Port: c.Port})
		s.Flows += c.Flows
		s.seen(c.First)
		s.seen(c.Last)
		for f, n := range c.Functions {
			if s.Functions == nil {
				s.Functions = map[string]uint64{}
			}
			s.Functions[f] += n
		}
		for _, u := range c.Units {
			s.units.Add(uint8(u))
		}
		m.seen(c.First)
		m.seen(c.Last)
	}
	return m
}
