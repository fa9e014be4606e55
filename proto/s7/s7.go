// Package s7 decodes S7comm (ISO-on-TCP, port 102) without allocating into
// a caller-owned PDU: the TPKT and COTP framing, the S7 header, the job
// functions that change a PLC (write, download, PI services, stop) and the
// userdata groups. S7comm-plus is recognised by its protocol id and
// reported as such, without deeper decoding.
//
// Parse decodes one TPKT at the start of a buffer; a TCP stream is decoded
// by calling it again on the rest. An S7 PDU that COTP splits over several
// DT TPDUs arrives as KindFragment pieces: the caller joins their
// COTP.Data and decodes the whole with ParseS7.
package s7

import "github.com/conduit-ot/conduit/proto/internal/pdu"

// Port is the ISO-on-TCP port.
const Port = 102

// What is malformed in a PDU (besides pdu.ErrShort: wait for more bytes).
const (
	ErrTPKTVersion  pdu.Error = "tpkt-version"           // not version 3
	ErrTPKTLength   pdu.Error = "tpkt-length"            // shorter than TPKT plus the smallest COTP header
	ErrCOTPLength   pdu.Error = "cotp-length"            // length indicator too small for its type, or past the TPKT
	ErrCOTPType     pdu.Error = "cotp-type"              // unknown TPDU code
	ErrCOTPParam    pdu.Error = "cotp-param"             // CR/CC parameter past the header
	ErrProtocolID   pdu.Error = "s7-protocol-id"         // neither S7comm (0x32) nor S7comm-plus (0x72)
	ErrS7Header     pdu.Error = "s7-header-truncated"    // shorter than the header its ROSCTR needs
	ErrROSCTR       pdu.Error = "s7-rosctr"              // unknown message type
	ErrS7Length     pdu.Error = "s7-length"              // header, parameter and data lengths disagree with the TPDU
	ErrNoFunction   pdu.Error = "s7-no-function"         // job, ack-data or userdata without a parameter
	ErrSetup        pdu.Error = "s7-setup-communication" // setup parameter not 8 bytes
	ErrVarItems     pdu.Error = "s7-var-items"           // read/write var items disagree with their count or length
	ErrBlockControl pdu.Error = "s7-block-control"       // up/download parameter or block file name past the parameter
	ErrPIService    pdu.Error = "s7-pi-service"          // PI service parameter block or name past the parameter
	ErrUserdata     pdu.Error = "s7-userdata-param"      // userdata parameter head or length wrong
)

// Errors lists every value Parse may return, for tests and metrics labels.
var Errors = []pdu.Error{pdu.OK, pdu.ErrShort, ErrTPKTVersion, ErrTPKTLength, ErrCOTPLength, ErrCOTPType,
	ErrCOTPParam, ErrProtocolID, ErrS7Header, ErrROSCTR, ErrS7Length, ErrNoFunction, ErrSetup,
	ErrVarItems, ErrBlockControl, ErrPIService, ErrUserdata}

// Kind says what a TPKT carried.
type Kind uint8

const (
	// KindCOTP is a COTP TPDU without an S7 PDU: connection request and
	// confirm, disconnect, error, or a DT with no data.
	KindCOTP Kind = iota
	// KindFragment is a DT without the end-of-TSDU mark: the start or
	// middle of an S7 PDU that continues in the next DT.
	KindFragment
	// KindS7 is an S7comm PDU (protocol id 0x32).
	KindS7
	// KindS7Plus is an S7comm-plus PDU (protocol id 0x72), not decoded further.
	KindS7Plus
)

func (k Kind) String() string {
	switch k {
	case KindFragment:
		return "cotp-fragment"
	case KindS7:
		return "s7"
	case KindS7Plus:
		return "s7plus"
	}
	return "cotp"
}

