package enip

import (
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/conduit-ot/conduit/proto/internal/core"
)

// The enip: and cip: conditions of a rule, one Cond together: their
// decoding from the policy, their check of a request, and their
// rendering.

var (
	enipKeys = []string{"commands"}
	cipKeys  = []string{"services", "classes"}
	commands = core.Vocab{What: "enip command", Min: 0, Max: 65535, Names: CommandNames, Code: core.CodeOf(CommandCode)}
	classes  = core.Vocab{What: "cip class", Min: 0, Max: 65535, Names: ClassNames, Code: core.CodeOf(ClassCode)}
	services = core.Vocab{What: "cip service", Min: 0, Max: 127, Names: ServiceNames}
)

// Service is a CIP service code, on any class (Class 0: a common service
// or one given by number) or on the class that defines it.
type Service struct {
	Code  uint8
	Class uint32
}

func (s Service) String() string {
	if n := ServiceName(s.Code, s.Class); n != "" {
		return n
	}
	return "0x" + strconv.FormatUint(uint64(s.Code), 16)
}

// Cond is an enip: and/or cip: condition. Commands judge the
// encapsulation header; Services and Classes judge every CIP request the
// encapsulation carries (Multiple Service Packet and Unconnected Send are
// envelopes: the requests inside them are judged, not the envelope).
type Cond struct {
	core.Sealed
	HasENIP, HasCIP bool // which keys were written
	Commands        []uint16
	Services        []Service
	Classes         []core.Range

	anySvc   core.Set256 // codes allowed on any class
	classSvc []Service
}

// decode decodes the enip: or cip: key into c (a new one for nil).
func decode(d core.Decoder, key string, n *yaml.Node, c *Cond) *Cond {
	if c == nil {
		c = &Cond{}
	}
	if key == "enip" {
		c.HasENIP = true
		f := d.Cond(n, "enip", enipKeys)
		c.Commands = core.Codes[uint16](d, f, "commands", "enip.commands", &commands)
		return c
	}
	c.HasCIP = true
	f := d.Cond(n, "cip", cipKeys)
	core.Scalars(d, f, "services", "cip.services", func(it *yaml.Node, s string) {
		if code, class, ok := ServiceCode(s); ok {
			c.Services = append(c.Services, Service{Code: code, Class: class})
		} else if x, ok := d.Number(it, s, "cip.services", &services); ok {
			c.Services = append(c.Services, Service{Code: uint8(x)})
		}
	})
	core.Scalars(d, f, "classes", "cip.classes", func(it *yaml.Node, s string) {
		switch x, ok := classes.Code(s); {
		case ok:
			c.Classes = append(c.Classes, core.Range{Lo: uint16(x), Hi: uint16(x)})
		case !core.IsNumeric(s):
			d.UnknownName(it, s, "cip.classes", &classes)
		default:
			if r, ok := d.Range(it, "cip.classes", 65535); ok {
				c.Classes = append(c.Classes, r)
			}
		}
	})
	return c
}

// Build prepares the condition for its checks (again: it derives all it
// sets).
func (c *Cond) Build() {
	c.anySvc, c.classSvc = core.Set256{}, nil
	for _, s := range c.Services {
		if s.Class == 0 {
			c.anySvc.Add(s.Code)
		} else {
			c.classSvc = append(c.classSvc, s)
		}
	}
	c.Classes = core.MergedOrNil(c.Classes)
}

// CheckCommand judges an encapsulation command.
func (c *Cond) CheckCommand(cmd uint16) core.Failure {
	if len(c.Commands) == 0 {
		return core.Pass
	}
	for _, x := range c.Commands {
		if x == cmd {
			return core.Pass
		}
	}
	return core.FailCommand
}

// Envelope reports whether m only carries other requests (Multiple
// Service Packet, Unconnected Send) that are judged on their own.
func Envelope(m *Msg) bool {
	return m.Service == SvcMultipleServicePacket ||
		m.Service == SvcUnconnectedSend && m.Class == ClassConnectionManager
}

// CheckCIP judges one CIP request.
func (c *Cond) CheckCIP(m *Msg) core.Failure {
	if len(c.Services) > 0 && !c.anySvc.Has(m.Service) {
		ok := false
		for _, s := range c.classSvc {
			if s.Code == m.Service && s.Class == m.Class {
				ok = true
				break
			}
		}
		if !ok {
			return core.FailService
		}
	}
	if c.Classes != nil && (m.Class > 0xffff || !core.InRange(c.Classes, uint16(m.Class))) {
		return core.FailClass
	}
	return core.Pass
}

func (c *Cond) String() string {
	var out []string
	if c.HasENIP {
		var cmds []string
		for _, x := range c.Commands {
			cmds = append(cmds, core.CodeName(CommandName(x), int(x)))
		}
		out = append(out, core.Braced("enip", "commands", core.List(cmds)))
	}
	if c.HasCIP {
		var svcs []string
		for _, s := range c.Services {
			svcs = append(svcs, s.String())
		}
		out = append(out, core.Braced("cip", "services", core.List(svcs), "classes", core.Ranges(c.Classes)))
	}
	return strings.Join(out, " ")
}

// Describe renders the condition under each key written.
func (c *Cond) Describe() []core.Section {
	var out []core.Section
	if c.HasENIP {
		var cmds []string
		for _, x := range c.Commands {
			if n := CommandName(x); n != "" {
				cmds = append(cmds, n)
			} else {
				cmds = append(cmds, fmt.Sprintf("0x%04x", x))
			}
		}
		out = append(out, core.Listed("enip", []string{"commands"}, cmds))
	}
	if c.HasCIP {
		var svcs, classes []string
		for _, s := range c.Services {
			svcs = append(svcs, s.String())
		}
		for _, r := range c.Classes {
			classes = append(classes, classRangeNames(r)...)
		}
		out = append(out, core.Listed("cip", []string{"services", "classes"}, svcs, classes))
	}
	return out
}

// classRangeNames names the CIP classes of a range (the loader merges
// neighbours, so "symbol, template" arrive as 0x6b-0x6c); a range holding
// an unnamed class stays a hexadecimal range.
func classRangeNames(r core.Range) []string {
	var names []string
	for c := uint32(r.Lo); c <= uint32(r.Hi); c++ {
		n := ClassName(c)
		if n == "" {
			if r.Lo == r.Hi {
				return []string{fmt.Sprintf("0x%x", r.Lo)}
			}
			return []string{fmt.Sprintf("0x%x-0x%x", r.Lo, r.Hi)}
		}
		names = append(names, n)
	}
	return names
}

// Lint has nothing to say about an EtherNet/IP condition.
func (c *Cond) Lint() []string { return nil }
