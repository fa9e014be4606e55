package proto

import (
	"github.com/conduit-ot/conduit/proto/internal/core"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// The contract between the protocols and their users (proto/internal/core),
// under the names the users know.
type (
	Info      = core.Info
	Protocol  = core.Protocol
	Cond      = core.Cond
	Section   = core.Section
	Inspector = core.Inspector
	Judge     = core.Judge
	Stream    = core.Stream
	Status    = core.Status
	Event     = core.Event
	Side      = core.Side
	Failure   = core.Failure
	Kind      = core.Kind
	KindInfo  = core.KindInfo
	FailInfo  = core.FailureInfo
	Judged    = core.Judged
	Asm       = core.Asm
	Seen      = core.Seen
	Decoder   = core.Decoder
	Field     = core.Field
	Vocab     = core.Vocab
	Range     = core.Range
	Set256    = core.Set256
)

// Sides of a PDU.
const (
	Request  = core.Request
	Response = core.Response
)

// ParseError says why a protocol's Parse refused its input: ParseOK is
// success, ParseShort means the buffer ends before the PDU does (more of
// the stream is needed), and each protocol names its other values (ErrX)
// after what is malformed. A plain string, so returning one never
// allocates; its text suits log reasons as it is. (An Inspector reports
// a Status instead: OK, Short, Lost.)
type ParseError = pdu.Error

// Results of a protocol's Parse besides the malformed ones.
const (
	ParseOK    = pdu.OK
	ParseShort = pdu.ErrShort
)

// Inspector results.
const (
	OK    = core.OK
	Short = core.Short
	Lost  = core.Lost
)

// Unparsed is the Kind of a packet inspection could not judge.
const Unparsed = core.Unparsed

// Failures of a condition.
const (
	Pass              = core.Pass
	FailFunction      = core.FailFunction
	FailUnitID        = core.FailUnitID
	FailReadAddress   = core.FailReadAddress
	FailWriteAddress  = core.FailWriteAddress
	FailSource        = core.FailSource
	FailDestination   = core.FailDestination
	FailObject        = core.FailObject
	FailCommand       = core.FailCommand
	FailService       = core.FailService
	FailClass         = core.FailClass
	FailUserdataGroup = core.FailUserdataGroup
	FailIncomplete    = core.FailIncomplete
)

// Reassembly limits and why one could not go on.
const (
	AsmMax         = core.AsmMax
	DetailTooLarge = core.DetailTooLarge
	DetailNoLarge  = core.DetailNoLarge
)

// Helpers of ranges and numbers as the policy writes them.
var (
	FormatRanges = core.FormatRanges
	MergeRanges  = core.MergeRanges
	ParseInt     = core.ParseInt
	IsNumeric    = core.IsNumeric
)
