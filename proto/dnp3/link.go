// Package dnp3 decodes DNP3 (IEEE 1815) link frames as carried over TCP
// and UDP port 20000, for the policy engine: the link header, the
// transport header, and on the first segment of a fragment the
// application header and, for requests, the object headers.
//
// Decoding is allocation-free: LinkHeader is a view over the wire bytes
// (in the style of gVisor's header package) and Parse fills a caller-owned
// Frame, copying the user data into the Frame's own fixed buffer with the
// block CRCs stripped. Every CRC is verified. Parse reads one link frame
// at the start of a buffer and reports how many bytes it took; pdu.ErrShort
// tells "wait for more bytes" apart from malformed input.
//
// DNP3 frames say their own direction (the DIR and PRM bits, response
// function codes), so unlike modbus.Parse this Parse takes no direction;
// the caller compares the frame's with the TCP flow's.
//
// A request's application fragment may span several transport segments
// (FIR on the first, FIN on the last). Parse reads the application header
// and object headers of FIR segments only, and reports whether it saw all
// of them; a stream layer that reassembles segments can hand the whole
// fragment to ParseApp.
package dnp3

import "encoding/binary"

// Sizes of the link layer.
const (
	HeaderLen    = 10  // start, length, control, destination, source, CRC
	MaxUserData  = 250 // a length byte of 255 less control and addresses
	MaxFrameLen  = 292 // header and 250 data bytes in 16 blocks of up to 16 + CRC
	blockLen     = 16
	minLength    = 5 // control, destination and source
	Port         = 20000
	start0       = 0x05
	start1       = 0x64
	headerCRCOff = 8
)

// Link control bits.
const (
	CtrlDIR = 0x80 // frame from the master
	CtrlPRM = 0x40 // primary (initiating) station
	CtrlFCB = 0x20 // frame count bit (primary)
	CtrlFCV = 0x10 // frame count valid (primary); DFC in a secondary frame
)

// LinkHeader is a view of the 10-byte link header. Its accessors do not
// check bounds; use them on a slice at least HeaderLen bytes long.
type LinkHeader []byte

// Length counts control, addresses and user data, CRCs excluded.
func (h LinkHeader) Length() uint8 { return h[2] }

// Control holds DIR, PRM, FCB, FCV/DFC and the link function code.
func (h LinkHeader) Control() uint8 { return h[3] }

// Destination is the receiving station's address (little-endian on the wire).
func (h LinkHeader) Destination() uint16 { return binary.LittleEndian.Uint16(h[4:]) }

// Source is the sending station's address.
func (h LinkHeader) Source() uint16 { return binary.LittleEndian.Uint16(h[6:]) }

// CRC is the header checksum as transmitted.
func (h LinkHeader) CRC() uint16 { return binary.LittleEndian.Uint16(h[headerCRCOff:]) }

// FrameLen returns a frame's length on the wire for its link length field:
// the header, the user data and one CRC per 16-byte block. It returns 0
// for a length below 5.
func FrameLen(length uint8) int {
	if length < minLength {
		return 0
	}
	ud := int(length) - minLength
	return HeaderLen + ud + 2*((ud+blockLen-1)/blockLen)
}

// Link function codes, primary (PRM set) and secondary.
const (
	LinkResetLinkStates     = 0  // primary
	LinkResetUserProcess    = 1  // primary, obsolete
	LinkTestLinkStates      = 2  // primary
	LinkConfirmedUserData   = 3  // primary
	LinkUnconfirmedUserData = 4  // primary
	LinkRequestLinkStatus   = 9  // primary
	LinkAck                 = 0  // secondary
	LinkNack                = 1  // secondary
	LinkStatus              = 11 // secondary
	LinkNotFunctioning      = 14 // secondary, obsolete
	LinkNotSupported        = 15 // secondary
)

var primaryLinkNames = [16]string{
	LinkResetLinkStates:     "reset_link_states",
	LinkResetUserProcess:    "reset_user_process",
	LinkTestLinkStates:      "test_link_states",
	LinkConfirmedUserData:   "confirmed_user_data",
	LinkUnconfirmedUserData: "unconfirmed_user_data",
	LinkRequestLinkStatus:   "request_link_status",
}

var secondaryLinkNames = [16]string{
	LinkAck:            "ack",
	LinkNack:           "nack",
	LinkStatus:         "link_status",
	LinkNotFunctioning: "link_not_functioning",
	LinkNotSupported:   "link_not_supported",
}

// LinkFunctionName names the link function of a control byte (the PRM bit
// decides which table), or returns "" for an undefined one.
func LinkFunctionName(control uint8) string {
	if control&CtrlPRM != 0 {
		return primaryLinkNames[control&0x0f]
	}
	return secondaryLinkNames[control&0x0f]
}

// carriesData reports whether a link function is one that carries user
// data; the other defined functions carry none.
func carriesData(control uint8) bool {
	f := control & 0x0f
	return control&CtrlPRM != 0 && (f == LinkConfirmedUserData || f == LinkUnconfirmedUserData)
}
