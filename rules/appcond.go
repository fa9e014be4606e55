package rules

import (
	"strconv"
	"strings"

	"github.com/conduit-ot/conduit/proto"
	"github.com/conduit-ot/conduit/proto/enip"
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
	ENIP  *ENIPCond // the enip and cip keys together
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
	case c.ENIP != nil:
		return c.ENIP.String()
	case c.S7 != nil:
		return c.S7.String()
	}
	return ""
}

func (c *AppCond) build() {
	switch {
	case c.ENIP != nil:
		c.ENIP.build()
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

// --- EtherNet/IP and CIP -----------------------------------------------------

// CIPService is a CIP service code, on any class (Class 0: a common service
// or one given by number) or on the class that defines it.
type CIPService struct {
	Code  uint8
	Class uint32
}

func (s CIPService) String() string {
	if n := enip.ServiceName(s.Code, s.Class); n != "" {
		return n
	}
	return "0x" + strconv.FormatUint(uint64(s.Code), 16)
}

// ENIPCond is an enip: and/or cip: condition. Commands judge the
// encapsulation header; Services and Classes judge every CIP request the
// encapsulation carries (Multiple Service Packet and Unconnected Send are
// envelopes: the requests inside them are judged, not the envelope).
type ENIPCond struct {
	HasENIP, HasCIP bool // which keys were written
	Commands        []uint16
	Services        []CIPService
	Classes         []PortRange

	anySvc   set256 // codes allowed on any class
	classSvc []CIPService
	built    bool
}

func (c *ENIPCond) build() {
	if c.built {
		return
	}
	c.built = true
	c.classSvc = nil
	for _, s := range c.Services {
		if s.Class == 0 {
			c.anySvc.add(s.Code)
		} else {
			c.classSvc = append(c.classSvc, s)
		}
	}
	c.Classes = mergedOrNil(c.Classes)
}

// CheckCommand judges an encapsulation command.
func (c *ENIPCond) CheckCommand(cmd uint16) Failure {
	if len(c.Commands) == 0 {
		return Pass
	}
	for _, x := range c.Commands {
		if x == cmd {
			return Pass
		}
	}
	return FailCommand
}

// Envelope reports whether m only carries other requests (Multiple
// Service Packet, Unconnected Send) that are judged on their own.
func Envelope(m *enip.Msg) bool {
	return m.Service == enip.SvcMultipleServicePacket ||
		m.Service == enip.SvcUnconnectedSend && m.Class == enip.ClassConnectionManager
}

// CheckCIP judges one CIP request.
func (c *ENIPCond) CheckCIP(m *enip.Msg) Failure {
	if len(c.Services) > 0 && !c.anySvc.has(m.Service) {
		ok := false
		for _, s := range c.classSvc {
			if s.Code == m.Service && s.Class == m.Class {
				ok = true
				break
			}
		}
		if !ok {
			return FailService
		}
	}
	if c.Classes != nil && (m.Class > 0xffff || !inRange(c.Classes, uint16(m.Class))) {
		return FailClass
	}
	return Pass
}

func (c *ENIPCond) String() string {
	var out []string
	if c.HasENIP {
		var parts []string
		if len(c.Commands) > 0 {
			names := make([]string, len(c.Commands))
			for i, x := range c.Commands {
				names[i] = codeName(enip.CommandName(x), int(x))
			}
			parts = append(parts, "commands: "+flowList(names))
		}
		out = append(out, "enip: {"+strings.Join(parts, ", ")+"}")
	}
	if c.HasCIP {
		var parts []string
		if len(c.Services) > 0 {
			names := make([]string, len(c.Services))
			for i, s := range c.Services {
				names[i] = s.String()
			}
			parts = append(parts, "services: "+flowList(names))
		}
		if len(c.Classes) > 0 {
			parts = append(parts, "classes: "+FormatPorts(c.Classes))
		}
		out = append(out, "cip: {"+strings.Join(parts, ", ")+"}")
	}
	return strings.Join(out, " ")
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
