package dnp3

import (
	"encoding/binary"

	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// MaxObjects is how many object headers an App holds.
const MaxObjects = 16

// Application control bits.
const (
	AppFIR = 0x80
	AppFIN = 0x40
	AppCON = 0x20 // confirmation requested
	AppUNS = 0x10 // unsolicited
	appSeq = 0x0f
)

// App is a decoded application header and the object headers of a request.
type App struct {
	Control  uint8 // FIR, FIN, CON, UNS and sequence
	Function uint8
	IIN      uint16 // internal indications of a response: IIN1<<8 | IIN2

	// Objects[:NumObjects] are the request's object headers in order, up
	// to MaxObjects. Responses are not walked.
	NumObjects int
	Objects    [MaxObjects]ObjectHeader

	// ObjectsComplete is set when Objects holds every object header of a
	// whole fragment: the walk reached its exact end, found no more than
	// MaxObjects headers and no object whose size it does not know. A
	// policy matching on objects treats an incomplete list as unparsed.
	ObjectsComplete bool
}

// Seq is the application sequence number.
func (a *App) Seq() uint8 { return a.Control & appSeq }

// ObjectHeader is one object header: group, variation, qualifier and the
// range it selects.
type ObjectHeader struct {
	Group, Variation uint8
	Qualifier        uint8  // bit 7 reserved, prefix code in 6-4, range code in 3-0
	Start, Stop      uint32 // range codes 0-5 (start-stop)
	Count            uint32 // range codes 7-9 and 0xB (count)
}

// Qualifier range codes.
const (
	Range1StartStop = 0x0
	Range2StartStop = 0x1
	Range4StartStop = 0x2
	RangeAll        = 0x6
	Range1Count     = 0x7
	Range2Count     = 0x8
	Range4Count     = 0x9
	RangeFreeFormat = 0xb
)

// RangeCode is the qualifier's range specifier.
func (h *ObjectHeader) RangeCode() uint8 { return h.Qualifier & 0x0f }

// PrefixCode is the qualifier's object prefix code: 0 none, 1-3 an index
// of 1, 2 or 4 bytes, 4-6 an object size of 1, 2 or 4 bytes.
func (h *ObjectHeader) PrefixCode() uint8 { return h.Qualifier >> 4 & 7 }

// N is the number of objects the header selects (0 for "all").
func (h *ObjectHeader) N() uint64 {
	switch h.RangeCode() {
	case RangeAll:
		return 0
	case Range1Count, Range2Count, Range4Count, RangeFreeFormat:
		return uint64(h.Count)
	}
	return uint64(h.Stop) - uint64(h.Start) + 1
}

// ParseApp decodes a whole application fragment (the application bytes of
// its transport segments from FIR to FIN, concatenated) into a.
func ParseApp(frag []byte, a *App) pdu.Error {
	a.reset()
	return a.parse(frag, false)
}

func (a *App) reset() {
	a.Control, a.Function, a.IIN = 0, 0, 0
	a.NumObjects, a.ObjectsComplete = 0, false
	a.Objects = [MaxObjects]ObjectHeader{}
}

// parse reads the application header and walks a request's objects. With
// partial set, b is only the first segment of a fragment: running out of
// bytes ends the walk without an error.
func (a *App) parse(b []byte, partial bool) pdu.Error {
	if len(b) < 2 {
		return ErrBadApp
	}
	a.Control, a.Function = b[0], b[1]
	if IsResponse(a.Function) {
		if len(b) < 4 {
			return ErrBadApp
		}
		a.IIN = binary.BigEndian.Uint16(b[2:])
		return pdu.OK
	}
	if int(a.Function) >= len(requestData) || requestData[a.Function] == dataUnknown {
		return pdu.OK // an undefined function: its objects cannot be walked
	}
	return a.walk(b[2:], partial)
}

// walk reads object headers and steps over their data until b ends.
func (a *App) walk(b []byte, partial bool) pdu.Error {
	truncated := pdu.OK // what running out of bytes means
	if !partial {
		truncated = ErrBadObject
	}
	overflow := false
	for len(b) > 0 {
		if len(b) < 3 {
			return truncated
		}
		h := ObjectHeader{Group: b[0], Variation: b[1], Qualifier: b[2]}
		b = b[3:]
		w := rangeWidth[h.RangeCode()]
		if h.Qualifier&0x80 != 0 || w < 0 || !prefixAllowed(h.PrefixCode(), h.RangeCode()) {
			return ErrBadObject
		}
		if len(b) < w {
			return truncated
		}
		switch h.RangeCode() {
		case Range1StartStop, 0x3:
			h.Start, h.Stop = uint32(b[0]), uint32(b[1])
		case Range2StartStop, 0x4:
			h.Start, h.Stop = uint32(binary.LittleEndian.Uint16(b)), uint32(binary.LittleEndian.Uint16(b[2:]))
		case Range4StartStop, 0x5:
			h.Start, h.Stop = binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:])
		case Range1Count, RangeFreeFormat:
			h.Count = uint32(b[0])
		case Range2Count:
			h.Count = uint32(binary.LittleEndian.Uint16(b))
		case Range4Count:
			h.Count = binary.LittleEndian.Uint32(b)
		}
		b = b[w:]
		if h.Start > h.Stop {
			return ErrBadObject
		}
		if a.NumObjects < MaxObjects {
			a.Objects[a.NumObjects] = h
			a.NumObjects++
		} else {
			overflow = true
		}
		rest, err := skipData(b, &h, a.Function)
		switch {
		case err == errUnknownSize:
			return pdu.OK // ObjectsComplete stays false
		case err == pdu.ErrShort:
			return truncated
		case err != pdu.OK:
			return err
		}
		b = rest
	}
	a.ObjectsComplete = !partial && !overflow
	return pdu.OK
}