// PDU is one decoded TPKT. Parse overwrites every field, so one value can
// be reused for a whole stream. Byte slices are sub-slices of the input.
type PDU struct {
	Dir        pdu.Dir
	Kind       Kind
	TPKTLength uint16
	COTP       COTP

	// S7 header (KindS7).
	ROSCTR                uint8 // ROSCTRJob, ROSCTRAck, ROSCTRAckData or ROSCTRUserdata
	PDURef                uint16
	ParamLen, DataLen     uint16
	ErrorClass, ErrorCode uint8 // ack and ack-data only
	Param, Data           []byte

	// Job and ack-data parameter.
	HasFunction                 bool
	Function                    uint8
	ItemCount                   uint8  // read/write var
	PDUSize                     uint16 // setup communication: the PDU length asked for or granted
	MaxAmQCalling, MaxAmQCalled uint16
	Filename                    []byte // up/download: the block file name, e.g. "_0A00001P" (see Block)
	PIService                   []byte // PI service and PLC stop: the service name, e.g. "_INSE", "P_PROGRAM"
	PIParams                    []byte // PI service: the parameter block

	// Userdata parameter.
	UserdataMethod uint8 // 0x11 request, 0x12 response
	UserdataType   uint8 // UserdataPush, UserdataRequest or UserdataResponse
	Group          uint8 // function group, e.g. GroupCPU
	Subfunction    uint8
	Sequence       uint8
	DataUnitRef    uint8
	LastDataUnit   uint8
	UserdataError  uint16

	// S7comm-plus (KindS7Plus).
	PlusVersion uint8
}

// Parse decodes the TPKT at the start of b into p and returns the bytes it
// spans. With pdu.ErrShort n is 0. With a malformed error, n is the TPKT
// length when the whole TPKT was in b (so a caller may log or skip it), 0
// when the TPKT header itself is bad; p holds the fields decoded before
// the fault.
//
// A DT marked end-of-TSDU is decoded as a whole S7 PDU. On a stream where
// a KindFragment came before, the caller uses ParseTPKT instead until the
// end-of-TSDU DT, and decodes the joined data with ParseS7.
//
// dir is the PDU's direction: requests flow from the client to port 102.
// S7 lets either end send jobs (a PLC pulls blocks during a download), so
// Parse records it and checks nothing by it.
func Parse(b []byte, dir pdu.Dir, p *PDU) (n int, err pdu.Error) {
	n, err = ParseTPKT(b, dir, p)
	if err != pdu.OK || p.COTP.Type != COTPData || !p.COTP.EOT || p.COTP.Data == nil {
		return n, err
	}
	return n, p.parseS7(p.COTP.Data)
}

// ParseTPKT decodes the TPKT at the start of b and its COTP header, but
// not the S7 PDU in a DT's data (p.COTP.Data): the step a stream
// reassembler takes while it joins the pieces of a fragmented S7 PDU.
// Results are as for Parse; Kind is KindCOTP or KindFragment.
func ParseTPKT(b []byte, dir pdu.Dir, p *PDU) (n int, err pdu.Error) {
	*p = PDU{Dir: dir}
	if len(b) < TPKTLen {
		return 0, pdu.ErrShort
	}
	t := TPKT(b)
	if t.Version() != TPKTVersion {
		return 0, ErrTPKTVersion
	}
	n = int(t.Length())
	if n < TPKTLen+COTPDataLen {
		return 0, ErrTPKTLength
	}
	if len(b) < n {
		return 0, pdu.ErrShort
	}
	p.TPKTLength = uint16(n)
	return n, p.parseCOTP(b[TPKTLen:n:n])
}

// ParseS7 decodes an S7comm or S7comm-plus PDU without TPKT and COTP
// framing: the data of DT TPDUs joined up to the one marked end-of-TSDU.
func ParseS7(b []byte, dir pdu.Dir, p *PDU) pdu.Error {
	*p = PDU{Dir: dir}
	if len(b) == 0 {
		return ErrProtocolID
	}
	return p.parseS7(b)
}
