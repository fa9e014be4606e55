package core

import "github.com/conduit-ot/conduit/proto/internal/pdu"

// Side is the direction of a PDU in its flow: requests go from the rule's
// client to its server.
type Side = pdu.Dir

const (
	Request  = pdu.Request
	Response = pdu.Response
)

// Status is how a PDU at the start of a buffer went (Inspector.PDU).
type Status uint8

const (
	OK    Status = iota // framed (judged or found malformed): n bytes consumed
	Short               // continues beyond the buffer
	Lost                // cannot be framed: the rest of the stream cannot be walked
)

// Inspector is a worker's parser state of one protocol, judging the PDUs
// of the flows of rules with its condition. It is called on the packet
// path: it must not allocate.
type Inspector interface {
	// Declared is the length the PDU header at the start of b announces,
	// 0 if b is too short to tell.
	Declared(b []byte) int
	// PDU judges the PDU at the start of b, at stream offset off, sent in
	// direction s, under condition c (the protocol's own), reporting to j.
	// The direction's state comes as an argument, not from j: no dynamic
	// call to reach it on the packet path.
	PDU(j Judge, c Cond, s *Stream, b []byte, off uint32) (n int, st Status)
	sealed()
}

// Stream is the direction of a flow a PDU travels in, as its inspector
// sees it (Inspector.PDU): the side that sent it, the flow's protocol
// word and the direction's reassembly. The stream follower keeps them
// while the flow's packets pass.
type Stream struct {
	Side Side
	// Word is the flow's protocol word (S7: the negotiated PDU size).
	Word uint16
	// Asm is the direction's reassembly of a PDU over several pieces.
	Asm Asm
}

// Judge is what the engine's stream follower offers an Inspector for one
// packet: recording its outcome, counting and reporting requests, and the
// direction's reassembly buffer. The first violation or unparsed PDU of a
// packet decides it; the recorders return nil once one has (or for a
// notice after any outcome), and otherwise the event to fill.
type Judge interface {
	// Violation records a request the condition refused (f).
	Violation(f Failure, off uint32) *Event
	// Unparsed records a PDU that cannot be judged (reason
	// unparsed-<key>), detail saying why.
	Unparsed(detail string, off uint32) *Event
	// Malformed records a PDU the parser refused (reason
	// malformed-<key>), err the parser's error.
	Malformed(err, detail string, off uint32) *Event
	// Notice records a response reporting an error (an exception): only
	// logged.
	Notice(off uint32) *Event
	// Count counts a request the condition passed whole.
	Count()
	// Seen reports a request the condition judged, for coverage and
	// learn: covered when it passed and is counted (or its kind is
	// uncounted).
	Seen(r Judged)

	// AsmStart begins a reassembly at stream offset off.
	AsmStart(off uint32)
	// AsmAppend adds b, up to limit bytes in all; it returns why it could
	// not (DetailTooLarge, DetailNoLarge), or "".
	AsmAppend(b []byte, limit int) string
	// AsmBytes returns the bytes gathered.
	AsmBytes() []byte
}

// Why a reassembly could not go on (Judge.AsmAppend).
const (
	DetailTooLarge = "pdu-larger-than-reassembly-buffer"
	DetailNoLarge  = "no-large-buffer-free"
)

// AsmMax bounds one reassembly: half of one of the engine's large
// buffers (4096 bytes), whose other half holds what a refused packet
// must leave as it was.
const AsmMax = 2048

// Asm is the state of a reassembly, kept per flow direction while the
// packets carrying it pass.
type Asm struct {
	At uint32 // stream offset of the first piece, for the log
	N  uint16 // bytes gathered (Judge.AsmAppend)
	// Buf is the stream follower's: which of its large buffers holds the
	// bytes (0: none). A protocol leaves it; it sits here, not in a
	// wrapper, so that the struct stays 16 bytes.
	Buf     uint16
	Active  bool // a PDU is pending: its last piece has not come
	Decided bool // the first piece gave its verdict: the rest is neither kept nor judged
	// The protocol's own words about the pending PDU (DNP3: sequence and
	// function; link addresses).
	B [2]uint8
	H [2]uint16
}

// Judged is a request a condition judged (Judge.Seen).
type Judged struct {
	Kind    Kind
	Code    uint16  // the function, command or service
	MEI     uint8   // a sub-code naming it further (Modbus 43: the MEI type)
	Unit    uint8   // the unit addressed, for a kind with Units
	Class   uint32  // the object class it addresses (CIP)
	Failure Failure // Pass, or how the condition refused it
	Counted bool    // the rule counts it now
}

// Malformed records through j a PDU the parser refused; n > 0 means its
// framing was sound, so the walk can go on after it. It returns the event
// (nil if an earlier PDU decided) and what the inspector returns.
func Malformed(j Judge, n int, err string, off uint32) (*Event, int, Status) {
	a := j.Malformed(err, "", off)
	if n == 0 {
		return a, 0, Lost
	}
	return a, n, OK
}

// Refused turns a parser's refusal (err not OK; n bytes framed) into the
// inspector's result: the PDU continues beyond the buffer (ErrShort:
// Short), or it is malformed (recorded through j; a is the event to fill,
// or nil). Inspectors call it only when err is not OK, so the judged case
// costs one compare.
func Refused(j Judge, n int, err pdu.Error, off uint32) (a *Event, m int, st Status) {
	if err == pdu.ErrShort {
		return nil, 0, Short
	}
	return Malformed(j, n, string(err), off)
}
