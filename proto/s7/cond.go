package s7

import (
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/conduit-ot/conduit/proto/internal/core"
)

// The s7: condition of a rule: its decoding from the policy, its check
// of a client's jobs and userdata requests, and its rendering.

var (
	condKeys  = []string{"functions", "userdata_groups"}
	functions = core.Vocab{What: "s7 function", Min: 0, Max: 255, Names: FunctionNames,
		Code: func(s string) (int64, bool) {
			c, ok := FunctionCode(s)
			return int64(c), ok
		}}
	groups = core.Vocab{What: "s7 userdata group", Min: 0, Max: 15, Names: GroupNames,
		Code: func(s string) (int64, bool) {
			c, ok := GroupCode(s)
			return int64(c), ok
		}}
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
	built  bool
}

func decode(d core.Decoder, n *yaml.Node) *Cond {
	c := &Cond{}
	f := d.Cond(n, "s7", condKeys)
	if v, ok := f["functions"]; ok {
		d.Codes(v.Val, "s7.functions", &functions, func(code int64, _ bool) {
			c.Functions = append(c.Functions, uint8(code))
		})
	}
	if v, ok := f["userdata_groups"]; ok {
		d.Codes(v.Val, "s7.userdata_groups", &groups, func(code int64, _ bool) {
			c.UserdataGroups = append(c.UserdataGroups, uint8(code))
		})
	}
	c.Build()
	return c
}

// Build prepares the condition for its checks; decoding builds it.
func (c *Cond) Build() {
	if c.built {
		return
	}
	c.built = true
	for _, f := range c.Functions {
		c.fn.Add(f)
	}
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

func (c *Cond) functionNames() []string {
	var names []string
	for _, f := range c.Functions {
		names = append(names, core.CodeName(FunctionName(f), int(f)))
	}
	return names
}

func (c *Cond) groupNames() []string {
	var names []string
	for _, g := range c.UserdataGroups {
		names = append(names, core.CodeName(GroupName(g), int(g)))
	}
	return names
}

func (c *Cond) String() string {
	var parts []string
	if len(c.Functions) > 0 {
		parts = append(parts, "functions: "+core.FlowList(c.functionNames()))
	}
	if len(c.UserdataGroups) > 0 {
		parts = append(parts, "userdata_groups: "+core.FlowList(c.groupNames()))
	}
	return "s7: {" + strings.Join(parts, ", ") + "}"
}

// condJSON is the condition in check --json.
type condJSON struct {
	Functions      []string `json:"functions,omitempty"`
	UserdataGroups []string `json:"userdata_groups,omitempty"`
}

// Describe renders the condition in the policy's vocabulary.
func (c *Cond) Describe() []core.Section {
	j := &condJSON{Functions: c.functionNames(), UserdataGroups: c.groupNames()}
	l := func(s []string) string { return strings.Join(s, ",") }
	return []core.Section{{Key: "s7", JSON: j,
		Text: core.TextLine("s7", "functions", l(j.Functions), "userdata_groups", l(j.UserdataGroups))}}
}

// Lint warns of a function list without setup_communication.
func (c *Cond) Lint() []string {
	if len(c.Functions) > 0 && !c.fn.Has(FuncSetupCommunication) {
		return []string{"s7 functions lack setup_communication, which opens every S7 session: its flows cannot get further"}
	}
	return nil
}
