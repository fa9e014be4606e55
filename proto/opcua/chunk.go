package opcua

// Kind is a chunk's place in its message (Part 6, 6.7.2: a message is
// sent as C chunks and a closing F, or abandoned by an A; only the first
// chunk's body begins with the type NodeId, and UA TCP does not
// interleave the chunks of different messages on a channel).
type Kind uint8

const (
	KindSingle Kind = iota // an F chunk with no message open: a whole message
	KindFirst              // a C chunk opening a message: its type NodeId names the service
	KindMiddle             // a C chunk continuing the open message
	KindFinal              // the F chunk closing the open message
	KindAbort              // an A chunk: the open message (if any) is abandoned
	KindStray              // a continuation whose request id is not the open message's
)

var kindNames = [...]string{"single", "first", "middle", "final", "abort", "stray"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return ""
}

// Chunks follows the chunks of one direction of a secure channel. The
// zero value has no message open. It is a small value: a caller that may
// refuse a chunk works on a copy and keeps it only if the chunk passes.
type Chunks struct {
	open      bool
	known     bool // requestID was read (the channel is not encrypted)
	response  bool
	service   Service
	typeID    uint32
	requestID uint32
	count     uint32 // chunks of the open message so far
}

// Open reports whether a message is open: the next chunk continues it
// (Hint.Continues).
func (c *Chunks) Open() bool { return c.open }

// Count is the number of chunks of the open message seen so far.
func (c *Chunks) Count() uint32 { return c.count }

// Next places the chunk p, parsed with Hint{Continues: c.Open()}, in its
// message and advances. For a continuation (middle, final or abort of an
// open message) it copies the open message's type into p (HasType,
// TypeID, Service, Response), so every chunk names its message's service.
// Connection messages (HEL, ACK, ERR, RHE) are always KindSingle.
func (c *Chunks) Next(p *Message) Kind {
	if p.Type < TypeOpen {
		return KindSingle
	}
	known := !p.Encrypted
	if c.open && p.Chunk != ChunkAbort && known && c.known && p.RequestID != c.requestID {
		*c = Chunks{}
		return KindStray
	}
	if c.open {
		p.HasType, p.TypeID, p.Service, p.Response = c.known, c.typeID, c.service, c.response
	}
	switch p.Chunk {
	case ChunkIntermediate:
		if c.open {
			c.count++
			return KindMiddle
		}
		*c = Chunks{open: true, known: known && p.HasType, response: p.Response, service: p.Service,
			typeID: p.TypeID, requestID: p.RequestID, count: 1}
		return KindFirst
	case ChunkFinal:
		if c.open {
			*c = Chunks{}
			return KindFinal
		}
		return KindSingle
	}
	*c = Chunks{}
	return KindAbort
}
