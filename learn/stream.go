package learn

import "bytes"

// The TCP stream layer of the engine's protocol inspection
// (engine/stream.go), mirrored so that learn sees a flow's PDUs as the
// engine will judge them: split requests whole, retransmissions once, and
// gaps where the engine finds them. A draft condition must allow what the
// engine judges, no more and no less; the round-trip tests of cmd/conduit
// replay every draft through the engine to hold the two together.

// streamBuf is what one direction of an inspected flow keeps in the engine:
// the start of an unfinished PDU and, before it, the latest bytes passed.
// A request PDU declaring more is unparsed there.
const streamBuf = 1152

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
	buf      []byte // the bytes just before next, at most streamBuf
	part     int    // the last part bytes of buf are an unfinished PDU
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
// are an unfinished PDU.
func (s *streamDir) commit(data []byte, part int) {
	s.next += uint32(len(data))
	if s.buf == nil {
		s.buf = make([]byte, 0, streamBuf)
	}
	if len(data) >= streamBuf {
		s.buf = append(s.buf[:0], data[len(data)-streamBuf:]...)
	} else {
		keep := min(len(s.buf), streamBuf-len(data))
		s.buf = append(s.buf[:0], s.buf[len(s.buf)-keep:]...)
		s.buf = append(s.buf, data...)
	}
	s.part = part
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

// appStream is the inspection state of one TCP flow of an industrial
// service: both directions and the protocol's state between PDUs.
type appStream struct {
	dir      [2]streamDir
	dnp3Cont bool    // a multi-segment DNP3 request whose first segment passed continues
	s7Frag   [2]bool // an S7 PDU split over COTP DT TPDUs continues
}
