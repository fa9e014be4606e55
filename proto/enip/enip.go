// Package enip decodes EtherNet/IP encapsulation (TCP and UDP port 44818)
// and the CIP explicit messages it carries, without allocating, into a
// caller-owned PDU.
//
// Parse decodes one encapsulation PDU at the start of a buffer; a TCP
// stream is decoded by calling it again on the rest. For SendRRData and
// SendUnitData it walks the common packet format items and the CIP message
// in the data item, descending into Multiple Service Packet (0x0A) and
// Unconnected Send (0x52 to the Connection Manager) to a bounded depth, so
// that every CIP request a PLC would act on is listed in PDU.Msgs.
package enip

import "github.com/conduit-ot/conduit/proto/internal/pdu"

// Port is the registered EtherNet/IP port for TCP (explicit messaging)
// and UDP (list commands).
const Port = 44818

// What is malformed in a PDU (besides pdu.ErrShort: wait for more bytes).
const (
	ErrLength           pdu.Error = "enip-length"             // encapsulation length above the protocol maximum
	ErrRegisterSession  pdu.Error = "enip-register-session"   // RegisterSession data is not 4 bytes
	ErrCPFTruncated     pdu.Error = "enip-cpf-truncated"      // item list runs past the command data
	ErrCPFTrailing      pdu.Error = "enip-cpf-trailing-bytes" // bytes after the last item
	ErrCPFItemLength    pdu.Error = "enip-cpf-item-length"    // address or data item of the wrong length for its type
	ErrCPFDuplicate     pdu.Error = "enip-cpf-duplicate-item" // two address items or two data items
	ErrCPFNoData        pdu.Error = "enip-cpf-no-data-item"   // SendRRData/SendUnitData without a data item
	ErrCIPTruncated     pdu.Error = "cip-truncated"           // message shorter than its header or path
	ErrCIPPath          pdu.Error = "cip-bad-path"            // unknown, reserved or overrunning path segment
	ErrCIPDepth         pdu.Error = "cip-nesting-too-deep"    // embedded messages deeper than MaxDepth
	ErrMultipleService  pdu.Error = "cip-bad-multiple-service-packet"
	ErrUnconnectedSend  pdu.Error = "cip-bad-unconnected-send"
	ErrCIPEmptyEmbedded pdu.Error = "cip-empty-embedded-message"
)

// Errors lists every value Parse may return, for tests and metrics labels.
var Errors = []pdu.Error{pdu.OK, pdu.ErrShort, ErrLength, ErrRegisterSession, ErrCPFTruncated,
	ErrCPFTrailing, ErrCPFItemLength, ErrCPFDuplicate, ErrCPFNoData, ErrCIPTruncated,
	ErrCIPPath, ErrCIPDepth, ErrMultipleService, ErrUnconnectedSend, ErrCIPEmptyEmbedded}

// Limits.
const (
	// MaxLength is the largest encapsulation data length the specification
	// allows (65535 minus the 24-byte header).
	MaxLength = 65511
	// MaxDepth bounds nesting of Multiple Service Packet and Unconnected
	// Send: the outermost message has depth 0.
	MaxDepth = 4
	// MaxMsgs is how many CIP messages a PDU records; PDU.Total counts all.
	MaxMsgs = 32
)

// PDU is one decoded encapsulation PDU. Parse overwrites every field it
// describes, so one value can be reused for a whole stream. Only
// Msgs[:NumMsgs()] are meaningful.
type PDU struct {
	Dir   pdu.Dir
	Encap Encap
	CPF   CPF
	// Total counts the CIP messages found, outermost first, depth first;
	// it exceeds MaxMsgs when Msgs could not hold them all.
	Total int
	Msgs  [MaxMsgs]Msg
}

// Encap holds the encapsulation header and command-specific fields.
type Encap struct {
	Command uint16
	Length  uint16 // bytes of command data after the header
	Session uint32
	Status  uint32
	Context uint64 // sender context, opaque (read little-endian)
	Options uint32
	Data    []byte // the command data: a sub-slice of the input

	// RegisterSession.
	ProtocolVersion uint16
	SessionOptions  uint16
}

