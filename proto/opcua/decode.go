package opcua

import (
	"encoding/binary"

	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// dec reads the OPC UA binary encoding (Part 6, 5.2: little endian,
// length-prefixed strings) from a chunk of which b holds a prefix. size is
// the chunk's declared length: a field running past b but not past size
// sets out (the caller waits for more bytes); a length that runs past
// size, or a value the encoding forbids, sets bad. Reads after either
// return zero values, so a decoder checks once at its end.
type dec struct {
	b    []byte
	i    int
	size int
	out  bool
	bad  pdu.Error
	past bool // bad because a field runs past the chunk's end
}

// failed reports whether a read went wrong.
func (d *dec) failed() bool { return d.out || d.bad != pdu.OK }

// need reports whether n more bytes are there, noting why not.
func (d *dec) need(n int) bool {
	if d.failed() {
		return false
	}
	if n < 0 || d.i+n > d.size {
		d.bad, d.past = ErrBadBody, true
		return false
	}
	if d.i+n > len(d.b) {
		d.out = true
		return false
	}
	return true
}

func (d *dec) skip(n int) {
	if d.need(n) {
		d.i += n
	}
}

func (d *dec) u8() uint8 {
	if !d.need(1) {
		return 0
	}
	d.i++
	return d.b[d.i-1]
}

func (d *dec) u16() uint16 {
	if !d.need(2) {
		return 0
	}
	d.i += 2
	return binary.LittleEndian.Uint16(d.b[d.i-2:])
}

func (d *dec) u32() uint32 {
	if !d.need(4) {
		return 0
	}
	d.i += 4
	return binary.LittleEndian.Uint32(d.b[d.i-4:])
}

// bytes reads a String or ByteString: an Int32 length (-1: null) and the
// bytes. It returns a view into b and the length as sent.
func (d *dec) bytes() ([]byte, int32) { return d.bytesMax(d.size) }

// length reads a String's or ByteString's length and checks it fits the
// chunk, without needing its bytes.
func (d *dec) length() int32 {
	n := int32(d.u32())
	switch {
	case d.failed():
	case n < -1:
		d.bad = ErrBadString
	case int(n) > d.size-d.i:
		d.bad, d.past = ErrBadString, true
	}
	return n
}

// bytesMax is bytes for a string of at most max bytes.
func (d *dec) bytesMax(max int) ([]byte, int32) {
	n := int32(d.u32())
	if d.failed() || n == -1 {
		return nil, n
	}
	if n < -1 || int(n) > max {
		d.bad = ErrBadString
		return nil, n
	}
	if int(n) > d.size-d.i {
		d.bad, d.past = ErrBadString, true
		return nil, n
	}
	if !d.need(int(n)) {
		return nil, n
	}
	d.i += int(n)
	return d.b[d.i-int(n) : d.i], n
}

// NodeId encodings (Part 6, 5.2.2.9), in the low six bits of the first
// byte; the high two flag an ExpandedNodeId's namespace URI and server
// index.
const (
	nodeTwoByte   = 0x00
	nodeFourByte  = 0x01
	nodeNumeric   = 0x02
	nodeString    = 0x03
	nodeGUID      = 0x04
	nodeByteStr   = 0x05
	nodeURIFlag   = 0x80
	nodeIndexFlag = 0x40
)

// nodeID reads a NodeId (expanded when expanded is set) and returns its
// namespace index and, for the numeric encodings, its identifier.
func (d *dec) nodeID(expanded bool) (ns uint16, id uint32, numeric bool) {
	enc := d.u8()
	if d.failed() {
		return 0, 0, false
	}
	flags := enc & (nodeURIFlag | nodeIndexFlag)
	if flags != 0 && !expanded {
		d.bad = ErrBadNodeID
		return 0, 0, false
	}
	switch enc &^ flags {
	case nodeTwoByte:
		id, numeric = uint32(d.u8()), true
	case nodeFourByte:
		ns, id, numeric = uint16(d.u8()), uint32(d.u16()), true
	case nodeNumeric:
		ns, id, numeric = d.u16(), d.u32(), true
	case nodeString, nodeByteStr:
		ns = d.u16()
		d.bytes()
	case nodeGUID:
		ns = d.u16()
		d.skip(16)
	default:
		d.bad = ErrBadNodeID
		return 0, 0, false
	}
	if flags&nodeURIFlag != 0 {
		d.bytes()
	}
	if flags&nodeIndexFlag != 0 {
		d.u32()
	}
	return ns, id, numeric
}

// extensionObject skips an ExtensionObject: a NodeId and an encoded body.
func (d *dec) extensionObject() {
	d.nodeID(false)
	switch d.u8() {
	case 0: // no body
	case 1, 2: // ByteString or XmlElement body
		d.bytes()
	default:
		if !d.failed() {
			d.bad = ErrBadBody
		}
	}
}

// maxDiagDepth bounds nested DiagnosticInfos; stacks refuse far less deep
// ones, and the bound keeps a crafted chain from costing more than its
// bytes.
const maxDiagDepth = 16

// diagnosticInfo skips a DiagnosticInfo and the inner ones it nests.
func (d *dec) diagnosticInfo() {
	for depth := 0; ; depth++ {
		if depth == maxDiagDepth {
			d.bad = ErrBadBody
			return
		}
		mask := d.u8()
		for bit := uint8(0x01); bit <= 0x08; bit <<= 1 { // symbolic id, namespace, localized text, locale
			if mask&bit != 0 {
				d.u32()
			}
		}
		if mask&0x10 != 0 { // additional info
			d.bytes()
		}
		if mask&0x20 != 0 { // inner status code
			d.u32()
		}
		if mask&0x40 == 0 || d.failed() {
			return
		}
	}
}

// stringArray skips an array of Strings: an Int32 count (-1: null), each
// String at least its 4-byte length.
func (d *dec) stringArray() {
	n := int32(d.u32())
	if d.failed() || n == -1 {
		return
	}
	if n < -1 {
		d.bad = ErrBadBody
		return
	}
	if int(n) > (d.size-d.i)/4 {
		d.bad, d.past = ErrBadBody, true
		return
	}
	for range n {
		if d.bytes(); d.failed() {
			return
		}
	}
}

// requestHeader skips a RequestHeader (Part 4, 7.28).
func (d *dec) requestHeader() {
	d.nodeID(false)   // authentication token
	d.skip(8 + 4 + 4) // timestamp, request handle, return diagnostics
	d.bytes()         // audit entry id
	d.skip(4)         // timeout hint
	d.extensionObject()
}

// responseHeader reads a ResponseHeader (Part 4, 7.29) and returns its
// service result.
func (d *dec) responseHeader() uint32 {
	d.skip(8 + 4) // timestamp, request handle
	result := d.u32()
	d.diagnosticInfo()
	d.stringArray()
	d.extensionObject()
	return result
}
