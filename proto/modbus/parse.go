package modbus

import (
	"encoding/binary"

	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// Dir (an ADU's direction: the same function code has a different layout
// in a request and its response) and Error (why Parse refused its input:
// ErrShort, wait for more bytes, or malformed) are package pdu's.
type (
	Dir   = pdu.Dir
	Error = pdu.Error
)

const Request, Response, OK, ErrShort = pdu.Request, pdu.Response, pdu.OK, pdu.ErrShort

// What is malformed in an ADU; the text suits malformed-modbus log reasons.
const (
	ErrBadProtocolID Error = "bad-protocol-id" // MBAP protocol id is not 0
	ErrBadLength     Error = "bad-length"      // MBAP length below 2 or ADU above 260
	ErrBadFunction   Error = "bad-function"    // code 0, or the exception bit in a request
	ErrBadPDU        Error = "bad-pdu"         // length or byte count does not fit the function
	ErrBadQuantity   Error = "bad-quantity"    // quantity outside the function's limits or past address 65535
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
// ErrShort means b holds only a prefix of a valid-looking ADU (the stream
// layer waits for more). ErrBadProtocolID and ErrBadLength mean the bytes
// cannot be framed; n is then 0. For the other errors the MBAP framing was
// sound: n is the ADU's length, so a caller may skip it, and the MBAP
// fields and Function are set.
func Parse(b []byte, dir Dir, p *PDU) (n int, err Error) {
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
		return 0, ErrShort
	}
	a := ADU(b)
	n = a.Size()
	if len(b) < n {
		return 0, ErrShort
	}
	p.TransactionID = a.TransactionID()
	p.UnitID = a.UnitID()
	pdu := a.PDU()
	fc := pdu[0]
	p.Function = fc & 0x7f
	if fc == 0 || fc == 0x80 {
		return n, ErrBadFunction
	}
	if fc&0x80 != 0 {
		if dir == Request {
			return n, ErrBadFunction
		}
		p.Exception = true
		if len(pdu) != 2 {
			return n, ErrBadPDU
		}
		if p.ExceptionCode = pdu[1]; p.ExceptionCode == 0 {
			return n, ErrBadPDU
		}
		return n, OK
	}
	if dir == Request {
		return n, request(pdu, p)
	}
	return n, response(pdu, p)
}

// u16 reads the big-endian word at offset i of the PDU.
func u16(pdu []byte, i int) uint16 { return binary.BigEndian.Uint16(pdu[i:]) }

// span checks a quantity against its limits and the 16-bit address space.
func span(addr, qty, max uint16) Error {
	if qty == 0 || qty > max || int(addr)+int(qty) > 0x10000 {
		return ErrBadQuantity
	}
	return OK
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

func request(pdu []byte, p *PDU) Error {
	switch p.Function {
	case ReadCoils, ReadDiscreteInputs, ReadHoldingRegisters, ReadInputRegisters:
		if len(pdu) != 5 {
			return ErrBadPDU
		}
		p.HasRead, p.ReadAddr, p.ReadQty = true, u16(pdu, 1), u16(pdu, 3)
		max := uint16(maxReadRegs)
		if p.Function <= ReadDiscreteInputs {
			max = maxReadBits
		}
		return span(p.ReadAddr, p.ReadQty, max)
	case WriteSingleCoil, WriteSingleRegister:
		if len(pdu) != 5 {
			return ErrBadPDU
		}
		p.HasWrite, p.WriteAddr, p.WriteQty = true, u16(pdu, 1), 1
		if v := u16(pdu, 3); p.Function == WriteSingleCoil && v != coilOn && v != coilOff {
			return ErrBadPDU
		}
	case WriteMultipleCoils, WriteMultipleRegisters:
		if len(pdu) < 6 || len(pdu) != 6+int(pdu[5]) {
			return ErrBadPDU
		}
		p.HasWrite, p.WriteAddr, p.WriteQty = true, u16(pdu, 1), u16(pdu, 3)
		max, bytes := uint16(maxWriteRegs), 2*int(p.WriteQty)
		if p.Function == WriteMultipleCoils {
			max, bytes = maxWriteBits, (int(p.WriteQty)+7)/8
		}
		if err := span(p.WriteAddr, p.WriteQty, max); err != OK {
			return err
		}
		if int(pdu[5]) != bytes {
			return ErrBadPDU
		}
	case MaskWriteRegister:
		if len(pdu) != 7 {
			return ErrBadPDU
		}
		p.HasWrite, p.WriteAddr, p.WriteQty = true, u16(pdu, 1), 1
	case ReadWriteMultipleRegisters:
		if len(pdu) < 10 || len(pdu) != 10+int(pdu[9]) {
			return ErrBadPDU
		}
		p.HasRead, p.ReadAddr, p.ReadQty = true, u16(pdu, 1), u16(pdu, 3)
		p.HasWrite, p.WriteAddr, p.WriteQty = true, u16(pdu, 5), u16(pdu, 7)
		if err := span(p.ReadAddr, p.ReadQty, maxReadRegs); err != OK {
			return err
		}
		if err := span(p.WriteAddr, p.WriteQty, maxRWWriteRegs); err != OK {
			return err
		}
		if int(pdu[9]) != 2*int(p.WriteQty) {
			return ErrBadPDU
		}
	case ReadFIFOQueue:
		if len(pdu) != 3 {
			return ErrBadPDU
		}
		p.HasRead, p.ReadAddr, p.ReadQty = true, u16(pdu, 1), 1
	case ReadExceptionStatus, GetCommEventCounter, GetCommEventLog, ReportServerID:
		if len(pdu) != 1 {
			return ErrBadPDU
		}
	case Diagnostics:
		return diagnostics(pdu, p)
	case ReadFileRecord:
		if len(pdu) < 2 {
			return ErrBadPDU
		}
		bc := int(pdu[1])
		if len(pdu) != 2+bc || bc < minReadFileBytes || bc > maxReadFileBytes || bc%7 != 0 {
			return ErrBadPDU
		}
		for i := 2; i < len(pdu); i += 7 {
			if pdu[i] != fileRefType {
				return ErrBadPDU
			}
		}
	case WriteFileRecord:
		return writeFile(pdu)
	case EncapsulatedInterface:
		return mei(pdu, p, Request)
	}
	return OK
}

func response(pdu []byte, p *PDU) Error {
	switch p.Function {
	case ReadCoils, ReadDiscreteInputs, GetCommEventLog, ReportServerID, ReadFileRecord:
		if len(pdu) < 2 || len(pdu) != 2+int(pdu[1]) {
			return ErrBadPDU
		}
	case ReadHoldingRegisters, ReadInputRegisters, ReadWriteMultipleRegisters:
		if len(pdu) < 2 || len(pdu) != 2+int(pdu[1]) || pdu[1]%2 != 0 {
			return ErrBadPDU
		}
	case WriteSingleCoil, WriteSingleRegister, WriteMultipleCoils, WriteMultipleRegisters:
		if len(pdu) != 5 {
			return ErrBadPDU
		}
		p.HasWrite, p.WriteAddr, p.WriteQty = true, u16(pdu, 1), 1
		switch p.Function {
		case WriteMultipleCoils:
			p.WriteQty = u16(pdu, 3)
			return span(p.WriteAddr, p.WriteQty, maxWriteBits)
		case WriteMultipleRegisters:
			p.WriteQty = u16(pdu, 3)
			return span(p.WriteAddr, p.WriteQty, maxWriteRegs)
		}
	case MaskWriteRegister:
		if len(pdu) != 7 {
			return ErrBadPDU
		}
		p.HasWrite, p.WriteAddr, p.WriteQty = true, u16(pdu, 1), 1
	case ReadExceptionStatus:
		if len(pdu) != 2 {
			return ErrBadPDU
		}
	case GetCommEventCounter:
		if len(pdu) != 5 {
			return ErrBadPDU
		}
	case ReadFIFOQueue:
		// byte count (2), FIFO count (2), FIFO values; the byte count
		// covers the FIFO count and the values.
		if len(pdu) < 5 {
			return ErrBadPDU
		}
		bc, count := int(u16(pdu, 1)), int(u16(pdu, 3))
		if len(pdu) != 3+bc || bc != 2+2*count || count > maxFIFOCount {
			return ErrBadPDU
		}
	case Diagnostics:
		return diagnostics(pdu, p)
	case WriteFileRecord:
		return writeFile(pdu) // the normal response echoes the request
	case EncapsulatedInterface:
		return mei(pdu, p, Response)
	}
	return OK
}

// diagnostics checks a function 8 PDU: a sub-function and data words.
func diagnostics(pdu []byte, p *PDU) Error {
	if len(pdu) < 3 || (len(pdu)-3)%2 != 0 {
		return ErrBadPDU
	}
	p.SubFunction = u16(pdu, 1)
	return OK
}

// writeFile checks a write file record PDU: a byte count and sub-requests
// of reference type, file, record, record length and the record's words.
func writeFile(pdu []byte) Error {
	if len(pdu) < 2 {
		return ErrBadPDU
	}
	bc := int(pdu[1])
	if len(pdu) != 2+bc || bc < minWriteFileBytes || bc > maxWriteFileBytes {
		return ErrBadPDU
	}
	for i := 2; i < len(pdu); {
		if len(pdu)-i < 7 || pdu[i] != fileRefType {
			return ErrBadPDU
		}
		i += 7 + 2*int(u16(pdu, i+5))
		if i > len(pdu) {
			return ErrBadPDU
		}
	}
	return OK
}

// mei checks a function 43 PDU. Read device identification requests are
// exactly read code and object id, the read code being 1-4; other MEI
// types (CANopen, reserved) are taken as they come.
func mei(pdu []byte, p *PDU, dir Dir) Error {
	if len(pdu) < 2 {
		return ErrBadPDU
	}
	p.MEIType = pdu[1]
	if p.MEIType == MEIReadDeviceIdentification && dir == Request {
		if len(pdu) != 4 || pdu[2] < 1 || pdu[2] > 4 {
			return ErrBadPDU
		}
	}
	return OK
}
