package s7

import (
	"gopkg.in/yaml.v3"

	"github.com/conduit-ot/conduit/proto/internal/core"
)

// The s7: condition of a rule: its decoding from the policy, its check
// of a client's jobs and userdata requests, and its rendering.

var (
	condKeys  = []string{"functions", "userdata_groups"}
	functions = core.Vocab{What: "s7 function", Min: 0, Max: 255, Names: FunctionNames, Code: core.CodeOf(FunctionCode)}
	groups    = core.Vocab{What: "s7 userdata group", Min: 0, Max: 15, Names: GroupNames, Code: core.CodeOf(GroupCode)}
)

// Cond is an s7: condition: together, Functions (jobs) and
// UserdataGroups (userdata requests) list what a client may ask. A
// condition that lists either refuses what neither lists, so
// {functions: [read_var, setup_communication]} refuses userdata requests
// too; an empty condition only asks for well-formed S7comm.
type Cond struct {
	core.Sealed
	Functions      []uint8
	UserdataGroups []uint8

	fn     core.Set256
	groups uint16
}

func decode(d core.Decoder, n *yaml.Node) *Cond {
	f := d.Cond(n, "s7", condKeys)
	c := &Cond{Functions: core.Codes[uint8](d, f, "functions", "s7.functions", &functions),
		UserdataGroups: core.Codes[uint8](d, f, "userdata_groups", "s7.userdata_groups", &groups)}
	return c
}

// Build prepares the condition for its checks (again: it derives all it
// sets).
func (c *Cond) Build() {
	c.fn, c.groups = core.SetOf(c.Functions), 0
	for _, g := range c.UserdataGroups {
		c.groups |= 1 << (g & 15)
	}
}

func (c *Cond) restricted() bool { return len(c.Functions) > 0 || len(c.UserdataGroups) > 0 }

// CheckJob judges a job's function.
func (c *Cond) CheckJob(function uint8) core.Failure {
	if c.restricted() && !c.fn.Has(function) {
		return core.FailFunction
	}
	return core.Pass
}

// CheckUserdata judges a userdata request's function group.
func (c *Cond) CheckUserdata(group uint8) core.Failure {
	if c.restricted() && c.groups&(1<<(group&15)) == 0 {
		return core.FailUserdataGroup
	}
	return core.Pass
}

func (c *Cond) String() string {
	return core.Braced("s7", "functions", core.List(core.CodeNames(c.Functions, FunctionName)),
		"userdata_groups", core.List(core.CodeNames(c.UserdataGroups, GroupName)))
}

// Describe renders the condition in the policy's vocabulary.
func (c *Cond) Describe() []core.Section {
	return []core.Section{core.Listed("s7", []string{"functions", "userdata_groups"},
		core.CodeNames(c.Functions, FunctionName), core.CodeNames(c.UserdataGroups, GroupName))}
}

// Lint warns of a function list without setup_communication.
func (c *Cond) Lint() []string {
	if len(c.Functions) > 0 && !c.fn.Has(FuncSetupCommunication) {
		return []string{"s7 functions lack setup_communication, which opens every S7 session: its flows cannot get further"}
	}
	return nil
}
