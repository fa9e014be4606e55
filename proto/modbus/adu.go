// Package modbus decodes Modbus/TCP application data units (ADUs) for the
// policy engine: the MBAP header, the function code, exception responses,
// and the address ranges a request reads or writes.
//
// Decoding is zero-copy and allocation-free: ADU is a view over the wire
// bytes (in the style of gVisor's header package) and Parse fills a
// caller-owned PDU. Parse reads one ADU at the start of a buffer and
// reports how many bytes it took, so the caller's stream layer can walk a
// TCP byte stream ADU by ADU; pdu.ErrShort tells "wait for more bytes" apart
// from malformed input.
//
// The checks follow the Modbus Application Protocol Specification V1.1b3
// and the Modbus Messaging on TCP/IP Implementation Guide V1.0b: the
// protocol identifier must be 0, the ADU is at most 260 bytes, and each
// public function's request and response must have exactly the length,
// byte count and quantity limits the specification gives. Unassigned and
// user-defined function codes are accepted without detail, so a policy
// can still name them by number.
package modbus

import "encoding/binary"

// Sizes of the Modbus/TCP framing.
const (
	MBAPLen   = 7   // transaction id, protocol id, length, unit id
	MaxADULen = 260 // MBAP + the 253-byte serial-line PDU limit
	MaxPDULen = MaxADULen - MBAPLen
	Port      = 502
)

// ADU is a view of a Modbus/TCP ADU: the MBAP header followed by the PDU.
// Its accessors do not check bounds; use them on a slice Parse accepted,
// or one at least MBAPLen (PDU: MBAPLen+1) bytes long.
type ADU []byte

// TransactionID pairs a response with its request.
func (a ADU) TransactionID() uint16 { return binary.BigEndian.Uint16(a[0:]) }

// ProtocolID is 0 for Modbus.
func (a ADU) ProtocolID() uint16 { return binary.BigEndian.Uint16(a[2:]) }

// Length counts the bytes that follow it: the unit id and the PDU.
func (a ADU) Length() uint16 { return binary.BigEndian.Uint16(a[4:]) }

// UnitID addresses a device behind a gateway (0xFF or 0 when direct).
func (a ADU) UnitID() uint8 { return a[6] }

// Function is the PDU's first byte (with 0x80 set in an exception).
func (a ADU) Function() uint8 { return a[7] }

// Size is the ADU's length on the wire as the MBAP header declares it.
func (a ADU) Size() int { return MBAPLen - 1 + int(a.Length()) }

// PDU returns the function code and data, as far as a holds them.
func (a ADU) PDU() []byte { return a[MBAPLen:min(len(a), a.Size())] }