// CPF holds the common packet format of SendRRData and SendUnitData.
type CPF struct {
	Present   bool // the command carries a CPF item list
	Interface uint32
	Timeout   uint16
	Items     uint16 // item count as sent
	AddrType  uint16 // ItemNullAddr, ItemConnectedAddr or ItemSequencedAddr; 0 if none
	ConnID    uint32 // connected and sequenced address items
	AddrSeq   uint32 // sequenced address item
	DataType  uint16 // ItemUnconnectedData or ItemConnectedData; 0 if none
	SeqCount  uint16 // connected data item sequence count
	CIP       []byte // the CIP message in the data item: a sub-slice of the input
}

// Msg is one CIP message: a request with its path, or a response with its
// status. Class, Instance and Attribute are the first of each in the path.
type Msg struct {
	Service   uint8 // without the response bit
	Response  bool
	Status    uint8  // general status (responses)
	ExtStatus uint16 // first additional status word (responses)
	Depth     uint8  // 0 outermost; embedded messages one more than their container
	Flags     PathFlags
	Class     uint32 // ClassSymbol when a symbolic path names a tag without a class
	Instance  uint32
	Attribute uint32
	Symbol    []byte // first ANSI extended symbol (tag name), a sub-slice of the input
	Data      []byte // request or response data, a sub-slice of the input
}

// PathFlags say which parts a request path had.
type PathFlags uint8

const (
	HasClass     PathFlags = 1 << iota
	HasInstance            // an instance segment
	HasAttribute           // an attribute segment
	HasSymbol              // an ANSI extended symbolic segment
	MultiClass             // more than one class segment (Class is the first)
	Routed                 // a port segment
)

// Messages returns the recorded CIP messages.
func (p *PDU) Messages() []Msg { return p.Msgs[:p.NumMsgs()] }

// NumMsgs is how many entries of Msgs are valid.
func (p *PDU) NumMsgs() int { return min(p.Total, MaxMsgs) }

// Truncated reports whether more CIP messages were found than Msgs holds;
// a caller that must see every request treats the PDU as unparsed.
func (p *PDU) Truncated() bool { return p.Total > MaxMsgs }

// Parse decodes the encapsulation PDU at the start of b into p and returns
// the bytes it spans. With pdu.ErrShort, n is 0 and p holds what the header
// said (if b held it). With a malformed error, n is the PDU's length when
// the whole PDU was in b (so a caller may log or skip it), 0 otherwise;
// p then holds the fields decoded before the fault.
//
// dir is the PDU's direction: requests flow from the originator, the
// client, to the target, port 44818. Parse records it; CIP messages say
// for themselves whether they are requests or responses.
func Parse(b []byte, dir pdu.Dir, p *PDU) (n int, err pdu.Error) {
	p.Dir = dir
	p.Encap = Encap{}
	p.CPF = CPF{}
	p.Total = 0
	if len(b) < HeaderLen {
		return 0, pdu.ErrShort
	}
	h := Header(b)
	e := &p.Encap
	e.Command = h.Command()
	e.Length = h.Length()
	e.Session = h.Session()
	e.Status = h.Status()
	e.Context = h.Context()
	e.Options = h.Options()
	if e.Length > MaxLength {
		return 0, ErrLength
	}
	n = HeaderLen + int(e.Length)
	if len(b) < n {
		return 0, pdu.ErrShort
	}
	e.Data = b[HeaderLen:n:n]
	switch e.Command {
	case CmdRegisterSession:
		if len(e.Data) != 4 {
			return n, ErrRegisterSession
		}
		e.ProtocolVersion = le16(e.Data)
		e.SessionOptions = le16(e.Data[2:])
	case CmdSendRRData, CmdSendUnitData:
		return n, p.parseCPF(e.Data)
	}
	return n, pdu.OK
}
