// Package opcuatest builds OPC UA binary messages for tests and synthetic
// captures: the connection messages, OpenSecureChannel in the clear or
// asymmetrically "encrypted" (opaque bytes), and service requests and
// responses with the smallest headers a stack sends.
package opcuatest

import (
	"encoding/binary"

	"github.com/conduit-ot/conduit/proto/opcua"
)

// Frame prefixes body with a message header of type typ and chunk type
// chunk whose size counts the whole message.
func Frame(typ string, chunk byte, body []byte) []byte {
	b := append([]byte(typ[:3]), chunk, 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(b[4:], uint32(opcua.HeaderLen+len(body)))
	return append(b, body...)
}

// U32 appends little-endian UInt32s.
func U32(b []byte, vs ...uint32) []byte {
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, v)
	}
	return b
}

// Str appends a String or ByteString; nil is the null string (-1).
func Str(b []byte, s []byte) []byte {
	if s == nil {
		return U32(b, 0xffffffff)
	}
	return append(U32(b, uint32(len(s))), s...)
}

// NodeID appends the four-byte encoding of a numeric NodeId in namespace
// 0 when it fits, else the full numeric one.
func NodeID(b []byte, id uint32) []byte {
	if id <= 0xffff {
		return binary.LittleEndian.AppendUint16(append(b, 0x01, 0), uint16(id))
	}
	return U32(append(b, 0x02, 0, 0), id)
}

// Hello is a client's HEL.
func Hello(endpoint string) []byte {
	return Frame("HEL", 'F', Str(U32(nil, 0, 65536, 65536, 0, 0), []byte(endpoint)))
}

// Ack is a server's ACK.
func Ack() []byte { return Frame("ACK", 'F', U32(nil, 0, 65536, 65536, 0, 0)) }

// Err is an ERR with a status and a reason.
func Err(code uint32, reason string) []byte {
	return Frame("ERR", 'F', Str(U32(nil, code), []byte(reason)))
}

// RequestHeader is a RequestHeader with a two-byte null authentication
// token, request handle handle and no additional header.
func RequestHeader(handle uint32) []byte {
	b := append([]byte{0x00, 0x00}, make([]byte, 8)...) // token, timestamp
	b = U32(b, handle, 0)                               // handle, return diagnostics
	b = Str(b, nil)                                     // audit entry id
	b = U32(b, 10000)                                   // timeout hint
	return append(b, 0x00, 0x00, 0x00)                  // additional header: null NodeId, no body
}

// ResponseHeader is a ResponseHeader with status result and no
// diagnostics, string table or additional header.
func ResponseHeader(handle, result uint32) []byte {
	b := U32(make([]byte, 8), handle, result)
	b = append(b, 0x00)                // diagnostic info: empty mask
	b = U32(b, 0xffffffff)             // string table: null
	return append(b, 0x00, 0x00, 0x00) // additional header
}

// Policy returns the URI of a standard policy's short name.
func Policy(short string) []byte { return []byte(opcua.PolicyPrefix + short) }

// OpenRequest is a client's OPN on channel 0 issuing a token in mode mode
// under policy (a short name). Under None its body is clear; otherwise a
// certificate and thumbprint precede 256 opaque bytes standing for the
// RSA-encrypted rest.
func OpenRequest(policy string, mode opcua.Mode, seq, reqID uint32) []byte {
	b := U32(nil, 0)
	if policy == "None" {
		b = Str(Str(Str(b, Policy(policy)), nil), nil)
		b = U32(b, seq, reqID)
		b = NodeID(b, opcua.OpenSecureChannel.RequestID())
		b = append(b, RequestHeader(1)...)
		b = U32(b, 0, 0, uint32(mode)) // client protocol version, issue, mode
		b = Str(b, []byte{})           // client nonce
		b = U32(b, 3600000)
		return Frame("OPN", 'F', b)
	}
	b = Str(Str(Str(b, Policy(policy)), Opaque(1, 900)), Opaque(2, 20))
	return Frame("OPN", 'F', append(b, Opaque(3, 256)...))
}

// OpenResponse is a server's OPN issuing token on channel under policy
// (encrypted like OpenRequest's unless None).
func OpenResponse(policy string, channel, token, seq, reqID uint32) []byte {
	b := U32(nil, channel)
	if policy == "None" {
		b = Str(Str(Str(b, Policy(policy)), nil), nil)
		b = U32(b, seq, reqID)
		b = NodeID(b, opcua.OpenSecureChannel.RequestID()+3)
		b = append(b, ResponseHeader(1, 0)...)
		b = U32(b, 0, channel, token, 0, 0, 3600000) // version, token: channel, id, created (8), lifetime
		b = Str(b, []byte{})
		return Frame("OPN", 'F', b)
	}
	b = Str(Str(Str(b, Policy(policy)), Opaque(4, 900)), Opaque(5, 20))
	return Frame("OPN", 'F', append(b, Opaque(6, 256)...))
}

// Chan is a secure channel's identity in MSG and CLO chunks.
type Chan struct{ ID, Token uint32 }

// Chunk is a MSG (or CLO, by typ) chunk on ch with a sequence header and
// the given body bytes.
func (ch Chan) Chunk(typ string, chunk byte, seq, reqID uint32, body []byte) []byte {
	return Frame(typ, chunk, append(U32(nil, ch.ID, ch.Token, seq, reqID), body...))
}

// Request is a single-chunk MSG request of service s (its request
// encoding id) with a RequestHeader and extra body bytes.
func (ch Chan) Request(s opcua.Service, seq, reqID uint32, extra []byte) []byte {
	return ch.RequestID(s.RequestID(), seq, reqID, extra)
}

// RequestID is Request by numeric type id.
func (ch Chan) RequestID(typeID, seq, reqID uint32, extra []byte) []byte {
	body := append(NodeID(nil, typeID), RequestHeader(reqID)...)
	return ch.Chunk("MSG", 'F', seq, reqID, append(body, extra...))
}

// Response is a single-chunk MSG response of service s with status result.
func (ch Chan) Response(s opcua.Service, seq, reqID, result uint32, extra []byte) []byte {
	id := s.RequestID() + 3
	if s == opcua.ServiceFault {
		id = 397
	}
	body := append(NodeID(nil, id), ResponseHeader(reqID, result)...)
	return ch.Chunk("MSG", 'F', seq, reqID, append(body, extra...))
}

// Encrypted is a MSG chunk on ch whose bytes after the token id are n
// opaque bytes, as under SignAndEncrypt.
func (ch Chan) Encrypted(chunk byte, n int) []byte {
	return Frame("MSG", chunk, append(U32(nil, ch.ID, ch.Token), Opaque(byte(n), n)...))
}

// Opaque returns n deterministic pseudo-random bytes (seeded by seed)
// that stand for ciphertext or a certificate.
func Opaque(seed byte, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x >> 3)
	}
	return b
}
