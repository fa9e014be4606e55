// Package pdu holds what the industrial protocol parsers under proto/
// share: the direction of a PDU and the allocation-free result of a
// parse. The parsers, their tests and test kits use these names as they
// are (pdu.Dir, pdu.Error, pdu.OK, pdu.ErrShort); users outside proto/
// know them as proto.Side, proto.ParseError, proto.ParseOK and
// proto.ParseShort.
package pdu

// Dir is the direction of a PDU: requests go from the client to the
// protocol's port, responses come back.
type Dir uint8

const (
	Request Dir = iota
	Response
)

// DirOf is the direction of bytes the server sent (fromServer: they come
// from the protocol's port) or the client.
func DirOf(fromServer bool) Dir {
	if fromServer {
		return Response
	}
	return Request
}

func (d Dir) String() string {
	if d == Response {
		return "response"
	}
	return "request"
}

// Error says why a parser rejected its input: OK is success, ErrShort
// means the buffer ends before the PDU does (more of the stream is
// needed), and each parser names its other values after what is
// malformed. It is a plain string, not an error value, so returning one
// never allocates and its text suits log reasons as it is.
type Error string

const (
	OK       Error = ""
	ErrShort Error = "short"
)
