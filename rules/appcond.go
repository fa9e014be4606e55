package rules

import (
	"strconv"
	"strings"

	"github.com/conduit-ot/conduit/proto"
	"github.com/conduit-ot/conduit/proto/s7"
)

// AppProto is the industrial protocol a rule's flows are parsed as; the
// protocols and what is known of each are proto's table.
type AppProto = proto.ID

const (
	AppNone   = proto.None
	AppModbus = proto.Modbus // Modbus/TCP
	AppDNP3   = proto.DNP3   // DNP3 over TCP or UDP
	AppENIP   = proto.ENIP   // EtherNet/IP and the CIP it carries (keys enip and cip)
	AppS7     = proto.S7     // S7comm over ISO-on-TCP
)

// Unparsed is what a rule does with traffic of its flows that cannot be
// judged (on_unparsed): a stream gap, a malformed PDU. The zero value
// denies.
type Unparsed uint8

const (
	UnparsedDeny Unparsed = iota
	UnparsedAllow
)

// String returns "deny" or "allow".
func (u Unparsed) String() string {
	if u == UnparsedAllow {
		return "allow"
	}
	return "deny"
}

// Violation is what a rule does with a request its protocol condition
// refuses (on_violation).
type Violation uint8

const (
	// ViolationDrop drops the offending segment.
	ViolationDrop Violation = iota
	// ViolationReset drops it and resets the TCP session at both ends.
	ViolationReset
)

// String returns "drop" or "reset".
func (v Violation) String() string {
	if v == ViolationReset {
		return "reset"
	}
	return "drop"
}

// Failure names the part of a protocol condition a request did not meet
// (proto.Failure).
type Failure = proto.Failure

const (
	Pass              = proto.Pass
	FailFunction      = proto.FailFunction
	FailUnitID        = proto.FailUnitID
	FailReadAddress   = proto.FailReadAddress
	FailWriteAddress  = proto.FailWriteAddress
	FailSource        = proto.FailSource
	FailDestination   = proto.FailDestination
	FailObject        = proto.FailObject
	FailCommand       = proto.FailCommand
	FailService       = proto.FailService
	FailClass         = proto.FailClass
	FailUserdataGroup = proto.FailUserdataGroup
	FailIncomplete    = proto.FailIncomplete
)

// AppCond is a rule's industrial-protocol condition: its protocol's own
// (Cond), decoded and judged by the protocol's package through proto's
// table.
type AppCond struct {
	Proto AppProto
	Cond  proto.Cond
	S7    *S7Cond
	// Line and Col locate the (first) condition key.
	Line, Col int
}

// String renders the condition the way it could be written in the policy.
func (c *AppCond) String() string {
	if c == nil {
		return ""
	}
	switch {
	case c.Cond != nil:
		return c.Cond.String()
	case c.S7 != nil:
		return c.S7.String()
	}
	return ""
}

func (c *AppCond) build() {
	switch {
	case c.S7 != nil:
		c.S7.build()
	}
}

// set256 is a set of byte values.
type set256 [4]uint64

func (s *set256) add(v uint8)      { s[v>>6] |= 1 << (v & 63) }
func (s *set256) has(v uint8) bool { return s[v>>6]&(1<<(v&63)) != 0 }

// within reports whether [lo, lo+n-1] lies inside one of the merged ranges.
func within(rs []PortRange, lo, n uint16) bool {
	hi := uint32(lo) + uint32(n) - 1
	if n == 0 {
		hi = uint32(lo)
	}
	for _, r := range rs {
		if r.Lo <= lo && hi <= uint32(r.Hi) {
			return true
		}
	}
	return false
}

func inRange(rs []PortRange, v uint16) bool { return within(rs, v, 1) }

func mergedOrNil(rs []PortRange) []PortRange {
	if len(rs) == 0 {
		return nil
	}
	return mergeRanges(rs)
}

// --- S7comm ------------------------------------------------------------------

// S7Cond is an s7: condition: together, Functions (jobs) and
// UserdataGroups (userdata requests) list what a client may ask. A
// condition that lists either refuses what neither lists, so
// {functions: [read_var, setup_communication]} refuses userdata requests
// too; an empty condition only asks for well-formed S7comm.
type S7Cond struct {
	Functions      []uint8
	UserdataGroups []uint8

	fn     set256
	groups uint16
	built  bool
}

func (c *S7Cond) build() {
	if c.built {
		return
	}
	c.built = true
	for _, f := range c.Functions {
		c.fn.add(f)
	}
	for _, g := range c.UserdataGroups {
		c.groups |= 1 << (g & 15)
	}
}

func (c *S7Cond) restricted() bool { return len(c.Functions) > 0 || len(c.UserdataGroups) > 0 }

// CheckJob judges a job's function.
func (c *S7Cond) CheckJob(function uint8) Failure {
	if c.restricted() && !c.fn.has(function) {
		return FailFunction
	}
	return Pass
}

// CheckUserdata judges a userdata request's function group.
func (c *S7Cond) CheckUserdata(group uint8) Failure {
	if c.restricted() && c.groups&(1<<(group&15)) == 0 {
		return FailUserdataGroup
	}
	return Pass
}

func (c *S7Cond) String() string {
	var parts []string
	if len(c.Functions) > 0 {
		names := make([]string, len(c.Functions))
		for i, f := range c.Functions {
			names[i] = codeName(s7.FunctionName(f), int(f))
		}
		parts = append(parts, "functions: "+flowList(names))
	}
	if len(c.UserdataGroups) > 0 {
		names := make([]string, len(c.UserdataGroups))
		for i, g := range c.UserdataGroups {
			names[i] = codeName(s7.GroupName(g), int(g))
		}
		parts = append(parts, "userdata_groups: "+flowList(names))
	}
	return "s7: {" + strings.Join(parts, ", ") + "}"
}

func codeName(name string, code int) string {
	if name != "" {
		return name
	}
	return strconv.Itoa(code)
}

func flowList(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return "[" + strings.Join(items, ", ") + "]"
}
