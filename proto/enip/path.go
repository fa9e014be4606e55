package enip

import "github.com/conduit-ot/conduit/proto/internal/pdu"

// Padded EPATH segment types (the top three bits of the segment byte).
const (
	segPort     = 0
	segLogical  = 1
	segNetwork  = 2
	segSymbolic = 3
	segData     = 4

	// Logical segment types (bits 4-2).
	logClass     = 0
	logInstance  = 1
	logMember    = 2
	logConnPoint = 3
	logAttribute = 4
	logSpecial   = 5
	logServiceID = 6

	dataSimple    = 0x80
	dataANSISymbl = 0x91

	electronicKeyFormat = 4
)

// parsePath walks a padded EPATH (request paths are padded: 16- and 32-bit
// logical values and odd-length names are followed by a pad byte) and
// records the first class, instance and attribute and the first tag name.
// Every segment must lie wholly inside the path.
func parsePath(path []byte, m *Msg) pdu.Error {
	for i := 0; i < len(path); {
		n, err := segment(path[i:], m)
		if err != pdu.OK {
			return err
		}
		i += n
	}
	if m.Flags&(HasClass|HasSymbol) == HasSymbol {
		m.Class = ClassSymbol
	}
	return pdu.OK
}

// segment decodes the segment at the start of s and returns its size.
// Request paths are counted in words and every padded segment is a whole
// number of words, so s holds at least two bytes; the guard keeps that an
// assumption this function does not depend on.
func segment(s []byte, m *Msg) (int, pdu.Error) {
	if len(s) < 2 {
		return 0, ErrCIPPath
	}
	seg := s[0]
	var n int
	switch seg >> 5 {
	case segPort:
		// Port id in the low nibble (15: a 16-bit port follows), bit 4: the
		// link address size is given (else the address is one byte).
		n = 2
		if seg&0x10 != 0 {
			n = 2 + int(s[1])
		}
		if seg&0x0f == 0x0f {
			n += 2
		}
		n += n & 1
		m.Flags |= Routed
	case segLogical:
		return logical(s, m)
	case segNetwork:
		// Subtypes 0x10-0x1f carry a size in words; the others one byte.
		n = 2
		if seg&0x10 != 0 {
			n = 2 + 2*int(s[1])
		}
	case segSymbolic:
		size := int(seg & 0x1f)
		if size == 0 { // extended formats: not used in request paths
			return 0, ErrCIPPath
		}
		n = 1 + size
		n += n & 1
	case segData:
		switch seg {
		case dataSimple:
			n = 2 + 2*int(s[1])
		case dataANSISymbl:
			size := int(s[1])
			n = 2 + size + size&1
			if len(s) >= n && m.Flags&HasSymbol == 0 {
				m.Flags |= HasSymbol
				m.Symbol = s[2 : 2+size : 2+size]
			}
		default:
			return 0, ErrCIPPath
		}
	default:
		return 0, ErrCIPPath
	}
	if len(s) < n {
		return 0, ErrCIPPath
	}
	return n, pdu.OK
}

// logical decodes a logical segment: 8-bit values follow the segment byte,
// 16- and 32-bit values follow a pad byte.
func logical(s []byte, m *Msg) (int, pdu.Error) {
	typ, format := (s[0]>>2)&7, s[0]&3
	if typ == logSpecial {
		// Electronic key: key format 4, then 8 bytes of key data.
		if format != 0 || len(s) < 10 || s[1] != electronicKeyFormat {
			return 0, ErrCIPPath
		}
		return 10, pdu.OK
	}
	var n int
	var v uint32
	switch format {
	case 0:
		n = 2
		if len(s) >= n {
			v = uint32(s[1])
		}
	case 1:
		n = 4
		if len(s) >= n {
			v = uint32(le16(s[2:]))
		}
	case 2:
		n = 6
		if len(s) >= n {
			v = le32(s[2:])
		}
	default:
		return 0, ErrCIPPath
	}
	if len(s) < n || (typ == logServiceID && format != 0) || typ == 7 {
		return 0, ErrCIPPath
	}
	switch typ {
	case logClass:
		if m.Flags&HasClass != 0 {
			m.Flags |= MultiClass
		} else {
			m.Flags |= HasClass
			m.Class = v
		}
	case logInstance:
		if m.Flags&HasInstance == 0 {
			m.Flags |= HasInstance
			m.Instance = v
		}
	case logAttribute:
		if m.Flags&HasAttribute == 0 {
			m.Flags |= HasAttribute
			m.Attribute = v
		}
	}
	return n, pdu.OK
}
