package learn

import (
	"fmt"
	"sort"
	"strings"

	"github.com/conduit-ot/conduit/proto"
	"github.com/conduit-ot/conduit/rules"
)

// condition is the protocol condition a draft rule carries for the
// services of one industrial protocol, decided from what they asked.
type condition struct {
	app      rules.AppProto
	keys     []string          // the rule's condition keys, as YAML lines ("modbus: {...}"); none: no condition
	notes    []string          // comment lines saying why
	unparsed map[string]uint64 // packets inspection cannot judge: the rule needs on_unparsed: allow
}

// conditions decides the conditions of a rule's services, one per
// industrial protocol among them (a rule of the draft carries at most one
// unless --no-conditions merged ports).
func conditions(svcs []*Service) []condition {
	byApp := map[rules.AppProto][]*Service{}
	for _, s := range svcs {
		if app := appOf(s.Proto, s.Port); app != rules.AppNone {
			byApp[app] = append(byApp[app], s)
		}
	}
	var out []condition
	for _, app := range proto.All() {
		if ss := byApp[app]; len(ss) > 0 {
			out = append(out, decide(app, ss))
		}
	}
	return out
}

// hasCondition reports whether the services (of one port) get a condition.
func hasCondition(svcs []*Service) bool {
	for _, c := range conditions(svcs) {
		if len(c.keys) > 0 {
			return true
		}
	}
	return false
}

// decide writes the condition that allows exactly the requests the
// services made, or none where a condition would drop what was seen.
//
// The engine judges every request PDU of a rule's flows and drops those
// the condition refuses; a flow without payload is never judged, so
// services that only connected neither add to the condition nor need it
// left out. But traffic that does not parse (a stream gap in the capture,
// a malformed PDU, another protocol on the port) is dropped unless
// on_unparsed: allow: where a service sent such traffic and no request at
// all, its flows are not the protocol, and the rule gets no condition;
// where it also made requests, the rule gets the condition and
// on_unparsed: allow, and the comment says what could not be judged.
func decide(app rules.AppProto, svcs []*Service) condition {
	c := condition{app: app}
	name := app.String()
	funcs := map[string]map[string]uint64{} // Function.Proto -> name -> count
	seen := proto.Seen{Funcs: funcs}
	for _, s := range svcs {
		if s.logged {
			c.notes = append(c.notes, fmt.Sprintf("no %s condition: %s -> %s was learned from a verdict log, which does not say what was asked",
				name, s.Client.Unmap(), s.Server.Unmap()))
			return c
		}
		if s.uninspected {
			c.notes = append(c.notes, fmt.Sprintf("no %s condition: %s -> %s was learned from conduit observe's live matrix, which does not record what was asked",
				name, s.Client.Unmap(), s.Server.Unmap()))
			return c
		}
		asked := false
		for f, n := range s.Functions {
			proto, fn, _ := strings.Cut(f, " ")
			if funcs[proto] == nil {
				funcs[proto] = map[string]uint64{}
			}
			funcs[proto][fn] += n
			asked = true
		}
		if !asked && len(s.Unparsed) > 0 {
			c.notes = append(c.notes, fmt.Sprintf("no %s condition: %s -> %s sent %s that %s cannot judge (%s) and no request: a condition would drop them",
				name, s.Client.Unmap(), s.Server.Unmap(), plural(int(sum(s.Unparsed)), "packet"), name, reasons(s.Unparsed)))
			return c
		}
		for u := range 256 {
			if s.units.Has(uint8(u)) && !seen.Units.Has(uint8(u)) {
				seen.Units.Add(uint8(u))
				seen.NUnits++
			}
		}
		for r, n := range s.Unparsed {
			if c.unparsed == nil {
				c.unparsed = map[string]uint64{}
			}
			c.unparsed[r] += n
		}
	}
	if len(funcs) == 0 {
		c.notes = append(c.notes, fmt.Sprintf("no %s requests seen: no condition", name))
		c.unparsed = nil
		return c
	}
	if p := proto.Table[app].Protocol; p != nil {
		keys, notes := p.Draft(&seen)
		c.keys, c.notes = append(c.keys, keys...), append(c.notes, notes...)
	}
	if len(c.unparsed) > 0 {
		c.notes = append(c.notes, fmt.Sprintf("%s could not be judged (%s):",
			plural(int(sum(c.unparsed)), name+" packet"), reasons(c.unparsed)),
			"  on_unparsed: allow lets such traffic through, as enforce would drop it; find out",
			"  why (packets the capture missed, a device sending malformed PDUs), then set deny")
	}
	return c
}

// yamlFlow renders a YAML flow list.
func yamlFlow(items []string) string { return "[" + strings.Join(items, ", ") + "]" }

func sum(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// reasons lists the unparsed reasons, the most frequent first.
func reasons(m map[string]uint64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j]
	})
	for i, k := range keys {
		keys[i] = fmt.Sprintf("%s %s", k, commas(m[k]))
	}
	return strings.Join(keys, ", ")
}

// kind is a request kind of a protocol, by name.
type kind struct {
	id   proto.ID
	name string
}

// kindOrder lists the request kinds in table order: the order of the
// evidence comments.
func kindOrder() []kind {
	var out []kind
	for _, id := range proto.All() {
		for _, k := range proto.Table[id].Kinds {
			out = append(out, kind{id, k.Name})
		}
	}
	return out
}

// protoOf is id's implementation, nil while it has none.
func protoOf(id proto.ID) proto.Protocol { return proto.Table[id].Protocol }
