package core

import "strconv"

// Failure names the part of a protocol condition a request did not meet,
// in the policy's words; Pass is the empty value. Protocols share the
// names where they mean the same (functions, objects); a new protocol
// adds its own at the end.
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

var failureNames = [...]string{"", "functions", "unit_ids", "addresses.read", "addresses.write",
	"sources", "destinations", "objects", "commands", "services", "classes", "userdata_groups", "incomplete"}

// String returns the condition key that failed ("functions", ...).
func (f Failure) String() string {
	if int(f) < len(failureNames) {
		return failureNames[f]
	}
	return "failure(" + strconv.Itoa(int(f)) + ")"
}
