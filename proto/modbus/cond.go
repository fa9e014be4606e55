package modbus

import (
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/conduit-ot/conduit/proto/internal/core"
)

// The modbus: condition of a rule: its decoding from the policy, its
// check of a request, and its rendering.

// Presets: read_only is every public function that only reads (device
// identification only through MEI type 14); read_write adds the register
// and coil writes. Diagnostics (8) is in neither: its sub-functions
// restart the device's communications or silence it.
var (
	readOnly  = []uint8{1, 2, 3, 4, 7, 11, 12, 17, 20, 24}
	readWrite = []uint8{5, 6, 15, 16, 21, 22, 23}
)

var (
	condKeys    = []string{"functions", "preset", "unit_ids", "addresses"}
	addrKeys    = []string{"read", "write"}
	presetWords = []string{"read_only", "read_write"}
	functions   = core.Vocab{What: "modbus function", Min: 1, Max: 127, Names: FunctionNames, Code: core.CodeOf(FunctionCode)}
)

// Cond is a modbus: condition. Functions and the preset add up; an empty
// list matches anything.
type Cond struct {
	core.Sealed
	Functions []uint8 // as written (names resolved to codes)
	Preset    string  // "", "read_only" or "read_write"
	UnitIDs   []core.Range
	// Read and Write bound the addresses a request reads or writes (coils,
	// inputs and registers alike): the whole span must lie in one range.
	Read, Write []core.Range

	// devID records that read_device_identification was allowed by name
	// or preset: function 43 then only with MEI type 14, unless 43 was
	// also given as a number (fc43).
	devID, fc43 bool
	fn          core.Set256
	units       core.Set256
}

func decode(d core.Decoder, n *yaml.Node) *Cond {
	c := &Cond{}
	f := d.Cond(n, "modbus", condKeys)
	if v, ok := f["functions"]; ok {
		d.Codes(v.Val, "modbus.functions", &functions, func(code int64, byName bool) {
			c.Functions = append(c.Functions, uint8(code))
			if code == EncapsulatedInterface && !byName {
				c.fc43 = true
			}
		})
	}
	if v, ok := f["preset"]; ok {
		c.Preset, _ = d.Word(v.Val, "modbus.preset", presetWords)
	}
	if v, ok := f["unit_ids"]; ok {
		c.UnitIDs = d.Ranges(v.Val, "modbus.unit_ids", 255)
	}
	if v, ok := f["addresses"]; ok {
		if v.Val.Kind == yaml.MappingNode {
			g := d.Fields(v.Val, "modbus.addresses", addrKeys)
			if x, ok := g["read"]; ok {
				c.Read = d.Ranges(x.Val, "modbus.addresses.read", 65535)
			}
			if x, ok := g["write"]; ok {
				c.Write = d.Ranges(x.Val, "modbus.addresses.write", 65535)
			}
			if len(g) == 0 {
				d.Errf(v.Val, "modbus.addresses needs read, write or both")
			}
		} else {
			// A plain list bounds reads and writes alike.
			c.Read = d.Ranges(v.Val, "modbus.addresses", 65535)
			c.Write = append([]core.Range(nil), c.Read...)
		}
	}
	return c
}

// Build prepares the condition for Check (again: it derives all it sets).
func (c *Cond) Build() {
	c.fn = core.SetOf(c.Functions)
	c.devID = c.fn.Has(EncapsulatedInterface) && !c.fc43
	switch c.Preset {
	case "read_write":
		for _, f := range readWrite {
			c.fn.Add(f)
		}
		fallthrough
	case "read_only":
		for _, f := range readOnly {
			c.fn.Add(f)
		}
		c.devID = true
	}
	c.units = core.Set256{}
	for _, r := range c.UnitIDs {
		for u := int(r.Lo); u <= int(r.Hi); u++ {
			c.units.Add(uint8(u))
		}
	}
	c.Read, c.Write = core.MergedOrNil(c.Read), core.MergedOrNil(c.Write)
}

