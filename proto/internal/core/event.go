package core

import (
	"log/slog"
	"strconv"
)

// Event is the PDU that made a verdict, for the "app" object of its
// verdict line. It is fixed-size and copied by value into the engine's
// event, so the packet path fills it without allocating; a protocol keeps
// its fields in the generic slots (its own constants name them) and
// renders them in Protocol.Attrs when the line is written.
type Event struct {
	Side     Side
	Violates Failure
	Has      uint16 // which of the protocol's fields are set: its own bits
	Offset   uint32 // bytes into the direction's stream since inspection began
	Err      string // the parser's error, a constant
	Detail   string // a constant

	B       [8]uint8
	H       [8]uint16
	W       [4]uint32
	TextLen uint8
	Text    [32]byte // a name the PDU carries (cut to 32 bytes)
}

// SetText keeps b (cut to 32 bytes) as the event's text.
func (e *Event) SetText(b []byte) { e.TextLen = uint8(copy(e.Text[:], b)) }

// TextString returns the text kept.
func (e *Event) TextString() string { return string(e.Text[:e.TextLen]) }

// NameAttrs appends key (the name, or the code where it has none) and
// key_code, as verdict lines give a code with its name.
func NameAttrs(as []slog.Attr, key, name string, code int) []slog.Attr {
	if name == "" {
		name = strconv.Itoa(code)
	}
	return append(as, slog.String(key, name), slog.Int(key+"_code", code))
}
