// Package opcua decodes OPC UA binary over TCP (UA TCP and UA Secure
// Conversation, OPC 10000-6 sections 6 and 7) for the policy engine: the
// message header (HEL, ACK, ERR, RHE, OPN, MSG, CLO; chunk F, C or A;
// size), the connection and error messages' fields, an OpenSecureChannel's
// security policy and, where readable, its security mode and token, and a
// service message's channel, token, sequence number, request id and the
// type NodeId of its body, which names the service.
//
// Decoding is zero-copy and allocation-free: Parse fills a caller-owned
// Message whose byte fields are views into the input. A chunk may be
// larger than the stream layer keeps at once, so Parse judges a chunk from
// a prefix: it needs the bytes up to the last field it decodes (for a MSG,
// the body's type NodeId), and reports the chunk's declared length, which
// may exceed the bytes it was given; pdu.ErrShort tells "wait for more bytes"
// apart from malformed input.
//
// What can be read depends on the channel, which Parse does not follow:
// the caller passes what it knows (Hint), and Chunks follows a direction's
// chunks, telling a message's first chunk (the one with the type NodeId)
// from its continuations.
package opcua

import "encoding/binary"

// Framing sizes.
const (
	Port      = 4840
	HeaderLen = 8 // message type (3), chunk type (1), message size (4)
	// MaxSize bounds a chunk's declared size: far above any negotiated
	// buffer (stacks default to 64 KiB), low enough that a garbage size is
	// taken for what it is.
	MaxSize = 1 << 24
	// MaxURL is the specification's limit on HEL's and RHE's URLs and ERR's
	// reason (Part 6, 7.1.2).
	MaxURL = 4096
)

// Type is a message's type, the header's first three bytes.
type Type uint8

const (
	TypeInvalid      Type = iota
	TypeHello             // HEL: client's connection request
	TypeAcknowledge       // ACK: server's answer to HEL
	TypeError             // ERR: the connection is closed with a status
	TypeReverseHello      // RHE: a server opening a connection to a client
	TypeOpen              // OPN: OpenSecureChannel
	TypeMessage           // MSG: a service request or response
	TypeClose             // CLO: CloseSecureChannel
)

var typeCodes = [...]string{TypeHello: "HEL", TypeAcknowledge: "ACK", TypeError: "ERR",
	TypeReverseHello: "RHE", TypeOpen: "OPN", TypeMessage: "MSG", TypeClose: "CLO"}

// String returns the three-letter code of the type ("" for TypeInvalid).
func (t Type) String() string {
	if int(t) < len(typeCodes) {
		return typeCodes[t]
	}
	return ""
}

// typeOf reads the three-byte message type.
func typeOf(b []byte) Type {
	switch string(b[:3]) {
	case "HEL":
		return TypeHello
	case "ACK":
		return TypeAcknowledge
	case "ERR":
		return TypeError
	case "RHE":
		return TypeReverseHello
	case "OPN":
		return TypeOpen
	case "MSG":
		return TypeMessage
	case "CLO":
		return TypeClose
	}
	return TypeInvalid
}

// Chunk types: the last (or only) chunk of a message, one more follows,
// or the sender abandons the message.
const (
	ChunkFinal        = 'F'
	ChunkIntermediate = 'C'
	ChunkAbort        = 'A'
)

// minSize is the smallest sound size of each type: HEL and ACK have five
// UInt32s (HEL an endpoint URL after them); ERR a status and a reason; RHE
// two strings; OPN a channel id, three length fields and a sequence
// header; MSG and CLO a channel id, a token id and a sequence header.
var minSize = [...]int{
	TypeHello:        HeaderLen + 20 + 4,
	TypeAcknowledge:  HeaderLen + 20,
	TypeError:        HeaderLen + 4 + 4,
	TypeReverseHello: HeaderLen + 4 + 4,
	TypeOpen:         HeaderLen + 4 + 12 + 8,
	TypeMessage:      HeaderLen + 4 + 4 + 8,
	TypeClose:        HeaderLen + 4 + 4 + 8,
}

// maxSize is the largest sound size of each type.
var maxSize = [...]int{
	TypeHello:        HeaderLen + 20 + 4 + MaxURL,
	TypeAcknowledge:  HeaderLen + 20,
	TypeError:        HeaderLen + 4 + 4 + MaxURL,
	TypeReverseHello: HeaderLen + 4 + 4 + 2*MaxURL,
	TypeOpen:         MaxSize,
	TypeMessage:      MaxSize,
	TypeClose:        MaxSize,
}

// FrameLen returns the size a message header declares, 0 if b is shorter
// than a header. The stream layer uses it to pass over a chunk it does not
// keep.
func FrameLen(b []byte) int {
	if len(b) < HeaderLen {
		return 0
	}
	return int(binary.LittleEndian.Uint32(b[4:]))
}
