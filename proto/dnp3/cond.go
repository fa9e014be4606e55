package dnp3

import (
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/conduit-ot/conduit/proto/internal/core"
)

// The dnp3: condition of a rule: its decoding from the policy, its check
// of a master's frames and requests, and its rendering.

var (
	condKeys  = []string{"functions", "sources", "destinations", "objects"}
	functions = core.Vocab{What: "dnp3 function", Min: 0, Max: 255, Names: FunctionNames, Code: core.CodeOf(FunctionCode)}
)

// Object is an object group and variation ("12:1"), or a whole group
// ("12", AnyVariation).
type Object struct {
	Group, Variation uint8
	AnyVariation     bool
}

func (o Object) String() string {
	if o.AnyVariation {
		return strconv.Itoa(int(o.Group))
	}
	return strconv.Itoa(int(o.Group)) + ":" + strconv.Itoa(int(o.Variation))
}

// Cond is a dnp3: condition. Sources and Destinations are the link
// addresses of the frames the master sends (master and outstation).
type Cond struct {
	core.Sealed
	Functions    []uint8
	Sources      []core.Range
	Destinations []core.Range
	Objects      []Object

	fn       core.Set256
	groups   core.Set256 // groups allowed with any variation
	variants []uint16    // group<<8|variation, sorted
}

func decode(d core.Decoder, n *yaml.Node) *Cond {
	f := d.Cond(n, "dnp3", condKeys)
	c := &Cond{Functions: core.Codes[uint8](d, f, "functions", "dnp3.functions", &functions)}
	if v, ok := f["sources"]; ok {
		c.Sources = d.Ranges(v.Val, "dnp3.sources", 65535)
	}
	if v, ok := f["destinations"]; ok {
		c.Destinations = d.Ranges(v.Val, "dnp3.destinations", 65535)
	}
	if v, ok := f["objects"]; ok {
		if items, ok := d.Items(v.Val, "dnp3.objects"); ok {
			for _, it := range items {
				if o, ok := decodeObject(d, it); ok {
					c.Objects = append(c.Objects, o)
				}
			}
		}
	}
	return c
}

// decodeObject parses "group:variation" or "group".
func decodeObject(d core.Decoder, n *yaml.Node) (Object, bool) {
	s, ok := d.Scalar(n, "dnp3.objects")
	if !ok {
		return Object{}, false
	}
	g, v, hasV := strings.Cut(s, ":")
	gi, okG := core.ParseInt(strings.TrimSpace(g))
	vi, okV := int64(0), true
	if hasV {
		vi, okV = core.ParseInt(strings.TrimSpace(v))
	}
	if !okG || !okV || gi < 0 || gi > 255 || vi < 0 || vi > 255 {
		d.Errf(n, "dnp3.objects: %q must be group:variation such as \"12:1\" (each 0-255), or a whole group such as \"60\"", s)
		return Object{}, false
	}
	return Object{Group: uint8(gi), Variation: uint8(vi), AnyVariation: !hasV}, true
}

// Build prepares the condition for its checks (again: it derives all it
// sets).
func (c *Cond) Build() {
	c.fn, c.groups, c.variants = core.SetOf(c.Functions), core.Set256{}, nil
	for _, o := range c.Objects {
		if o.AnyVariation {
			c.groups.Add(o.Group)
		} else {
			c.variants = append(c.variants, uint16(o.Group)<<8|uint16(o.Variation))
		}
	}
	sort.Slice(c.variants, func(i, j int) bool { return c.variants[i] < c.variants[j] })
	c.Sources, c.Destinations = core.MergedOrNil(c.Sources), core.MergedOrNil(c.Destinations)
}

// CheckLink judges the link addresses of a frame from the master.
func (c *Cond) CheckLink(f *Frame) core.Failure {
	if c.Sources != nil && !core.InRange(c.Sources, f.Source) {
		return core.FailSource
	}
	if c.Destinations != nil && !core.InRange(c.Destinations, f.Destination) {
		return core.FailDestination
	}
	return core.Pass
}

// CheckApp judges an application request: its function and, when the
// condition lists objects, every object header (all of them must have
// been decoded, else FailIncomplete). bad is the index of the refused
// object header, or -1.
func (c *Cond) CheckApp(a *App) (f core.Failure, bad int) {
	if len(c.Functions) > 0 && !c.fn.Has(a.Function) {
		return core.FailFunction, -1
	}
	if len(c.Objects) == 0 {
		return core.Pass, -1
	}
	if !a.ObjectsComplete {
		return core.FailIncomplete, -1
	}
	for i := 0; i < a.NumObjects; i++ {
		h := &a.Objects[i]
		if c.groups.Has(h.Group) {
			continue
		}
		k := uint16(h.Group)<<8 | uint16(h.Variation)
		j := sort.Search(len(c.variants), func(j int) bool { return c.variants[j] >= k })
		if j == len(c.variants) || c.variants[j] != k {
			return core.FailObject, i
		}
	}
	return core.Pass, -1
}

func (c *Cond) objectNames() []string {
	var out []string
	for _, o := range c.Objects {
		out = append(out, o.String())
	}
	return out
}

func (c *Cond) String() string {
	var objects []string
	for _, o := range c.Objects {
		objects = append(objects, strconv.Quote(o.String()))
	}
	return core.Braced("dnp3", "functions", core.List(core.CodeNames(c.Functions, FunctionName)),
		"sources", core.Ranges(c.Sources), "destinations", core.Ranges(c.Destinations), "objects", core.List(objects))
}

// Describe renders the condition in the policy's vocabulary.
func (c *Cond) Describe() []core.Section {
	return []core.Section{core.Listed("dnp3", []string{"functions", "sources", "destinations", "objects"},
		core.CodeNames(c.Functions, FunctionName), core.RangeStrings(c.Sources), core.RangeStrings(c.Destinations), c.objectNames())}
}

// Lint has nothing to say about a DNP3 condition.
func (c *Cond) Lint() []string { return nil }
