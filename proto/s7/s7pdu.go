package s7

import (
	"encoding/binary"

	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// S7 protocol ids, the first byte of the COTP user data.
const (
	ProtocolS7     uint8 = 0x32
	ProtocolS7Plus uint8 = 0x72
)

// ROSCTR message types.
const (
	ROSCTRJob      uint8 = 1
	ROSCTRAck      uint8 = 2
	ROSCTRAckData  uint8 = 3
	ROSCTRUserdata uint8 = 7
)

// Header sizes: ack and ack-data add error class and code.
const (
	HeaderLen     = 10
	AckHeaderLen  = 12
	plusHeaderLen = 4 // protocol id, version, data length
)

// Job functions (the first parameter byte of jobs and ack-data).
const (
	FuncCPUServices        uint8 = 0x00
	FuncReadVar            uint8 = 0x04
	FuncWriteVar           uint8 = 0x05
	FuncRequestDownload    uint8 = 0x1a
	FuncDownloadBlock      uint8 = 0x1b
	FuncDownloadEnded      uint8 = 0x1c
	FuncStartUpload        uint8 = 0x1d
	FuncUpload             uint8 = 0x1e
	FuncEndUpload          uint8 = 0x1f
	FuncPIService          uint8 = 0x28
	FuncPLCStop            uint8 = 0x29
	FuncSetupCommunication uint8 = 0xf0
)

// Header is a view of the S7comm header; it must hold HeaderLen bytes
// (AckHeaderLen for the error fields). Fields are big-endian.
type Header []byte

func (h Header) ProtocolID() uint8 { return h[0] }
func (h Header) ROSCTR() uint8     { return h[1] }
func (h Header) PDURef() uint16    { return binary.BigEndian.Uint16(h[4:]) }
func (h Header) ParamLen() uint16  { return binary.BigEndian.Uint16(h[6:]) }
func (h Header) DataLen() uint16   { return binary.BigEndian.Uint16(h[8:]) }
func (h Header) ErrorClass() uint8 { return h[10] }
func (h Header) ErrorCode() uint8  { return h[11] }

// parseS7 decodes the S7 PDU b (non-empty).
func (p *PDU) parseS7(b []byte) pdu.Error {
	switch b[0] {
	case ProtocolS7Plus:
		p.Kind = KindS7Plus
		if len(b) < plusHeaderLen {
			return ErrS7Header
		}
		p.PlusVersion = b[1]
		return pdu.OK
	case ProtocolS7:
		p.Kind = KindS7
	default:
		return ErrProtocolID
	}
	if len(b) < HeaderLen {
		return ErrS7Header
	}
	h := Header(b)
	p.ROSCTR = h.ROSCTR()
	hl := HeaderLen
	switch p.ROSCTR {
	case ROSCTRJob, ROSCTRUserdata:
	case ROSCTRAck, ROSCTRAckData:
		hl = AckHeaderLen
		if len(b) < hl {
			return ErrS7Header
		}
		p.ErrorClass, p.ErrorCode = h.ErrorClass(), h.ErrorCode()
	default:
		return ErrROSCTR
	}
	p.PDURef, p.ParamLen, p.DataLen = h.PDURef(), h.ParamLen(), h.DataLen()
	pend := hl + int(p.ParamLen)
	if pend+int(p.DataLen) != len(b) {
		return ErrS7Length
	}
	p.Param = b[hl:pend:pend]
	p.Data = b[pend:]
	if len(p.Param) == 0 {
		if p.ROSCTR == ROSCTRAck {
			return pdu.OK // an ack may carry only its error fields
		}
		return ErrNoFunction
	}
	if p.ROSCTR == ROSCTRUserdata {
		return p.userdata()
	}
	p.HasFunction = true
	p.Function = p.Param[0]
	if p.ROSCTR == ROSCTRJob {
		return p.job()
	}
	return p.ackData()
}

// job decodes the parameter of a job by its function.
func (p *PDU) job() pdu.Error {
	par := p.Param
	switch p.Function {
	case FuncSetupCommunication:
		return p.setup()
	case FuncReadVar, FuncWriteVar:
		// Item count, then items: specification type, length, address.
		if len(par) < 2 {
			return ErrVarItems
		}
		p.ItemCount = par[1]
		off := 2
		for i := 0; i < int(p.ItemCount); i++ {
			if len(par)-off < 2 || len(par)-off < 2+int(par[off+1]) {
				return ErrVarItems
			}
			off += 2 + int(par[off+1])
		}
		if off != len(par) {
			return ErrVarItems
		}
	case FuncRequestDownload, FuncDownloadBlock, FuncDownloadEnded, FuncStartUpload:
		// Status, two unknown bytes, four bytes of upload id or error,
		// then the block file name with its length.
		if len(par) < 9 || len(par) < 9+int(par[8]) {
			return ErrBlockControl
		}
		p.Filename = par[9 : 9+int(par[8]) : 9+int(par[8])]
	case FuncUpload, FuncEndUpload:
		if len(par) < 8 {
			return ErrBlockControl
		}
	case FuncPIService:
		// Seven unknown bytes, the parameter block with its 16-bit length,
		// then the service name with its length.
		if len(par) < 10 {
			return ErrPIService
		}
		end := 10 + int(binary.BigEndian.Uint16(par[8:]))
		if len(par) < end+1 || len(par) < end+1+int(par[end]) {
			return ErrPIService
		}
		p.PIParams = par[10:end:end]
		p.PIService = par[end+1 : end+1+int(par[end]) : end+1+int(par[end])]
	case FuncPLCStop:
		// Five unknown bytes, then the service name with its length.
		if len(par) < 7 || len(par) < 7+int(par[6]) {
			return ErrPIService
		}
		p.PIService = par[7 : 7+int(par[6]) : 7+int(par[6])]
	}
	return pdu.OK
}

// ackData decodes the parameter of an ack-data by its function.
func (p *PDU) ackData() pdu.Error {
	switch p.Function {
	case FuncSetupCommunication:
		return p.setup()
	case FuncReadVar, FuncWriteVar:
		if len(p.Param) < 2 {
			return ErrVarItems
		}
		p.ItemCount = p.Param[1]
	}
	return pdu.OK
}

// setup decodes setup communication: reserved byte, the two AmQ limits
// and the PDU size, in request and reply alike.
func (p *PDU) setup() pdu.Error {
	par := p.Param
	if len(par) != 8 {
		return ErrSetup
	}
	p.MaxAmQCalling = binary.BigEndian.Uint16(par[2:])
	p.MaxAmQCalled = binary.BigEndian.Uint16(par[4:])
	p.PDUSize = binary.BigEndian.Uint16(par[6:])
	return pdu.OK
}
