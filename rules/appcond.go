package rules

import (
	"github.com/conduit-ot/conduit/proto"
)

// AppProto is the industrial protocol a rule's flows are parsed as; the
// protocols and what is known of each are proto's table.
type AppProto = proto.ID

// AppNone is no protocol.
const AppNone = proto.None

// Unparsed is what a rule does with traffic of its flows that cannot be
// judged (on_unparsed): a stream gap, a malformed PDU. The zero value
// denies.
type Unparsed uint8

const (
	UnparsedDeny Unparsed = iota
	UnparsedAllow
)

// String returns "deny" or "allow".
func (u Unparsed) String() string { return unparsedWords[u&1] }

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
func (v Violation) String() string { return violationWords[v&1] }

// AppCond is a rule's industrial-protocol condition: its protocol's own
// (Cond), decoded and judged by the protocol's package through proto's
// table.
type AppCond struct {
	Proto AppProto
	Cond  proto.Cond
	// Line and Col locate the (first) condition key.
	Line, Col int
}

// String renders the condition the way it could be written in the policy.
func (c *AppCond) String() string {
	if c == nil || c.Cond == nil {
		return ""
	}
	return c.Cond.String()
}
