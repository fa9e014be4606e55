package learn

import "bytes"

// The TCP stream layer of the engine's protocol inspection
// (engine/stream.go), mirrored so that learn sees a flow's PDUs as the
// engine will judge them: split requests whole, retransmissions once, and
// gaps where the engine finds them. A draft condition must allow what the
// engine judges, no more and no less; the round-trip tests of cmd/conduit
// replay every draft through the engine to hold the two together.

// Buffer sizes of the engine's stream layer: each direction keeps
// streamBuf bytes, and borrows a pduMax buffer while its unfinished PDU
// is bigger; an application-layer reassembly (a DNP3 fragment, an S7 PDU
// over several COTP DT TPDUs) holds at most asmMax bytes. A request PDU
// declaring more than pduMax is unparsed there.
const (
	streamBuf = 1152
	pduMax    = 4096
	asmMax    = pduMax / 2
)

// Sides of an inspected flow, by role.
const (
	reqSide = 0 // client to server: the rule's direction
	rspSide = 1
)

// streamDir is the reassembly state of one direction of a TCP flow.
type streamDir struct {
	next     uint32 // next expected sequence number
	acked    uint32 // the peer has acknowledged everything before it (ackKnown)
	skip     uint32 // bytes of an oversized PDU still to pass unparsed
	buf      []byte // the bytes just before next, at most streamBuf (pduMax while large)
	part     int    // the last part bytes of buf are an unfinished PDU
	large    bool   // the engine lends this direction a large buffer: its PDU outgrew streamBuf
	synced   bool
	ackKnown bool
	lost     bool // the PDU boundary is lost: each segment is a fresh start
}

// sync starts inspection at seq with nothing kept.
func (s *streamDir) sync(seq uint32) {
	*s = streamDir{next: seq, synced: true, buf: s.buf[:0]}
}

// segKind is where a segment's data lies relative to the stream.
type segKind uint8

const (
	segNew      segKind = iota // in order, or a retransmission followed by new data
	segOld                     // only data already passed, and it matches
	segGap                     // starts beyond next
	segMismatch                // old data that differs from what passed, or cannot be checked
)

// locate places a segment and returns the part of its data not yet seen.
func (s *streamDir) locate(seq uint32, data []byte) (segKind, []byte) {
	rel := int32(seq - s.next)
	switch {
	case rel == 0:
		return segNew, data
	case rel > 0:
		return segGap, nil
	}
	before := uint32(-rel)
	old := data[:min(uint32(len(data)), before)]
	start := seq
	if s.ackKnown {
		if d := int32(s.acked - seq); d > 0 {
			k := min(uint32(d), uint32(len(old)))
			old, start = old[k:], start+k
		}
	}
	if len(old) > 0 {
		back := int(s.next - start)
		n := len(s.buf)
		if back > n || !bytes.Equal(s.buf[n-back:n-back+len(old)], old) {
			return segMismatch, nil
		}
	}
	if uint32(len(data)) > before {
		return segNew, data[before:]
	}
	return segOld, nil
}

// commit records data as passed; its last part bytes (with what was kept)
// are an unfinished PDU. large: the walk found that PDU bigger than
// streamBuf, so the engine lends the direction a large buffer, which it
// gives back once the unfinished part fits in streamBuf again.
func (s *streamDir) commit(data []byte, part int, large bool) {
	s.large = s.large || large
	limit := streamBuf
	if s.large {
		limit = pduMax
	}
	s.next += uint32(len(data))
	if s.buf == nil {
		s.buf = make([]byte, 0, streamBuf)
	}
	if len(data) >= limit {
		s.buf = append(s.buf[:0], data[len(data)-limit:]...)
	} else {
		keep := min(len(s.buf), limit-len(data))
		s.buf = append(s.buf[:0], s.buf[len(s.buf)-keep:]...)
		s.buf = append(s.buf, data...)
	}
	s.part = part
	if s.large && s.part <= streamBuf {
		k := min(len(s.buf), streamBuf)
		s.buf = append(s.buf[:0], s.buf[len(s.buf)-k:]...)
		s.large = false
	}
}

// unfinished returns the kept start of an unfinished PDU.
func (s *streamDir) unfinished() []byte { return s.buf[len(s.buf)-s.part:] }

// ack notes an acknowledgement from the peer, never beyond what passed.
func (s *streamDir) ack(a uint32) {
	if !s.synced {
		return
	}
	if int32(a-s.next) > 0 {
		a = s.next
	}
	if !s.ackKnown || int32(a-s.acked) > 0 {
		s.acked, s.ackKnown = a, true
	}
}

// assembly is one direction's application-layer reassembly in the
// engine: the pieces of an S7 PDU that COTP split over DT TPDUs, or the
// transport segments of a DNP3 application fragment.
type assembly struct {
	buf      []byte // S7: the pieces gathered
	active   bool   // a PDU is pending: its last piece has not come
	decided  bool   // the first piece decided it: the rest is neither kept nor judged
	seq      uint8  // DNP3: the transport sequence number the next segment must carry
	src, dst uint16 // DNP3: the link addresses of the fragment
	pending  string // DNP3: the fragment's request, counted when FIN completes it
}

// appStream is the inspection state of one flow of an industrial
// service: both directions of a TCP stream, and the reassemblies (all a
// DNP3 flow over UDP keeps).
type appStream struct {
	dir   [2]streamDir
	asm   [2]assembly // by the side the pieces travel
	s7PDU uint16      // the S7 PDU size setup communication asked for, then granted
}
