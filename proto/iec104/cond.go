package iec104

import (
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/conduit-ot/conduit/proto/internal/core"
)

// The iec104: condition of a rule: its decoding from the policy, its
// check of an I frame the controlling station sends, and its rendering.

var (
	condKeys  = []string{"type_ids", "causes", "common_addresses"}
	typeVocab = core.Vocab{What: "iec104 type id", Min: 1, Max: 255, Names: TypeNames,
		Code: func(s string) (int64, bool) {
			c, ok := TypeCode(s)
			return int64(c), ok
		}}
	causeVocab = core.Vocab{What: "iec104 cause", Min: 1, Max: 63, Names: CauseNames,
		Code: func(s string) (int64, bool) {
			c, ok := CauseCode(s)
			return int64(c), ok
		}}
)

// The condition's own failures (reserved for IEC 104: 40-47).
const (
	FailTypeID        core.Failure = 40 // "type_ids"
	FailCause         core.Failure = 41 // "causes"
	FailCommonAddress core.Failure = 42 // "common_addresses"
)

// Cond is an iec104: condition. It judges the I frames of the rule's
// client (the controlling station: commands, interrogations, clock
// synchronisation, parameters, files); S and U frames are link control,
// carry no command, and always pass. An empty list matches anything.
type Cond struct {
	core.Sealed
	TypeIDs     []uint8 // as written (names resolved to codes)
	Causes      []uint8
	CommonAddrs []core.Range

	types, causes core.Set256
}

func decode(d core.Decoder, n *yaml.Node) *Cond {
	f := d.Cond(n, "iec104", condKeys)
	c := &Cond{TypeIDs: core.Codes[uint8](d, f, "type_ids", "iec104.type_ids", &typeVocab),
		Causes: core.Codes[uint8](d, f, "causes", "iec104.causes", &causeVocab)}
	if v, ok := f["common_addresses"]; ok {
		c.CommonAddrs = d.Ranges(v.Val, "iec104.common_addresses", 65535)
	}
	return c
}

// Build prepares the condition for Check (again: it derives all it sets).
func (c *Cond) Build() {
	c.types, c.causes = core.SetOf(c.TypeIDs), core.SetOf(c.Causes)
	c.CommonAddrs = core.MergedOrNil(c.CommonAddrs)
}

// Check judges one APDU of the controlling station.
func (c *Cond) Check(a *APDU) core.Failure {
	if a.Format != FormatI {
		return core.Pass
	}
	if len(c.TypeIDs) > 0 && !c.types.Has(a.TypeID) {
		return FailTypeID
	}
	if len(c.Causes) > 0 && !c.causes.Has(a.Cause) {
		return FailCause
	}
	if len(c.CommonAddrs) > 0 && !core.InRange(c.CommonAddrs, a.CommonAddr) {
		return FailCommonAddress
	}
	return core.Pass
}

func typeList(ts []uint8) []string {
	var out []string
	for _, t := range ts {
		out = append(out, core.CodeName(TypeName(t), int(t)))
	}
	return out
}

func causeList(cs []uint8) []string {
	var out []string
	for _, k := range cs {
		out = append(out, core.CodeName(CauseName(k), int(k)))
	}
	return out
}

func (c *Cond) String() string {
	return core.Braced("iec104", "type_ids", core.List(typeList(c.TypeIDs)), "causes", core.List(causeList(c.Causes)),
		"common_addresses", core.Ranges(c.CommonAddrs))
}

// Describe renders the condition in the policy's vocabulary.
func (c *Cond) Describe() []core.Section {
	return []core.Section{core.Listed("iec104", []string{"type_ids", "causes", "common_addresses"},
		typeList(c.TypeIDs), causeList(c.Causes), core.RangeStrings(c.CommonAddrs))}
}

// Lint warns about types of the monitor direction in the condition: the
// controlled station sends them, never the rule's client, so listing
// them allows nothing (and may mean the rule was written the wrong way
// round).
func (c *Cond) Lint() []string {
	var mon []string
	for _, t := range c.TypeIDs {
		if t <= 44 || t == M_EI_NA_1 {
			mon = append(mon, core.CodeName(TypeName(t), int(t)))
		}
	}
	if len(mon) == 0 {
		return nil
	}
	return []string{"iec104 type_ids " + strings.Join(mon, ",") + " are of the monitor direction: the outstation sends them, " +
		"the condition judges what the rule's client (the controlling station) sends"}
}
