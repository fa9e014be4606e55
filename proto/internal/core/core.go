// Package core is the contract between conduit's protocol packages
// (proto/<p>) and their users: the sealed interfaces a protocol
// implements (Protocol, Cond, Inspector), what the engine offers an
// inspector for one packet (Judge), the verdict-line fields of a PDU
// (Event), the request kinds (Kind) and the helpers a condition decoder
// needs (Decoder). It is a leaf: proto re-exports it by type aliases, so
// users name these types proto.X, and only packages below proto/ can
// implement the interfaces (by embedding Sealed).
package core

import (
	"log/slog"

	"gopkg.in/yaml.v3"
)

// Sealed closes the interfaces of this package: a type satisfies them
// only by embedding it, which only packages below proto/ can.
type Sealed struct{}

func (Sealed) sealed() {}

// Info is what conduit knows of a protocol, and its implementation.
type Info struct {
	// Key is the protocol's policy key and its name in logs ("enip" for
	// enip and cip together).
	Key string
	// Name is its name in prose ("EtherNet/IP").
	Name string
	// Keys are the rule condition keys that select the protocol, in the
	// order the policy reference lists them.
	Keys []string
	// Transports are the IP protocols its condition may be used with.
	Transports []uint8
	// Port is its well-known server port.
	Port uint16
	// Datagrams: a UDP flow keeps reassembly state between datagrams
	// (DNP3 transport segments); other protocols need none.
	Datagrams bool
	// Kinds are the request kinds the protocol reports (Judge.Seen).
	Kinds []KindInfo
	// Failures are the protocol's own failures, beyond the shared ones.
	Failures []FailureInfo
	// Protocol is its implementation.
	Protocol
}

// Protocol is a protocol's implementation, called through the table.
type Protocol interface {
	// Decode decodes the condition under one of the protocol's keys
	// (Info.Keys). into is the condition an earlier key of the same rule
	// decoded (enip then cip), or nil; the result replaces it. The policy
	// builds it (Cond.Build) once all its keys are decoded.
	Decode(d Decoder, key string, n *yaml.Node, into Cond) Cond
	// Vocabulary lists the valid names of each condition field, keyed
	// "modbus.functions", ...
	Vocabulary() map[string][]string
	// NewInspector returns a worker's inspector: its parse buffers.
	NewInspector() Inspector
	// Attrs appends the protocol's fields of a verdict line's app object.
	Attrs(e *Event, as []slog.Attr) []slog.Attr
	// RequestName names a request of one of its kinds as a condition
	// lists it: the vocabulary's word, or "" where it has none.
	RequestName(r *Judged) string
	// Draft writes the condition keys (YAML lines) and notes for the
	// requests learn saw of the protocol's services.
	Draft(s *Seen) (keys, notes []string)
	// Annotate remarks on the requests of one of its kinds (by name) that
	// learn lists as a rule's evidence: " (read-only)", or "".
	Annotate(kind string, names []string) string
	sealed()
}

// Kind is a type of request a protocol reports (Judge.Seen), as its
// condition names them. The values are saved (coverage in the state
// file) and must never change; 0 is Unparsed. Each protocol owns the
// values it lists in Info.Kinds.
type Kind uint8

// Unparsed is a packet inspection could not judge.
const Unparsed Kind = 0

// KindInfo describes a Kind.
type KindInfo struct {
	Kind Kind
	// Name is its name in coverage keys and learn ("modbus", "cip",
	// "s7-userdata").
	Name string
	// Uncounted: the rule counts the request carrying it, not it (CIP in
	// ENIP); it is covered when the condition passes it.
	Uncounted bool
	// Units: the request's Unit is recorded (Modbus unit ids).
	Units bool
}

// Kinds holds every protocol's kinds at their value; proto fills it from
// its table at init.
var Kinds [256]KindInfo

func (k Kind) String() string {
	if k == Unparsed {
		return "unparsed"
	}
	if n := Kinds[k].Name; n != "" {
		return n
	}
	return "kind(" + itoa(int(k)) + ")"
}

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := v < 0
	if neg {
		v = -v
	}
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
