// Package iec104 decodes IEC 60870-5-104 application protocol data units
// (APDUs) for the policy engine: the APCI (start byte, length and the
// control field of an I, S or U frame) and, in I frames, the ASDU's data
// unit identifier (type identification, variable structure qualifier,
// cause of transmission, originator and common address) and the first
// information object address.
//
// Decoding is allocation-free: Parse fills a caller-owned APDU from the
// wire bytes. It reads one APDU at the start of a buffer and reports how
// many bytes it took, so the stream layer can walk a TCP byte stream APDU
// by APDU (a segment may carry several); pdu.ErrShort tells "wait for more
// bytes" apart from malformed input.
//
// The field sizes are the standard ones of IEC 60870-5-104 (two-octet
// cause of transmission, two-octet common address, three-octet
// information object address). An ASDU of a type the standard defines
// must be exactly as long as its objects; reserved, private and
// variable-length types are taken as they come, so a policy can still
// name them by number.
package iec104

// Sizes of the framing, and the well-known port.
const (
	Start      = 0x68 // the first octet of every APDU
	APCILen    = 6    // start, length and the four control octets
	MinLength  = 4    // the length octet of an S or U frame: the control field alone
	MaxLength  = 253  // the largest length octet
	MaxAPDULen = 2 + MaxLength
	HeaderLen  = 6 // data unit identifier: type, VSQ, cause (2), common address (2)
	IOALen     = 3
	Port       = 2404
)

// Format is an APDU's frame format, told by its first control octet.
type Format uint8

const (
	FormatNone Format = iota // the APDU could not be framed
	FormatI                  // information transfer: numbered, carries an ASDU
	FormatS                  // numbered supervisory: acknowledges I frames
	FormatU                  // unnumbered control: STARTDT, STOPDT, TESTFR
)

// String returns the format's letter as logs and policies write it.
func (f Format) String() string {
	switch f {
	case FormatI:
		return "i"
	case FormatS:
		return "s"
	case FormatU:
		return "u"
	}
	return ""
}

// UFunc is the function of a U frame: the bit of the first control octet
// that is set (exactly one is).
type UFunc uint8

const (
	StartDTAct UFunc = 0x04
	StartDTCon UFunc = 0x08
	StopDTAct  UFunc = 0x10
	StopDTCon  UFunc = 0x20
	TestFRAct  UFunc = 0x40
	TestFRCon  UFunc = 0x80
)

// String names the function as logs write it ("startdt_act"), or returns
// "" for a value that is not one function.
func (u UFunc) String() string {
	switch u {
	case StartDTAct:
		return "startdt_act"
	case StartDTCon:
		return "startdt_con"
	case StopDTAct:
		return "stopdt_act"
	case StopDTCon:
		return "stopdt_con"
	case TestFRAct:
		return "testfr_act"
	case TestFRCon:
		return "testfr_con"
	}
	return ""
}

// Size returns the length on the wire of the APDU at the start of b as
// its length octet declares it, or 0 when b holds fewer than two octets.
// It does not check the start octet or the length's bounds: Parse does.
func Size(b []byte) int {
	if len(b) < 2 {
		return 0
	}
	return 2 + int(b[1])
}
