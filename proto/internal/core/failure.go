package core

import "strconv"

// Failure names the part of a protocol condition a request did not meet,
// in the policy's words; Pass is the empty value. Protocols share the
// names below where they mean the same (functions, objects); a protocol
// with a key of its own defines its Failure (a value from 32 up no other
// protocol lists) and lists it in Info.Failures.
type Failure uint8

const (
	Pass Failure = iota
	FailFunction
	FailUnitID
	FailReadAddress
	FailWriteAddress
	FailSource
	FailDestination
	FailObject
	FailCommand
	FailService
	FailClass
	FailUserdataGroup
	// FailIncomplete: the request cannot be judged (a DNP3 object list the
	// parser could not walk to its end, more CIP messages than it records).
	// It is unparsed, not a violation: on_unparsed decides.
	FailIncomplete
)

// FailureInfo names a protocol's own Failure.
type FailureInfo struct {
	Failure Failure
	Name    string // the condition key, as in "violates"
}

// FailureNames holds the name of each Failure; proto adds the
// protocols' own (Info.Failures) at init.
var FailureNames = [256]string{"", "functions", "unit_ids", "addresses.read", "addresses.write",
	"sources", "destinations", "objects", "commands", "services", "classes", "userdata_groups", "incomplete"}

// String returns the condition key that failed ("functions", ...).
func (f Failure) String() string {
	if n := FailureNames[f]; n != "" || f == Pass {
		return n
	}
	return "failure(" + strconv.Itoa(int(f)) + ")"
}
