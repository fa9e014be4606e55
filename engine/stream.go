package engine

import (
	"bytes"
	"sync"

	"github.com/conduit-ot/conduit/rules"
)

// streamBuf is what one direction of an inspected TCP flow keeps: the
// start of a PDU that continues in a later segment and, before it, the
// latest bytes already passed, against which a retransmission is checked.
// It holds the largest PDUs met in practice whole (S7 PDUs of 960 bytes in
// a 1024-byte COTP TPDU, CIP unconnected messages of about 550 bytes);
// Modbus ADUs (260) and DNP3 frames (292) always fit. A request PDU
// declaring more is unparsed (on_unparsed decides); a response that large
// is passed unparsed and the stream stays in step.
const streamBuf = 1152

// streamDir is the reassembly state of one direction of a TCP flow.
type streamDir struct {
	base     uint32 // sequence number inspection began at: log offsets count from it
	next     uint32 // next expected sequence number
	acked    uint32 // the peer has acknowledged everything before it (ackKnown)
	skip     uint32 // bytes of an oversized PDU still to pass unparsed
	refused  uint32 // sequence number of the last refused segment (refusedSet)
	n        int    // buf[:n] are the n bytes just before next
	part     int    // the last part bytes of buf[:n] are an unfinished PDU
	synced   bool   // next is known
	ackKnown bool
	lost     bool // the PDU boundary is lost: each segment is tried as a fresh start
	refSet   bool
	buf      [streamBuf]byte
}

// sync starts inspection at seq with nothing buffered.
func (s *streamDir) sync(seq uint32) {
	*s = streamDir{base: seq, next: seq, synced: true}
}

// segKind is where a segment's data lies relative to the stream.
type segKind uint8

const (
	segNew      segKind = iota // in order, or a retransmission followed by new data
	segOld                     // only data already passed, and it matches
	segGap                     // starts beyond next: something before it is missing
	segMismatch                // old data that differs from what passed, or cannot be checked
)

// locate places a segment (sequence number seq, payload data) and returns
// the part of data not yet seen. Old data is checked against the bytes
// kept, except what the receiver has acknowledged (it ignores that).
func (s *streamDir) locate(seq uint32, data []byte) (segKind, []byte) {
	rel := int32(seq - s.next)
	switch {
	case rel == 0:
		return segNew, data
	case rel > 0:
		return segGap, nil
	}
	before := uint32(-rel) // bytes of data before next
	old := data[:min(uint32(len(data)), before)]
	start := seq
	if s.ackKnown {
		if d := int32(s.acked - seq); d > 0 {
			k := min(uint32(d), uint32(len(old)))
			old, start = old[k:], start+k
		}
	}
	if len(old) > 0 {
		back := int(s.next - start) // how far before next old begins
		if back > s.n || !bytes.Equal(s.buf[s.n-back:s.n-back+len(old)], old) {
			return segMismatch, nil
		}
	}
	if uint32(len(data)) > before {
		return segNew, data[before:]
	}
	return segOld, nil
}

// commit records data as passed; the last part bytes of the stream (a
// suffix of the kept bytes and data, at most streamBuf) are unfinished.
func (s *streamDir) commit(data []byte, part int) {
	s.next += uint32(len(data))
	if len(data) >= streamBuf {
		s.n = copy(s.buf[:], data[len(data)-streamBuf:])
	} else {
		keep := min(s.n, streamBuf-len(data))
		copy(s.buf[:], s.buf[s.n-keep:s.n])
		s.n = keep + copy(s.buf[keep:], data)
	}
	s.part = part
}

// unfinished returns the kept start of an unfinished PDU.
func (s *streamDir) unfinished() []byte { return s.buf[s.n-s.part : s.n] }

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

// flowStream is the inspection state of one TCP flow whose rule has a
// protocol condition: both directions, the protocol's state between PDUs
// and the reset in progress.
type flowStream struct {
	owner uint64 // flow ID; a slot whose owner differs is stale
	proto rules.AppProto
	dir   [2]streamDir // by role: reqSide (client to server), rspSide

	dnp3Cont bool    // a multi-segment DNP3 request whose first segment passed continues
	s7Frag   [2]bool // an S7 PDU split over COTP DT TPDUs continues
	reset    resetState
	logAt    int64  // clock of the flow's last accepted app line (exceptions, allowed unparsed)
	pkts     uint64 // the flow's packet count when last inspected: a jump means packets went uninspected
}

const (
	reqSide = 0
	rspSide = 1
)

// streamPool hands out flowStreams to one worker's inspected flows. Slots
// are allocated in chunks and recycled: the worker takes them on its
// packet path, and the flow's end (reported by conntrack, possibly on the
// sweeper's goroutine) returns them. Only the free list is shared.
type streamPool struct {
	mu     sync.Mutex
	free   []int32
	chunks [][]flowStream // owned by the worker
	used   int32
}

const (
	streamChunk    = 64
	maxStreamSlots = 1<<24 - 1 // what the Mark bits can name
)

// get returns a fresh slot, or -1 when the pool is at its limit.
func (p *streamPool) get(owner uint64, proto rules.AppProto) (int32, *flowStream) {
	i := int32(-1)
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		i = p.free[n-1]
		p.free = p.free[:n-1]
	}
	p.mu.Unlock()
	if i < 0 {
		if p.used >= maxStreamSlots {
			return -1, nil
		}
		if int(p.used)/streamChunk == len(p.chunks) {
			p.chunks = append(p.chunks, make([]flowStream, streamChunk))
		}
		i = p.used
		p.used++
	}
	s := p.at(i)
	s.reinit(owner, proto)
	return i, s
}

func (p *streamPool) at(i int32) *flowStream { return &p.chunks[i/streamChunk][i%streamChunk] }

// put returns a slot; any goroutine may call it.
func (p *streamPool) put(i int32) {
	p.mu.Lock()
	p.free = append(p.free, i)
	p.mu.Unlock()
}

// reinit readies a slot for a new flow.
func (s *flowStream) reinit(owner uint64, proto rules.AppProto) {
	s.owner, s.proto = owner, proto
	s.dir[0].sync(0)
	s.dir[1].sync(0)
	s.dir[0].synced, s.dir[1].synced = false, false
	s.dnp3Cont, s.s7Frag = false, [2]bool{}
	s.reset = resetState{}
	s.logAt, s.pkts = 0, 0
}
