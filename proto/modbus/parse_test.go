package modbus

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/conduit-ot/conduit/proto/internal/parsetest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// adu frames a PDU with an MBAP header: transaction 0x1234, unit 1.
func adu(pdu ...byte) []byte {
	b := []byte{0x12, 0x34, 0, 0, 0, 0, 1}
	binary.BigEndian.PutUint16(b[4:], uint16(1+len(pdu)))
	return append(b, pdu...)
}

// words appends big-endian words to a function code.
func words(fc byte, ws ...uint16) []byte {
	b := []byte{fc}
	for _, w := range ws {
		b = binary.BigEndian.AppendUint16(b, w)
	}
	return b
}

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func TestParse(t *testing.T) {
	long := adu(cat([]byte{100}, make([]byte, 252))...) // 7+253 = 260 bytes
	tests := []struct {
		name string
		b    []byte
		dir  pdu.Dir
		err  pdu.Error
		n    int // expected n; -1 means len(b)
		want PDU // compared when err is OK or the framing was sound
	}{
		// Framing.
		{"empty", nil, pdu.Request, pdu.ErrShort, 0, PDU{}},
		{"three bytes", []byte{0, 1, 0}, pdu.Request, pdu.ErrShort, 0, PDU{}},
		{"bad protocol id early", []byte{0, 1, 0, 1}, pdu.Request, ErrBadProtocolID, 0, PDU{}},
		{"bad protocol id", adu(words(3, 0, 1)...)[:2:2], pdu.Request, pdu.ErrShort, 0, PDU{}},
		{"length 0", []byte{0, 1, 0, 0, 0, 0}, pdu.Request, ErrBadLength, 0, PDU{}},
		{"length 1", []byte{0, 1, 0, 0, 0, 1, 1, 3}, pdu.Request, ErrBadLength, 0, PDU{}},
		{"length 255", []byte{0, 1, 0, 0, 0, 255, 1, 3}, pdu.Request, ErrBadLength, 0, PDU{}},
		{"header only", adu(words(3, 0, 1)...)[:7], pdu.Request, pdu.ErrShort, 0, PDU{}},
		{"pdu cut", adu(words(3, 0, 1)...)[:11], pdu.Request, pdu.ErrShort, 0, PDU{}},
		{"largest adu", long, pdu.Request, pdu.OK, 260, PDU{TransactionID: 0x1234, Length: 254, UnitID: 1, Function: 100}},
		{"largest write registers", adu(cat(words(16, 0, 123), []byte{246}, make([]byte, 246))...), pdu.Request, pdu.OK, 259,
			PDU{TransactionID: 0x1234, Length: 253, UnitID: 1, Function: 16, WriteQty: 123, HasWrite: true}},
		{"trailing bytes left", append(adu(words(3, 10, 2)...), 0, 1, 0), pdu.Request, pdu.OK, 12,
			PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 3, ReadAddr: 10, ReadQty: 2, HasRead: true}},

		// Function codes.
		{"function 0", adu(0, 0, 0), pdu.Request, ErrBadFunction, -1, PDU{TransactionID: 0x1234, Length: 4, UnitID: 1}},
		{"exception bit in request", adu(0x83, 2), pdu.Request, ErrBadFunction, -1, PDU{TransactionID: 0x1234, Length: 3, UnitID: 1, Function: 3}},
		{"exception of function 0", adu(0x80, 1), pdu.Response, ErrBadFunction, -1, PDU{TransactionID: 0x1234, Length: 3, UnitID: 1}},
		{"unassigned function", adu(42, 1, 2, 3), pdu.Request, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 5, UnitID: 1, Function: 42}},
		{"user-defined response", adu(100), pdu.Response, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 2, UnitID: 1, Function: 100}},

		// Exceptions.
		{"exception", adu(0x81, 2), pdu.Response, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 3, UnitID: 1, Function: 1, Exception: true, ExceptionCode: 2}},
		{"exception code 0", adu(0x81, 0), pdu.Response, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 3, UnitID: 1, Function: 1, Exception: true}},
		{"exception without code", adu(0x81), pdu.Response, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 2, UnitID: 1, Function: 1, Exception: true}},
		{"exception too long", adu(0x81, 2, 0), pdu.Response, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 4, UnitID: 1, Function: 1, Exception: true}},

		// Read requests.
		{"read coils", adu(words(1, 0, 2000)...), pdu.Request, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 1, ReadQty: 2000, HasRead: true}},
		{"read coils 2001", adu(words(1, 0, 2001)...), pdu.Request, ErrBadQuantity, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 1, ReadQty: 2001, HasRead: true}},
		{"read discrete inputs", adu(words(2, 7, 1)...), pdu.Request, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 2, ReadAddr: 7, ReadQty: 1, HasRead: true}},
		{"read holding registers", adu(words(3, 100, 125)...), pdu.Request, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 3, ReadAddr: 100, ReadQty: 125, HasRead: true}},
		{"read holding 126", adu(words(3, 100, 126)...), pdu.Request, ErrBadQuantity, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 3, ReadAddr: 100, ReadQty: 126, HasRead: true}},
		{"read input registers 0", adu(words(4, 0, 0)...), pdu.Request, ErrBadQuantity, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 4, HasRead: true}},
		{"read at top address", adu(words(4, 0xffff, 1)...), pdu.Request, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 4, ReadAddr: 0xffff, ReadQty: 1, HasRead: true}},
		{"read past top address", adu(words(4, 0xffff, 2)...), pdu.Request, ErrBadQuantity, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 4, ReadAddr: 0xffff, ReadQty: 2, HasRead: true}},
		{"read short pdu", adu(3, 0, 0, 0), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 5, UnitID: 1, Function: 3}},

		// Single writes.
		{"write coil on", adu(words(5, 9, 0xff00)...), pdu.Request, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 5, WriteAddr: 9, WriteQty: 1, HasWrite: true}},
		{"write coil bad value", adu(words(5, 9, 0x0001)...), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 5, WriteAddr: 9, WriteQty: 1, HasWrite: true}},
		{"write register", adu(words(6, 40, 0xbeef)...), pdu.Request, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 6, WriteAddr: 40, WriteQty: 1, HasWrite: true}},
		{"write register long", adu(words(6, 40, 1, 2)...), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 8, UnitID: 1, Function: 6}},
		{"mask write", adu(words(22, 4, 0xf2, 0x25)...), pdu.Request, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 8, UnitID: 1, Function: 22, WriteAddr: 4, WriteQty: 1, HasWrite: true}},
		{"mask write short", adu(words(22, 4, 0xf2)...), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 22}},

		// Multiple writes.
		{"write coils", adu(cat(words(15, 19, 10), []byte{2, 0xcd, 0x01})...), pdu.Request, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 9, UnitID: 1, Function: 15, WriteAddr: 19, WriteQty: 10, HasWrite: true}},
		{"write coils byte count", adu(cat(words(15, 19, 10), []byte{1, 0xcd})...), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 8, UnitID: 1, Function: 15, WriteAddr: 19, WriteQty: 10, HasWrite: true}},
		{"write coils bytes missing", adu(cat(words(15, 19, 10), []byte{2, 0xcd})...), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 8, UnitID: 1, Function: 15}},
		{"write coils 1969", adu(cat(words(15, 0, 1969), []byte{247}, make([]byte, 247))...), pdu.Request, ErrBadQuantity, 260,
			PDU{TransactionID: 0x1234, Length: 254, UnitID: 1, Function: 15, WriteQty: 1969, HasWrite: true}},
		{"write coils 1968", adu(cat(words(15, 0, 1968), []byte{246}, make([]byte, 246))...), pdu.Request, pdu.OK, 259,
			PDU{TransactionID: 0x1234, Length: 253, UnitID: 1, Function: 15, WriteQty: 1968, HasWrite: true}},
		{"write coils 0", adu(cat(words(15, 0, 0), []byte{0})...), pdu.Request, ErrBadQuantity, -1, PDU{TransactionID: 0x1234, Length: 7, UnitID: 1, Function: 15, HasWrite: true}},
		{"write coils no count", adu(words(15, 0, 8)...), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 15}},
		{"write registers", adu(cat(words(16, 1, 2), []byte{4}, words(0, 10, 0x102)[1:])...), pdu.Request, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 11, UnitID: 1, Function: 16, WriteAddr: 1, WriteQty: 2, HasWrite: true}},
		{"write registers 124", adu(cat(words(16, 0, 124), []byte{248})...), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 7, UnitID: 1, Function: 16}},
		{"write registers past top", adu(cat(words(16, 0xffff, 2), []byte{4, 0, 0, 0, 0})...), pdu.Request, ErrBadQuantity, -1, PDU{TransactionID: 0x1234, Length: 11, UnitID: 1, Function: 16, WriteAddr: 0xffff, WriteQty: 2, HasWrite: true}},

		// Read/write multiple registers: both ranges.
		{"read write registers", adu(cat(words(23, 3, 6, 14, 3), []byte{6, 0, 0xff, 0, 0xff, 0, 0xff})...), pdu.Request, pdu.OK, -1,
			PDU{TransactionID: 0x1234, Length: 17, UnitID: 1, Function: 23, ReadAddr: 3, ReadQty: 6, WriteAddr: 14, WriteQty: 3, HasRead: true, HasWrite: true}},
		{"read write bad read qty", adu(cat(words(23, 3, 126, 14, 1), []byte{2, 0, 0})...), pdu.Request, ErrBadQuantity, -1,
			PDU{TransactionID: 0x1234, Length: 13, UnitID: 1, Function: 23, ReadAddr: 3, ReadQty: 126, WriteAddr: 14, WriteQty: 1, HasRead: true, HasWrite: true}},
		{"read write bad write qty", adu(cat(words(23, 3, 1, 14, 122), []byte{244}, make([]byte, 244))...), pdu.Request, ErrBadLength, 0, PDU{}},
		{"read write write qty 0", adu(cat(words(23, 3, 1, 14, 0), []byte{0})...), pdu.Request, ErrBadQuantity, -1,
			PDU{TransactionID: 0x1234, Length: 11, UnitID: 1, Function: 23, ReadAddr: 3, ReadQty: 1, WriteAddr: 14, HasRead: true, HasWrite: true}},
		{"read write byte count", adu(cat(words(23, 3, 1, 14, 1), []byte{1, 0})...), pdu.Request, ErrBadPDU, -1,
			PDU{TransactionID: 0x1234, Length: 12, UnitID: 1, Function: 23, ReadAddr: 3, ReadQty: 1, WriteAddr: 14, WriteQty: 1, HasRead: true, HasWrite: true}},
		{"read write short", adu(words(23, 3, 1, 14, 1)...), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 10, UnitID: 1, Function: 23}},

		// Functions without request data.
		{"read exception status", adu(7), pdu.Request, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 2, UnitID: 1, Function: 7}},
		{"report server id with data", adu(17, 0), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 3, UnitID: 1, Function: 17}},
		{"fifo", adu(words(24, 0x4d2)...), pdu.Request, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 4, UnitID: 1, Function: 24, ReadAddr: 0x4d2, ReadQty: 1, HasRead: true}},
		{"fifo short", adu(24, 4), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 3, UnitID: 1, Function: 24}},

		// Diagnostics.
		{"diagnostics", adu(words(8, 4, 0)...), pdu.Request, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 8, SubFunction: 4}},
		{"diagnostics echo", adu(words(8, 0, 0xa537, 1)...), pdu.Response, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 8, UnitID: 1, Function: 8}},
		{"diagnostics odd data", adu(8, 0, 1, 0), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 5, UnitID: 1, Function: 8}},
		{"diagnostics no sub", adu(8, 0), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 3, UnitID: 1, Function: 8}},

		// File records.
		{"read file record", adu(20, 14, 6, 0, 4, 0, 1, 0, 2, 6, 0, 3, 0, 9, 0, 2), pdu.Request, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 17, UnitID: 1, Function: 20}},
		{"read file bad ref", adu(20, 7, 5, 0, 4, 0, 1, 0, 2), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 10, UnitID: 1, Function: 20}},
		{"read file count not 7k", adu(20, 8, 6, 0, 4, 0, 1, 0, 2, 0), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 11, UnitID: 1, Function: 20}},
		{"read file empty", adu(20), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 2, UnitID: 1, Function: 20}},
		{"write file record", adu(21, 13, 6, 0, 4, 0, 7, 0, 3, 0x06, 0xaf, 0x04, 0xbe, 0x10, 0x0d), pdu.Request, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 16, UnitID: 1, Function: 21}},
		{"write file record echo", adu(21, 13, 6, 0, 4, 0, 7, 0, 3, 0x06, 0xaf, 0x04, 0xbe, 0x10, 0x0d), pdu.Response, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 16, UnitID: 1, Function: 21}},
		{"write file record overrun", adu(21, 13, 6, 0, 4, 0, 7, 0, 4, 0x06, 0xaf, 0x04, 0xbe, 0x10, 0x0d), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 16, UnitID: 1, Function: 21}},
		{"write file record stub", adu(21, 11, 6, 0, 4, 0, 7, 0, 1, 0, 0, 6, 0), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 14, UnitID: 1, Function: 21}},
		{"write file record bad ref", adu(21, 9, 7, 0, 4, 0, 7, 0, 1, 0, 0), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 12, UnitID: 1, Function: 21}},
		{"write file small count", adu(21, 7, 6, 0, 4, 0, 7, 0, 0), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 10, UnitID: 1, Function: 21}},
		{"write file empty", adu(21), pdu.Response, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 2, UnitID: 1, Function: 21}},

		// Encapsulated interface transport.
		{"device identification", adu(43, 14, 1, 0), pdu.Request, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 5, UnitID: 1, Function: 43, MEIType: 14}},
		{"device identification trailing", adu(43, 14, 3, 1, 0), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 43, MEIType: 14}},
		{"device identification code 5", adu(43, 14, 5, 0), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 5, UnitID: 1, Function: 43, MEIType: 14}},
		{"device identification response", adu(43, 14, 1, 1, 0, 0, 0), pdu.Response, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 8, UnitID: 1, Function: 43, MEIType: 14}},
		{"canopen", adu(43, 13, 1, 2, 3, 4, 5), pdu.Request, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 8, UnitID: 1, Function: 43, MEIType: 13}},
		{"mei missing", adu(43), pdu.Request, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 2, UnitID: 1, Function: 43}},

		// Responses.
		{"read coils response", adu(1, 2, 0xcd, 0x01), pdu.Response, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 5, UnitID: 1, Function: 1}},
		{"read coils response count", adu(1, 3, 0xcd, 0x01), pdu.Response, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 5, UnitID: 1, Function: 1}},
		{"read coils response empty", adu(1), pdu.Response, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 2, UnitID: 1, Function: 1}},
		{"read registers response", adu(3, 4, 0, 9, 0, 0x18), pdu.Response, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 7, UnitID: 1, Function: 3}},
		{"read registers odd count", adu(3, 3, 0, 9, 0), pdu.Response, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 3}},
		{"read write response", adu(23, 2, 0, 1), pdu.Response, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 5, UnitID: 1, Function: 23}},
		{"write coil echo", adu(words(5, 172, 0xff00)...), pdu.Response, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 5, WriteAddr: 172, WriteQty: 1, HasWrite: true}},
		{"write registers echo", adu(words(16, 1, 2)...), pdu.Response, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 16, WriteAddr: 1, WriteQty: 2, HasWrite: true}},
		{"write registers echo 0", adu(words(16, 1, 0)...), pdu.Response, ErrBadQuantity, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 16, WriteAddr: 1, HasWrite: true}},
		{"write coils echo 1969", adu(words(15, 1, 1969)...), pdu.Response, ErrBadQuantity, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 15, WriteAddr: 1, WriteQty: 1969, HasWrite: true}},
		{"write coils echo", adu(words(15, 1, 1968)...), pdu.Response, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 15, WriteAddr: 1, WriteQty: 1968, HasWrite: true}},
		{"write registers echo long", adu(words(16, 1, 2, 0)...), pdu.Response, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 8, UnitID: 1, Function: 16}},
		{"mask write echo", adu(words(22, 4, 0xf2, 0x25)...), pdu.Response, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 8, UnitID: 1, Function: 22, WriteAddr: 4, WriteQty: 1, HasWrite: true}},
		{"mask write echo short", adu(words(22, 4)...), pdu.Response, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 4, UnitID: 1, Function: 22}},
		{"exception status response", adu(7, 0x6d), pdu.Response, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 3, UnitID: 1, Function: 7}},
		{"exception status response empty", adu(7), pdu.Response, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 2, UnitID: 1, Function: 7}},
		{"event counter response", adu(words(11, 0xffff, 0x108)...), pdu.Response, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 11}},
		{"event counter response short", adu(words(11, 0xffff)...), pdu.Response, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 4, UnitID: 1, Function: 11}},
		{"server id response", adu(17, 3, 0x42, 0xff, 0), pdu.Response, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 6, UnitID: 1, Function: 17}},
		{"fifo response", adu(words(24, 6, 2, 0x1b8, 0x1284)...), pdu.Response, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 10, UnitID: 1, Function: 24}},
		{"fifo response count", adu(words(24, 6, 3, 0x1b8, 0x1284)...), pdu.Response, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 10, UnitID: 1, Function: 24}},
		{"fifo response 32", adu(cat(words(24, 66, 32), make([]byte, 64))...), pdu.Response, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 70, UnitID: 1, Function: 24}},
		{"fifo response short", adu(words(24, 2)...), pdu.Response, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 4, UnitID: 1, Function: 24}},
		{"diagnostics response short", adu(8, 0), pdu.Response, ErrBadPDU, -1, PDU{TransactionID: 0x1234, Length: 3, UnitID: 1, Function: 8}},
		{"mei response", adu(43, 13), pdu.Response, pdu.OK, -1, PDU{TransactionID: 0x1234, Length: 3, UnitID: 1, Function: 43, MEIType: 13}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PDU{Function: 99, HasRead: true} // Parse must overwrite everything
			n, err := Parse(tt.b, tt.dir, &p)
			parsetest.Result(t, tt.b, n, err, tt.n, tt.err)
			if n > 0 && p != tt.want {
				t.Errorf("PDU\n got %+v\nwant %+v", p, tt.want)
			}
		})
	}
}

