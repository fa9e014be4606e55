package s7

import (
	"encoding/binary"

	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// TPKT (RFC 1006): version, reserved, big-endian length of the whole TPKT.
const (
	TPKTLen     = 4
	TPKTVersion = 3
	COTPDataLen = 3 // LI, DT code, EOT and TPDU number: the smallest TPDU
)

// TPKT is a view of a TPKT header; it must hold TPKTLen bytes.
type TPKT []byte

func (t TPKT) Version() uint8  { return t[0] }
func (t TPKT) Length() uint16  { return binary.BigEndian.Uint16(t[2:]) }
func (t TPKT) Payload() []byte { return t[TPKTLen:] }

// COTP (ISO 8073) TPDU codes: the high nibble of the second byte.
const (
	COTPConnectRequest    uint8 = 0xe0
	COTPConnectConfirm    uint8 = 0xd0
	COTPDisconnectRequest uint8 = 0x80
	COTPDisconnectConfirm uint8 = 0xc0
	COTPData              uint8 = 0xf0
	COTPExpeditedData     uint8 = 0x10
	COTPDataAck           uint8 = 0x60
	COTPExpeditedAck      uint8 = 0x20
	COTPReject            uint8 = 0x50
	COTPError             uint8 = 0x70

	cotpEOT = 0x80

	// CR/CC variable-part parameter codes.
	cotpParamTPDUSize = 0xc0
	cotpParamSrcTSAP  = 0xc1
	cotpParamDstTSAP  = 0xc2
)

// cotpMinLI is the smallest length indicator (header bytes after the LI
// byte) of each TPDU type; 0 marks an unknown code.
var cotpMinLI = [16]uint8{
	COTPConnectRequest >> 4: 6, COTPConnectConfirm >> 4: 6, COTPDisconnectRequest >> 4: 6,
	COTPDisconnectConfirm >> 4: 5, COTPData >> 4: 2, COTPExpeditedData >> 4: 4,
	COTPDataAck >> 4: 4, COTPExpeditedAck >> 4: 4, COTPReject >> 4: 4, COTPError >> 4: 4,
}

// COTP holds the decoded COTP header.
type COTP struct {
	Type           uint8 // TPDU code, e.g. COTPData
	EOT            bool  // DT: this TPDU ends the TSDU
	TPDUNumber     uint8 // DT
	DstRef, SrcRef uint16
	Class          uint8  // CR/CC: class and options
	TPDUSize       uint8  // CR/CC: log2 of the largest TPDU, 0 if absent
	SrcTSAP        []byte // CR/CC calling TSAP (S7: connection type and rack/slot)
	DstTSAP        []byte // CR/CC called TSAP
	Data           []byte // user data after the header
}

// parseCOTP decodes the header of the TPDU c. A DT is KindFragment when
// it has data and does not end the TSDU, KindCOTP otherwise (Parse then
// decodes the data of a final DT).
func (p *PDU) parseCOTP(c []byte) pdu.Error {
	li := int(c[0])
	typ := c[1] & 0xf0
	cp := &p.COTP
	cp.Type = typ
	minLI := int(cotpMinLI[typ>>4])
	if minLI == 0 {
		return ErrCOTPType
	}
	if li < minLI || li == 255 || 1+li > len(c) {
		return ErrCOTPLength
	}
	hdr := c[:1+li]
	if len(c) > 1+li {
		cp.Data = c[1+li:]
	}
	switch typ {
	case COTPData:
		cp.EOT = hdr[2]&cotpEOT != 0
		cp.TPDUNumber = hdr[2] &^ cotpEOT
		if cp.Data != nil && !cp.EOT {
			p.Kind = KindFragment
		}
	case COTPConnectRequest, COTPConnectConfirm:
		cp.DstRef = binary.BigEndian.Uint16(hdr[2:])
		cp.SrcRef = binary.BigEndian.Uint16(hdr[4:])
		cp.Class = hdr[6]
		return cp.params(hdr[7:])
	case COTPDisconnectRequest, COTPDisconnectConfirm:
		cp.DstRef = binary.BigEndian.Uint16(hdr[2:])
		cp.SrcRef = binary.BigEndian.Uint16(hdr[4:])
	default:
		cp.DstRef = binary.BigEndian.Uint16(hdr[2:])
	}
	return pdu.OK
}

// params walks the CR/CC variable part: code, length, value.
func (cp *COTP) params(v []byte) pdu.Error {
	for len(v) > 0 {
		if len(v) < 2 || len(v) < 2+int(v[1]) {
			return ErrCOTPParam
		}
		val := v[2 : 2+int(v[1]) : 2+int(v[1])]
		switch v[0] {
		case cotpParamTPDUSize:
			if len(val) == 1 {
				cp.TPDUSize = val[0]
			}
		case cotpParamSrcTSAP:
			cp.SrcTSAP = val
		case cotpParamDstTSAP:
			cp.DstTSAP = val
		}
		v = v[2+len(val):]
	}
	return pdu.OK
}
