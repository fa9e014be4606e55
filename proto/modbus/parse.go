package modbus

import (
	"encoding/binary"

	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// What is malformed in an ADU (besides pdu.ErrShort: wait for more
// bytes); the text suits malformed-modbus log reasons.
const (
	ErrBadProtocolID pdu.Error = "bad-protocol-id" // MBAP protocol id is not 0
	ErrBadLength     pdu.Error = "bad-length"      // MBAP length below 2 or ADU above 260
	ErrBadFunction   pdu.Error = "bad-function"    // code 0, or the exception bit in a request
	ErrBadPDU        pdu.Error = "bad-pdu"         // length or byte count does not fit the function
	ErrBadQuantity   pdu.Error = "bad-quantity"    // quantity outside the function's limits or past address 65535
)

// PDU is the decoded ADU. Parse overwrites every field.
type PDU struct {
	TransactionID uint16
	ProtocolID    uint16
	Length        uint16 // MBAP length: unit id + PDU
	UnitID        uint8
	Function      uint8 // without the exception bit
	Exception     bool  // response with the exception bit set
	ExceptionCode uint8

	// The registers or coils the ADU reads and writes: requests of
	// functions 1-6, 15, 16, 22, 23 and 24, and the echoes in the responses
	// of 5, 6, 15, 16 and 22. A single write has WriteQty 1; read FIFO
	// queue reports its pointer address with ReadQty 1.
	ReadAddr, ReadQty   uint16
	WriteAddr, WriteQty uint16
	HasRead, HasWrite   bool

	SubFunction uint16 // diagnostics (8)
	MEIType     uint8  // encapsulated interface transport (43)
}

// Parse decodes the ADU at the start of b and returns its length on the
// wire (7 + Length - 1); bytes after it are left for the next call.
//
// pdu.ErrShort means b holds only a prefix of a valid-looking ADU (the stream
// layer waits for more). ErrBadProtocolID and ErrBadLength mean the bytes
// cannot be framed; n is then 0. For the other errors the MBAP framing was
// sound: n is the ADU's length, so a caller may skip it, and the MBAP
// fields and Function are set.
//
// dir is the ADU's direction: the same function code has a different
// layout in a request and its response.
func Parse(b []byte, dir pdu.Dir, p *PDU) (n int, err pdu.Error) {
	*p = PDU{}
	if len(b) >= 4 {
		if p.ProtocolID = binary.BigEndian.Uint16(b[2:]); p.ProtocolID != 0 {
			return 0, ErrBadProtocolID
		}
	}
	if len(b) >= 6 {
		if p.Length = binary.BigEndian.Uint16(b[4:]); p.Length < 2 || p.Length > MaxADULen-MBAPLen+1 {
			return 0, ErrBadLength
		}
	}
	if len(b) < MBAPLen+1 {
		return 0, pdu.ErrShort
	}
	a := ADU(b)
	n = a.Size()
	if len(b) < n {
		return 0, pdu.ErrShort
	}
	p.TransactionID = a.TransactionID()
	p.UnitID = a.UnitID()
	body := a.PDU() // the Modbus PDU: function code and data
	fc := body[0]
	p.Function = fc & 0x7f
	if fc == 0 || fc == 0x80 {
		return n, ErrBadFunction
	}
	if fc&0x80 != 0 {
		if dir == pdu.Request {
			return n, ErrBadFunction
		}
		p.Exception = true
		if len(body) != 2 {
			return n, ErrBadPDU
		}
		if p.ExceptionCode = body[1]; p.ExceptionCode == 0 {
			return n, ErrBadPDU
		}
		return n, pdu.OK
	}
	if dir == pdu.Request {
		return n, request(body, p)
	}
	return n, response(body, p)
}

// u16 reads the big-endian word at offset i of the PDU.
func u16(body []byte, i int) uint16 { return binary.BigEndian.Uint16(body[i:]) }

// span checks a quantity against its limits and the 16-bit address space.
func span(addr, qty, max uint16) pdu.Error {
	if qty == 0 || qty > max || int(addr)+int(qty) > 0x10000 {
		return ErrBadQuantity
	}
	return pdu.OK
}

// Quantity limits (specification section 6).
const (
	maxReadBits       = 2000
	maxReadRegs       = 125
	maxWriteBits      = 1968
	maxWriteRegs      = 123
	maxRWWriteRegs    = 121
	maxFIFOCount      = 31
	fileRefType       = 6
	coilOn, coilOff   = 0xff00, 0x0000
	minReadFileBytes  = 7
	maxReadFileBytes  = 0xf5
	minWriteFileBytes = 9
	maxWriteFileBytes = 0xfb
)

func request(body []byte, p *PDU) pdu.Error {
	switch p.Function {
	case ReadCoils, ReadDiscreteInputs, ReadHoldingRegisters, ReadInputRegisters:
		if len(body) != 5 {
			return ErrBadPDU
		}
		p.HasRead, p.ReadAddr, p.ReadQty = true, u16(body, 1), u16(body, 3)
		max := uint16(maxReadRegs)
		if p.Function <= ReadDiscreteInputs {
			max = maxReadBits
		}
		return span(p.ReadAddr, p.ReadQty, max)
	case WriteSingleCoil, WriteSingleRegister:
		if len(body) != 5 {
			return ErrBadPDU
		}
		p.HasWrite, p.WriteAddr, p.WriteQty = true, u16(body, 1), 1
		if v := u16(body, 3); p.Function == WriteSingleCoil && v != coilOn && v != coilOff {
			return ErrBadPDU
		}
	case WriteMultipleCoils, WriteMultipleRegisters:
		if len(body) < 6 || len(body) != 6+int(body[5]) {
			return ErrBadPDU
		}
		p.HasWrite, p.WriteAddr, p.WriteQty = true, u16(body, 1), u16(body, 3)
		max, bytes := uint16(maxWriteRegs), 2*int(p.WriteQty)
		if p.Function == WriteMultipleCoils {
			max, bytes = maxWriteBits, (int(p.WriteQty)+7)/8
		}
		if err := span(p.WriteAddr, p.WriteQty, max); err != pdu.OK {
			return err
		}
		if int(body[5]) != bytes {
			return ErrBadPDU
		}
	case MaskWriteRegister:
		if len(body) != 7 {
			return ErrBadPDU
		}
		p.HasWrite, p.WriteAddr, p.WriteQty = true, u16(body, 1), 1
	case ReadWriteMultipleRegisters:
		if len(body) < 10 || len(body) != 10+int(body[9]) {
			return ErrBadPDU
		}
		p.HasRead, p.ReadAddr, p.ReadQty = true, u16(body, 1), u16(body, 3)
		p.HasWrite, p.WriteAddr, p.WriteQty = true, u16(body, 5), u16(body, 7)
		if err := span(p.ReadAddr, p.ReadQty, maxReadRegs); err != pdu.OK {
			return err
		}
		if err := span(p.WriteAddr, p.WriteQty, maxRWWriteRegs); err != pdu.OK {
			return err
		}
		if int(body[9]) != 2*int(p.WriteQty) {
			return ErrBadPDU
		}
	case ReadFIFOQueue:
		if len(body) != 3 {
			return ErrBadPDU
		}
		p.HasRead, p.ReadAddr, p.ReadQty = true, u16(body, 1), 1
	case ReadExceptionStatus, GetCommEventCounter, GetCommEventLog, ReportServerID:
		if len(body) != 1 {
			return ErrBadPDU
		}
	case Diagnostics:
		return diagnostics(body, p)
	case ReadFileRecord:
		if len(body) < 2 {
			return ErrBadPDU
		}
		bc := int(body[1])
		if len(body) != 2+bc || bc < minReadFileBytes || bc > maxReadFileBytes || bc%7 != 0 {
			return ErrBadPDU
		}
		for i := 2; i < len(body); i += 7 {
			if body[i] != fileRefType {
				return ErrBadPDU
			}
		}
	case WriteFileRecord:
		return writeFile(body)
	case EncapsulatedInterface:
		return mei(body, p, pdu.Request)
	}
	return pdu.OK
}

func response(body []byte, p *PDU) pdu.Error {
	switch p.Function {
	case ReadCoils, ReadDiscreteInputs, GetCommEventLog, ReportServerID, ReadFileRecord:
		if len(body) < 2 || len(body) != 2+int(body[1]) {
			return ErrBadPDU
		}
	case ReadHoldingRegisters, ReadInputRegisters, ReadWriteMultipleRegisters:
		if len(body) < 2 || len(body) != 2+int(body[1]) || body[1]%2 != 0 {
			return ErrBadPDU
		}
	case WriteSingleCoil, WriteSingleRegister, WriteMultipleCoils, WriteMultipleRegisters:
		if len(body) != 5 {
			return ErrBadPDU
		}
		p.HasWrite, p.WriteAddr, p.WriteQty = true, u16(body, 1), 1
		switch p.Function {
		case WriteMultipleCoils:
			p.WriteQty = u16(body, 3)
			return span(p.WriteAddr, p.WriteQty, maxWriteBits)
		case WriteMultipleRegisters:
			p.WriteQty = u16(body, 3)
			return span(p.WriteAddr, p.WriteQty, maxWriteRegs)
		}
	case MaskWriteRegister:
		if len(body) != 7 {
			return ErrBadPDU
		}
		p.HasWrite, p.WriteAddr, p.WriteQty = true, u16(body, 1), 1
	case ReadExceptionStatus:
		if len(body) != 2 {
			return ErrBadPDU
		}
	case GetCommEventCounter:
		if len(body) != 5 {
			return ErrBadPDU
		}
	case ReadFIFOQueue:
		// byte count (2), FIFO count (2), FIFO values; the byte count
		// covers the FIFO count and the values.
		if len(body) < 5 {
			return ErrBadPDU
		}
		bc, count := int(u16(body, 1)), int(u16(body, 3))
		if len(body) != 3+bc || bc != 2+2*count || count > maxFIFOCount {
			return ErrBadPDU
		}
	case Diagnostics:
		return diagnostics(body, p)
	case WriteFileRecord:
		return writeFile(body) // the normal response echoes the request
	case EncapsulatedInterface:
		return mei(body, p, pdu.Response)
	}
	return pdu.OK
}

// diagnostics checks a function 8 PDU: a sub-function and data words.
func diagnostics(body []byte, p *PDU) pdu.Error {
	if len(body) < 3 || (len(body)-3)%2 != 0 {
		return ErrBadPDU
	}
	p.SubFunction = u16(body, 1)
	return pdu.OK
}

// writeFile checks a write file record PDU: a byte count and sub-requests
// of reference type, file, record, record length and the record's words.
func writeFile(body []byte) pdu.Error {
	if len(body) < 2 {
		return ErrBadPDU
	}
	bc := int(body[1])
	if len(body) != 2+bc || bc < minWriteFileBytes || bc > maxWriteFileBytes {
		return ErrBadPDU
	}
	for i := 2; i < len(body); {
		if len(body)-i < 7 || body[i] != fileRefType {
			return ErrBadPDU
		}
		i += 7 + 2*int(u16(body, i+5))
		if i > len(body) {
			return ErrBadPDU
		}
	}
	return pdu.OK
}

// mei checks a function 43 PDU. Read device identification requests are
// exactly read code and object id, the read code being 1-4; other MEI
// types (CANopen, reserved) are taken as they come.
func mei(body []byte, p *PDU, dir pdu.Dir) pdu.Error {
	if len(body) < 2 {
		return ErrBadPDU
	}
	p.MEIType = body[1]
	if p.MEIType == MEIReadDeviceIdentification && dir == pdu.Request {
		if len(body) != 4 || body[2] < 1 || body[2] > 4 {
			return ErrBadPDU
		}
	}
	return pdu.OK
}
