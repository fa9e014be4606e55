package iec104

import (
	"math/bits"

	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// What is malformed in a message (besides pdu.ErrShort: incomplete, wait
// for more bytes); the text suits malformed-iec104 log reasons.
const (
	ErrBadStart   pdu.Error = "bad-start"   // the first octet is not 0x68
	ErrBadLength  pdu.Error = "bad-length"  // the length octet is below 4 or above 253
	ErrBadControl pdu.Error = "bad-control" // reserved control bits set, not one U function, or an S/U frame with data
	ErrBadASDU    pdu.Error = "bad-asdu"    // header cut short, type or cause 0, no objects, or a length the type's objects do not fill
)

// APDU is the decoded frame. Parse overwrites every field.
type APDU struct {
	Length uint8 // the length octet: control field and ASDU
	Format Format
	UFunc  UFunc // U frames

	// Sequence numbers (15 bits): SendSeq in I frames, RecvSeq in I and S
	// frames.
	SendSeq, RecvSeq uint16

	// The ASDU of an I frame.
	TypeID     uint8
	SQ         bool  // the objects are a sequence of elements from one address
	Objects    uint8 // number of objects or elements (7 bits)
	Cause      uint8 // cause of transmission (6 bits)
	Negative   bool  // P/N: negative confirmation
	Test       bool  // T: test ASDU
	Originator uint8 // originator address
	CommonAddr uint16
	IOA        uint32 // the first information object address (24 bits)
}

// Parse decodes the APDU at the start of b and returns its length on the
// wire (2 + the length octet); bytes after it are left for the next call.
//
// pdu.ErrShort means b holds only a prefix of a valid-looking APDU (the
// stream layer waits for more). ErrBadStart and ErrBadLength mean the
// bytes cannot be framed; n is then 0. For the other errors the framing
// was sound: n is the APDU's length, so a caller may skip it, and the
// fields read so far (Length, Format, and for an I frame the data unit
// identifier as far as it is present) are set.
func Parse(b []byte, a *APDU) (n int, err pdu.Error) {
	*a = APDU{}
	if len(b) == 0 {
		return 0, pdu.ErrShort
	}
	if b[0] != Start {
		return 0, ErrBadStart
	}
	if len(b) < 2 {
		return 0, pdu.ErrShort
	}
	if b[1] < MinLength || b[1] > MaxLength {
		return 0, ErrBadLength
	}
	n = Size(b)
	if len(b) < n {
		return 0, pdu.ErrShort
	}
	a.Length = b[1]
	c0, c1, c2, c3 := b[2], b[3], b[4], b[5]
	switch {
	case c0&1 == 0:
		a.Format = FormatI
		a.SendSeq = uint16(c0)>>1 | uint16(c1)<<7
		a.RecvSeq = uint16(c2)>>1 | uint16(c3)<<7
		if c2&1 != 0 {
			return n, ErrBadControl
		}
		return n, asdu(b[APCILen:n], a)
	case c0&3 == 1:
		a.Format = FormatS
		a.RecvSeq = uint16(c2)>>1 | uint16(c3)<<7
		if c0 != 1 || c1 != 0 || c2&1 != 0 || n != APCILen {
			return n, ErrBadControl
		}
	default:
		a.Format = FormatU
		a.UFunc = UFunc(c0 &^ 3)
		if bits.OnesCount8(c0&^3) != 1 || c1|c2|c3 != 0 || n != APCILen {
			return n, ErrBadControl
		}
	}
	return n, pdu.OK
}

// asdu decodes the data unit identifier and the first object address, and
// checks that the ASDU is as long as its type's objects make it.
func asdu(b []byte, a *APDU) pdu.Error {
	if len(b) < HeaderLen {
		return ErrBadASDU
	}
	a.TypeID = b[0]
	a.SQ, a.Objects = b[1]&0x80 != 0, b[1]&0x7f
	a.Cause, a.Negative, a.Test = b[2]&0x3f, b[2]&0x40 != 0, b[2]&0x80 != 0
	a.Originator = b[3]
	a.CommonAddr = uint16(b[4]) | uint16(b[5])<<8
	if len(b) < HeaderLen+IOALen {
		return ErrBadASDU
	}
	a.IOA = uint32(b[6]) | uint32(b[7])<<8 | uint32(b[8])<<16
	if a.TypeID == 0 || a.Cause == 0 || a.Objects == 0 {
		return ErrBadASDU
	}
	if a.TypeID == F_SG_NA_1 {
		return segment(b, a)
	}
	ti := &types[a.TypeID]
	if !ti.fixed {
		return pdu.OK // reserved, private or of variable length
	}
	n, elem := int(a.Objects), int(ti.elem)
	want := HeaderLen + n*(IOALen+elem)
	if a.SQ {
		want = HeaderLen + IOALen + n*elem
	}
	if len(b) != want {
		return ErrBadASDU
	}
	return pdu.OK
}

// segment checks a file segment: one object whose element is the file
// name (2), section name (1), segment length (1) and that many octets.
func segment(b []byte, a *APDU) pdu.Error {
	const fixed = HeaderLen + IOALen + 4
	if a.SQ || a.Objects != 1 || len(b) < fixed {
		return ErrBadASDU
	}
	if len(b) != fixed+int(b[fixed-1]) {
		return ErrBadASDU
	}
	return pdu.OK
}