// rangeWidth is the size of the range field per range code; -1 marks the
// reserved codes. Codes 3-5 are the obsolete virtual-address start-stop.
var rangeWidth = [16]int{1 * 2, 2 * 2, 4 * 2, 1 * 2, 2 * 2, 4 * 2, 0, 1, 2, 4, -1, 1, -1, -1, -1, -1}

// prefixAllowed checks a prefix code against a range code: index prefixes
// go with counts, size prefixes with counts or the free format (which
// needs one), "all" selects no objects to prefix, and code 7 is reserved.
func prefixAllowed(prefix, rng uint8) bool {
	count := rng == Range1Count || rng == Range2Count || rng == Range4Count
	switch {
	case prefix == 7:
		return false
	case rng == RangeFreeFormat:
		return prefix >= 4
	case prefix >= 1:
		return count
	}
	return true
}

// prefixWidth is the size of the index or object size prefix per code.
var prefixWidth = [8]int{0, 1, 2, 4, 1, 2, 4, 0}

// errUnknownSize ends a walk at an object whose size is not known.
const errUnknownSize pdu.Error = "unknown-size"

// skipData steps over the objects a header selects and returns what
// follows them; pdu.ErrShort when b ends inside them.
func skipData(b []byte, h *ObjectHeader, fc uint8) ([]byte, pdu.Error) {
	n, pw := h.N(), prefixWidth[h.PrefixCode()]
	if n == 0 {
		return b, pdu.OK // "all", or a count of 0: no data whatever the object
	}
	if h.PrefixCode() >= 4 { // each object carries its own size
		for i := uint64(0); i < n; i++ {
			if len(b) < pw {
				return nil, pdu.ErrShort
			}
			size := uint64(b[0])
			switch pw {
			case 2:
				size = uint64(binary.LittleEndian.Uint16(b))
			case 4:
				size = uint64(binary.LittleEndian.Uint32(b))
			}
			if uint64(len(b)-pw) < size {
				return nil, pdu.ErrShort
			}
			b = b[pw+int(size):]
		}
		return b, pdu.OK
	}
	bits := objectBits(fc, h.Group, h.Variation)
	switch {
	case bits == sizeUnknown:
		return nil, errUnknownSize
	case bits == sizeAttribute: // type, length, value
		for i := uint64(0); i < n; i++ {
			if len(b) < pw+2 || len(b)-pw-2 < int(b[pw+1]) {
				return nil, pdu.ErrShort
			}
			b = b[pw+2+int(b[pw+1]):]
		}
		return b, pdu.OK
	case pw > 0 && bits%8 != 0:
		return nil, errUnknownSize // packed bits behind an index: not defined
	}
	var total uint64
	if pw > 0 {
		total = n * uint64(pw+bits/8)
	} else {
		total = (n*uint64(bits) + 7) / 8
	}
	if total > uint64(len(b)) {
		return nil, pdu.ErrShort
	}
	return b[total:], pdu.OK
}