// Check judges one Modbus request.
func (c *Cond) Check(p *PDU) core.Failure {
	if len(c.Functions) > 0 || c.Preset != "" {
		ok := c.fn.Has(p.Function)
		if p.Function == EncapsulatedInterface && !c.fc43 {
			ok = c.devID && p.MEIType == MEIReadDeviceIdentification
		}
		if !ok {
			return core.FailFunction
		}
	}
	if len(c.UnitIDs) > 0 && !c.units.Has(p.UnitID) {
		return core.FailUnitID
	}
	if p.HasRead && c.Read != nil && !core.Within(c.Read, p.ReadAddr, p.ReadQty) {
		return core.FailReadAddress
	}
	if p.HasWrite && c.Write != nil && !core.Within(c.Write, p.WriteAddr, p.WriteQty) {
		return core.FailWriteAddress
	}
	return core.Pass
}

// functionNames renders the functions as written: 43 by name allows
// device identification only, 43 as a number any MEI type.
func (c *Cond) functionNames() []string {
	var names []string
	for _, f := range c.Functions {
		if f == EncapsulatedInterface && c.fc43 {
			names = append(names, "43")
		} else {
			names = append(names, core.CodeName(FunctionName(f), int(f)))
		}
	}
	return names
}

func (c *Cond) String() string {
	addrs := ""
	if len(c.Read) > 0 || len(c.Write) > 0 {
		addrs = strings.TrimPrefix(core.Braced("", "read", core.Ranges(c.Read), "write", core.Ranges(c.Write)), ": ")
	}
	return core.Braced("modbus", "functions", core.List(core.CodeNames(c.Functions, FunctionName)), "preset", c.Preset,
		"unit_ids", core.Ranges(c.UnitIDs), "addresses", addrs)
}

// condJSON is the condition in check --json.
type condJSON struct {
	Functions []string   `json:"functions,omitempty"`
	Preset    string     `json:"preset,omitempty"`
	UnitIDs   []string   `json:"unit_ids,omitempty"`
	Addresses *addresses `json:"addresses,omitempty"`
}

type addresses struct {
	Read  []string `json:"read,omitempty"`
	Write []string `json:"write,omitempty"`
}

// Describe renders the condition in the policy's vocabulary.
func (c *Cond) Describe() []core.Section {
	j := &condJSON{Functions: c.functionNames(), Preset: c.Preset, UnitIDs: core.RangeStrings(c.UnitIDs)}
	if len(c.Read) > 0 || len(c.Write) > 0 {
		j.Addresses = &addresses{Read: core.RangeStrings(c.Read), Write: core.RangeStrings(c.Write)}
	}
	l := func(s []string) string { return strings.Join(s, ",") }
	read, write := l(core.RangeStrings(c.Read)), l(core.RangeStrings(c.Write))
	var text string
	if read != "" && read == write {
		text = core.TextLine("modbus", "functions", l(j.Functions), "preset", c.Preset, "unit_ids", l(j.UnitIDs), "addresses", read)
	} else {
		text = core.TextLine("modbus", "functions", l(j.Functions), "preset", c.Preset, "unit_ids", l(j.UnitIDs),
			"addresses.read", read, "addresses.write", write)
	}
	return []core.Section{{Key: "modbus", JSON: j, Text: text}}
}

// Lint has nothing to say about a Modbus condition.
func (c *Cond) Lint() []string { return nil }

// readOnlyNames reports whether every function named is in the read_only
// preset: its functions, and 43 with MEI type 14
// (read_device_identification by name).
func readOnlyNames(names []string) bool {
	for _, n := range names {
		if n == "read_device_identification" {
			continue
		}
		code, ok := FunctionCode(n)
		if !ok || !contains(readOnly, code) {
			return false
		}
	}
	return len(names) > 0
}

func contains(s []uint8, v uint8) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