// TestParseStream walks a buffer of back-to-back ADUs, the way the stream
// layer will, and every proper prefix of it reports ErrShort or a whole ADU.
func TestParseStream(t *testing.T) {
	stream := cat(adu(words(3, 0, 10)...), adu(words(6, 1, 3)...), adu(0x83, 2), adu(7))
	dirs := []pdu.Dir{pdu.Request, pdu.Request, pdu.Response, pdu.Request}
	fcs := []uint8{3, 6, 3, 7}
	var p PDU
	off := 0
	for i := range fcs {
		n, err := Parse(stream[off:], dirs[i], &p)
		if err != pdu.OK || p.Function != fcs[i] {
			t.Fatalf("ADU %d: %d, %q, function %d", i, n, err, p.Function)
		}
		for cut := 0; cut < n; cut++ {
			if m, err := Parse(stream[off:off+cut], dirs[i], &p); err != pdu.ErrShort || m != 0 {
				t.Fatalf("ADU %d cut at %d: %d, %q; want short", i, cut, m, err)
			}
		}
		off += n
	}
	if off != len(stream) {
		t.Fatalf("consumed %d of %d", off, len(stream))
	}
}

func TestADU(t *testing.T) {
	a := ADU(adu(words(3, 0x10, 2)...))
	if a.TransactionID() != 0x1234 || a.ProtocolID() != 0 || a.Length() != 6 || a.UnitID() != 1 || a.Function() != 3 || a.Size() != 12 || len(a.PDU()) != 5 {
		t.Errorf("accessors: %d %d %d %d %d %d %d", a.TransactionID(), a.ProtocolID(), a.Length(), a.UnitID(), a.Function(), a.Size(), len(a.PDU()))
	}
	if got := len(ADU(append(a, 9, 9)).PDU()); got != 5 {
		t.Errorf("PDU of a longer buffer has %d bytes, want 5", got)
	}
	if got := len(a[:9].PDU()); got != 2 {
		t.Errorf("PDU of a cut buffer has %d bytes, want 2", got)
	}
}

func TestDirString(t *testing.T) {
	if pdu.Request.String() != "request" || pdu.Response.String() != "response" {
		t.Error(pdu.Request.String(), pdu.Response.String())
	}
}
