// Package modbustest builds Modbus/TCP ADUs for tests and synthetic
// captures.
package modbustest

import "encoding/binary"

// ADU prefixes a Modbus PDU (function code onwards) with its MBAP header:
// transaction tid, protocol 0, the length of unit and PDU, unit.
func ADU(tid uint16, unit uint8, pdu []byte) []byte {
	b := make([]byte, 7, 7+len(pdu))
	binary.BigEndian.PutUint16(b[0:], tid)
	binary.BigEndian.PutUint16(b[4:], uint16(1+len(pdu)))
	b[6] = unit
	return append(b, pdu...)
}

// Request is a request of function fc whose PDU is two 16-bit fields:
// address and quantity (functions 1-4), or address and value (5, 6).
func Request(tid uint16, unit, fc uint8, addr, v uint16) []byte {
	return ADU(tid, unit, []byte{fc, byte(addr >> 8), byte(addr), byte(v >> 8), byte(v)})
}

// Read is a read request of function fc (1-4) for qty coils or registers
// from addr, and its response: the bytes counted up from fill.
func Read(tid uint16, unit, fc uint8, addr, qty uint16, fill byte) (req, resp []byte) {
	req = Request(tid, unit, fc, addr, qty)
	n := int(qty) * 2
	if fc == 1 || fc == 2 {
		n = (int(qty) + 7) / 8
	}
	pdu := make([]byte, 2+n)
	pdu[0], pdu[1] = fc, byte(n)
	for i := range n {
		pdu[2+i] = fill + byte(i)
	}
	return req, ADU(tid, unit, pdu)
}

// WriteRegister is write single register (function 6) and its response,
// which echoes the request.
func WriteRegister(tid uint16, unit uint8, addr, value uint16) (req, resp []byte) {
	return Request(tid, unit, 6, addr, value), Request(tid, unit, 6, addr, value)
}
