package opcua

import (
	"encoding/binary"

	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// What is malformed in a message (besides pdu.ErrShort: incomplete, wait
// for more bytes); the text suits malformed-opcua log reasons.
const (
	ErrBadType   pdu.Error = "bad-message-type" // not one of HEL ACK ERR RHE OPN MSG CLO
	ErrBadChunk  pdu.Error = "bad-chunk-type"   // not F, C or A; or not F on HEL ACK ERR RHE
	ErrBadSize   pdu.Error = "bad-size"         // below the type's fields or above its limit
	ErrBadString pdu.Error = "bad-string"       // a length below -1, past the message or above its limit
	ErrBadNodeID pdu.Error = "bad-node-id"      // an unknown NodeId encoding
	ErrBadBody   pdu.Error = "bad-body"         // the fields do not fit the message
)

// Hint is what the caller knows of a chunk before Parse reads it.
type Hint struct {
	// Mode is the channel's security mode as far as known: under
	// SignAndEncrypt a MSG or CLO is encrypted after its token id; under
	// None or Sign it is in the clear; ModeUnknown makes Parse guess (see
	// Message.Encrypted).
	Mode Mode
	// Continues says a message of this direction is open (Chunks.Open):
	// the chunk carries more of its body, with no type NodeId.
	Continues bool
}

// Message is a decoded chunk. Parse overwrites every field; byte fields
// are views into Parse's input.
type Message struct {
	Type  Type
	Chunk byte   // ChunkFinal, ChunkIntermediate or ChunkAbort
	Size  uint32 // the chunk's length on the wire, header included

	// HEL and ACK. EndpointURL is HEL's or RHE's.
	Version           uint32
	ReceiveBufferSize uint32
	SendBufferSize    uint32
	MaxMessageSize    uint32
	MaxChunkCount     uint32
	EndpointURL       []byte
	ServerURI         []byte // RHE

	// ERR, and an A chunk read in the clear.
	ErrorCode uint32 // a StatusCode
	Reason    []byte

	// OPN, MSG and CLO.
	ChannelID uint32 // the secure channel (0 in the first OPN request)
	// OPN's asymmetric security header: the policy URI and the lengths of
	// the certificate and thumbprint as sent (-1: null; the thumbprint's
	// is read only under the None policy, 0 otherwise).
	Policy        []byte
	SenderCertLen int32
	ThumbprintLen int32
	// TokenID is MSG's and CLO's symmetric security header; in an OPN
	// response read in the clear, the token the server issued.
	TokenID uint32
	// Encrypted says the sequence header and body cannot be read: an OPN
	// whose policy is not None (Part 6: asymmetric messages are encrypted
	// in modes Sign and SignAndEncrypt alike), a MSG or CLO under a
	// SignAndEncrypt hint, or, with no hint, one whose bytes after the
	// token id do not show a clear sequence header and a known service's
	// type NodeId in namespace 0 (the guess is wrong only for an unknown
	// service on a signed channel).
	Encrypted      bool
	SequenceNumber uint32 // when not Encrypted
	RequestID      uint32 // when not Encrypted; a response carries its request's

	// The body's type NodeId, in the first chunk of a message that is not
	// Encrypted (HasType). Service is ServiceUnknown for a NodeId outside
	// namespace 0, a non-numeric one, or an id no service has; Response
	// tells a response encoding (and ServiceFault) from a request.
	HasType  bool
	TypeNS   uint16
	TypeID   uint32
	Service  Service
	Response bool
	// ServiceResult is a response's status (HasResult): the response
	// header's, or ServiceFault's.
	ServiceResult uint32
	HasResult     bool

	// An OPN request's RequestType (0 issue, 1 renew) and SecurityMode,
	// where its body is readable (HasMode).
	RequestType  uint32
	SecurityMode Mode
	HasMode      bool
	HasToken     bool // an OPN response's TokenID was read

	// Split says a C chunk ends before the body fields Parse reads (its
	// type NodeId, a response's result, an OPN's mode or token): they
	// continue in the next chunk, which the caller must gather to judge
	// the message.
	Split bool

	inBody bool // the sequence header was read: a decode error is the body's
}

// Parse decodes the chunk at the start of b and returns its length on
// the wire (Size). n may exceed len(b): Parse needs only the bytes up to
// the last field it reads (HEL, ACK, ERR and RHE whole; an OPN through
// its request's SecurityMode or its response's token; a MSG or CLO
// through its type NodeId and a response's service result); the caller
// passes over the rest of the chunk.
//
// pdu.ErrShort means b ends before those fields (the stream layer waits for
// more). ErrBadType, ErrBadChunk and ErrBadSize mean the bytes cannot be
// framed; n is then 0. For the other errors the framing was sound: n is
// the chunk's size, so a caller may skip it, and the header fields are
// set.
func Parse(b []byte, h Hint, p *Message) (n int, err pdu.Error) {
	*p = Message{}
	if len(b) >= 3 {
		if p.Type = typeOf(b); p.Type == TypeInvalid {
			return 0, ErrBadType
		}
	}
	if len(b) >= 4 {
		switch p.Chunk = b[3]; {
		case p.Chunk != ChunkFinal && p.Chunk != ChunkIntermediate && p.Chunk != ChunkAbort,
			p.Chunk != ChunkFinal && p.Type < TypeOpen:
			return 0, ErrBadChunk
		}
	}
	if len(b) < HeaderLen {
		return 0, pdu.ErrShort
	}
	p.Size = binary.LittleEndian.Uint32(b[4:])
	if int64(p.Size) < int64(minSize[p.Type]) || int64(p.Size) > int64(maxSize[p.Type]) {
		return 0, ErrBadSize
	}
	n = int(p.Size)
	d := dec{b: b, i: HeaderLen, size: n}
	switch p.Type {
	case TypeHello, TypeAcknowledge:
		p.Version, p.ReceiveBufferSize, p.SendBufferSize = d.u32(), d.u32(), d.u32()
		p.MaxMessageSize, p.MaxChunkCount = d.u32(), d.u32()
		if p.Type == TypeHello {
			p.EndpointURL = d.url()
		}
	case TypeError:
		p.ErrorCode = d.u32()
		p.Reason = d.url()
	case TypeReverseHello:
		p.ServerURI = d.url()
		p.EndpointURL = d.url()
	case TypeOpen:
		p.ChannelID = d.u32()
		open(&d, h, p)
	default:
		p.ChannelID, p.TokenID = d.u32(), d.u32()
		symmetric(&d, h, p)
	}
	if d.past && p.Chunk == ChunkIntermediate && p.inBody && !p.Encrypted {
		// A body may be cut anywhere between chunks: what this one lacks
		// is in the next.
		d.bad, p.Split = pdu.OK, true
	}
	switch {
	case d.bad != pdu.OK:
		return n, d.bad
	case d.out:
		return 0, pdu.ErrShort
	case p.Type < TypeOpen && d.i != n:
		return n, ErrBadBody // the message holds bytes beyond its fields
	}
	return n, pdu.OK
}

// url reads one of the connection messages' strings, at most MaxURL
// bytes.
func (d *dec) url() []byte {
	s, _ := d.bytesMax(MaxURL)
	return s
}

// maxPolicyURI is the specification's limit on SecurityPolicyUri.
const maxPolicyURI = 255

// open reads an OPN's asymmetric security header and, under the None
// policy, its sequence header and the OpenSecureChannel request's mode or
// response's token.
func open(d *dec, h Hint, p *Message) {
	p.Policy, _ = d.bytesMax(maxPolicyURI)
	if d.failed() {
		return
	}
	if !PolicyNone(p.Policy) {
		// Nothing after the certificate is readable: its length is
		// enough (a chain may be larger than the stream buffer).
		p.SenderCertLen = d.length()
		p.Encrypted = !d.failed()
		return
	}
	_, p.SenderCertLen = d.bytes()
	_, p.ThumbprintLen = d.bytes()
	if d.failed() {
		return
	}
	p.SequenceNumber, p.RequestID = d.u32(), d.u32()
	p.inBody = !d.failed()
	if h.Continues || p.Chunk == ChunkAbort || !typeID(d, p) {
		return
	}
	switch {
	case p.Service == OpenSecureChannel && !p.Response:
		d.requestHeader()
		d.skip(4) // client protocol version
		p.RequestType = d.u32()
		if m := d.u32(); !d.failed() {
			if m < uint32(ModeNone) || m > uint32(ModeSignAndEncrypt) {
				d.bad = ErrBadBody
			}
			p.SecurityMode, p.HasMode = Mode(m), true
		}
	case p.Service == OpenSecureChannel:
		p.ServiceResult = d.responseHeader()
		p.HasResult = !d.failed()
		d.skip(4) // server protocol version
		p.ChannelID, p.TokenID = d.u32(), d.u32()
		p.HasToken = !d.failed()
	case p.Response:
		result(d, p)
	}
}

// symmetric reads what follows a MSG's or CLO's token id.
func symmetric(d *dec, h Hint, p *Message) {
	switch {
	case d.failed():
		return
	case h.Mode == ModeSignAndEncrypt:
		p.Encrypted = true
		return
	case h.Mode == ModeUnknown && !h.Continues && p.Chunk != ChunkAbort:
		// Guess: read as clear, and take for encrypted what does not
		// show a known service.
		g := *d
		g.skip(8)
		ns, id, numeric := g.nodeID(false)
		if g.out {
			d.out = true
			return
		}
		if s, _ := ServiceOf(id); g.bad != pdu.OK || !numeric || ns != 0 || s == ServiceUnknown {
			p.Encrypted = true
			return
		}
	}
	p.SequenceNumber, p.RequestID = d.u32(), d.u32()
	p.inBody = !d.failed()
	if p.Chunk == ChunkAbort { // the body is an error and a reason
		p.ErrorCode, p.Reason = d.u32(), d.url()
		return
	}
	if h.Continues || !typeID(d, p) {
		return
	}
	if p.Response {
		result(d, p)
	}
}

// typeID reads a body's type NodeId, reporting whether it was read.
func typeID(d *dec, p *Message) bool {
	ns, id, numeric := d.nodeID(false)
	if d.failed() {
		return false
	}
	p.HasType, p.TypeNS = true, ns
	if numeric {
		p.TypeID = id
		if ns == 0 {
			p.Service, p.Response = ServiceOf(id)
		}
	}
	return true
}

// result reads a response's service result: the ResponseHeader's third
// field (ServiceFault is a ResponseHeader alone).
func result(d *dec, p *Message) {
	d.skip(8 + 4) // timestamp, request handle
	p.ServiceResult = d.u32()
	p.HasResult = !d.failed()
}
