package dnp3

import (
	"encoding/binary"

	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// What is malformed in a frame (besides pdu.ErrShort: incomplete, wait
// for more bytes); the text suits malformed-dnp3 log reasons.
const (
	ErrBadStart        pdu.Error = "bad-start"         // not 0x05 0x64
	ErrBadLength       pdu.Error = "bad-length"        // length below 5, or user data where the link function has none (or none where it needs some)
	ErrBadCRC          pdu.Error = "bad-crc"           // header or data block checksum
	ErrBadLinkFunction pdu.Error = "bad-link-function" // undefined link function code
	ErrBadApp          pdu.Error = "bad-app"           // first segment too short for the application header
	ErrBadObject       pdu.Error = "bad-object"        // malformed object header, or object data cut or overrunning
)

// Transport header bits.
const (
	TransportFIN = 0x80
	TransportFIR = 0x40
	transportSeq = 0x3f
)

// Frame is one decoded link frame. Parse overwrites every field.
type Frame struct {
	Length       uint8 // link length field
	Control      uint8
	LinkFunction uint8 // Control & 0x0F; named by LinkFunctionName(Control)
	Destination  uint16
	Source       uint16

	// LinkOnly marks a frame without user data: reset link states, test
	// link, request link status, and the secondary ack, nack, status.
	LinkOnly bool

	Transport uint8 // FIN, FIR and sequence; 0 when LinkOnly

	// HasApp is set on FIR segments: App holds the application header and,
	// for requests, the object headers found in this segment.
	HasApp bool
	App    App

	data    [MaxUserData]byte
	dataLen uint8
}

// FromMaster reports the DIR bit: the frame travels from the master.
func (f *Frame) FromMaster() bool { return f.Control&CtrlDIR != 0 }

// Primary reports the PRM bit: the frame initiates a link transaction.
func (f *Frame) Primary() bool { return f.Control&CtrlPRM != 0 }

// FIR reports the first segment of an application fragment.
func (f *Frame) FIR() bool { return f.Transport&TransportFIR != 0 }

// FIN reports the last segment of an application fragment.
func (f *Frame) FIN() bool { return f.Transport&TransportFIN != 0 }

// Seq is the transport sequence number.
func (f *Frame) Seq() uint8 { return f.Transport & transportSeq }

// UserData returns the frame's user data with the block CRCs stripped:
// the transport header followed by this segment's application bytes. It
// aliases the Frame and is overwritten by the next Parse.
func (f *Frame) UserData() []byte { return f.data[:f.dataLen] }

// Segment returns this segment's application bytes (user data less the
// transport header), the unit a stream layer concatenates from FIR to FIN.
func (f *Frame) Segment() []byte {
	if f.dataLen == 0 {
		return nil
	}
	return f.data[1:f.dataLen]
}

// Parse decodes the link frame at the start of b and returns its length
// on the wire; bytes after it are left for the next call.
//
// pdu.ErrShort means b holds only a prefix of a valid-looking frame: the
// start bytes, length, header CRC and link function are checked as soon as
// they are present, so a malformed header is reported without waiting. For
// errors found after the whole frame is present (a data block CRC, the
// application or object layer) n is the frame's length, so a caller may
// skip it, and the link fields are set; otherwise n is 0.
func Parse(b []byte, f *Frame) (n int, err pdu.Error) {
	f.reset()
	if len(b) >= 1 && b[0] != start0 || len(b) >= 2 && b[1] != start1 {
		return 0, ErrBadStart
	}
	if len(b) >= 3 && b[2] < minLength {
		return 0, ErrBadLength
	}
	if len(b) < HeaderLen {
		return 0, pdu.ErrShort
	}
	h := LinkHeader(b)
	if Checksum(b[:headerCRCOff]) != h.CRC() {
		return 0, ErrBadCRC
	}
	ctrl := h.Control()
	if LinkFunctionName(ctrl) == "" {
		return 0, ErrBadLinkFunction
	}
	if carriesData(ctrl) != (h.Length() > minLength) {
		return 0, ErrBadLength
	}
	n = FrameLen(h.Length())
	if len(b) < n {
		return 0, pdu.ErrShort
	}
	f.Length, f.Control, f.LinkFunction = h.Length(), ctrl, ctrl&0x0f
	f.Destination, f.Source = h.Destination(), h.Source()

	// Strip the block CRCs, checking each.
	ud := int(f.Length) - minLength
	for off := HeaderLen; ud > 0; {
		k := min(ud, blockLen)
		block := b[off : off+k]
		if Checksum(block) != binary.LittleEndian.Uint16(b[off+k:]) {
			return n, ErrBadCRC
		}
		copy(f.data[f.dataLen:], block)
		f.dataLen += uint8(k)
		off += k + 2
		ud -= k
	}
	if f.dataLen == 0 {
		f.LinkOnly = true
		return n, pdu.OK
	}
	f.Transport = f.data[0]
	if !f.FIR() {
		return n, pdu.OK // a continuation: its bytes mean nothing on their own
	}
	f.HasApp = true
	return n, f.App.parse(f.data[1:f.dataLen], !f.FIN())
}

// reset clears every field but the data buffer, which dataLen bounds.
func (f *Frame) reset() {
	f.Length, f.Control, f.LinkFunction = 0, 0, 0
	f.Destination, f.Source = 0, 0
	f.LinkOnly, f.Transport, f.HasApp = false, 0, false
	f.App.reset()
	f.dataLen = 0
}
