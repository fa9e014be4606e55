package inspect

import (
	"bytes"
	"sync"

	"github.com/conduit-ot/conduit/proto"
	"github.com/conduit-ot/conduit/rules"
)

// Buffer sizes of the stream layer.
//
// Every inspected flow keeps StreamBuf bytes per direction: the start of a
// PDU that continues in a later segment and, before it, the latest bytes
// already passed, against which a retransmission is checked. That holds
// the PDUs met day to day whole (Modbus ADUs of 260 bytes, DNP3 frames of
// 292, CIP unconnected messages of about 550, S7 PDUs of 960 in a 1024-byte
// COTP TPDU). Raising it for the rare bigger PDU would multiply by the
// table's capacity; instead a direction whose unfinished PDU outgrows it
// borrows one of its worker's large buffers (PDUMax bytes, at most
// MaxLarge per worker) until the PDU is whole, and so does an
// application-layer reassembly (a DNP3 fragment over several transport
// segments, an S7 PDU over several COTP DT TPDUs; see asm.go).
//
// A request PDU declaring more than PDUMax bytes (ENIP allows 65535; real
// connected messaging stays under 4 KB), or one that needs a large buffer
// when all are lent, is unparsed (on_unparsed decides); a response that
// large is passed unparsed. Either way its bytes are stepped over and the
// stream stays in step.
const (
	StreamBuf = 1152
	PDUMax    = 4096
	MaxLarge  = 64 // the default Config.LargeBuffers
	// asmMax bounds one application-layer reassembly: half a large
	// buffer, so that a PDU beginning in a packet can be gathered behind
	// the pending one it follows without overwriting it (the packet may
	// still be refused, and then the pending one stands).
	asmMax = PDUMax / 2
)

var _ [asmMax - proto.AsmMax]struct{} // the protocols' bound is the follower's

// streamDir is the reassembly state of one direction of a TCP flow.
type streamDir struct {
	base     uint32 // sequence number inspection began at: log offsets count from it
	next     uint32 // next expected sequence number
	acked    uint32 // the peer has acknowledged everything before it (ackKnown)
	skip     uint32 // bytes of an oversized PDU still to pass unparsed
	refused  uint32 // sequence number of the last refused segment (refusedSet)
	n        int    // store[:n] are the n bytes just before next
	part     int    // the last part bytes of store[:n] are an unfinished PDU
	large    uint16 // the large buffer that is the store (ref, 0: none: buf is)
	synced   bool   // next is known
	ackKnown bool
	lost     bool // the PDU boundary is lost: each segment is tried as a fresh start
	refSet   bool
	// opening: a SYN started this direction over and the peer has not
	// answered it with a SYN-ACK. A receiver that never accepted the SYN
	// (one sent into an established connection) still counts the old
	// sequence numbers, so data sent now would be read by it from
	// elsewhere than the follower reads it.
	opening bool
	buf     [StreamBuf]byte
}

// sync starts inspection at seq with nothing buffered. The caller gives
// back any large buffer first (pool.sync).
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
	segEarly                   // data before the peer answered the SYN that started the direction
)

// locate places a segment (sequence number seq, payload data) and returns
// the part of data not yet seen. Old data is checked against the bytes
// kept (store, see pool.store), except what the receiver has
// acknowledged (it ignores that).
func (s *streamDir) locate(store []byte, seq uint32, data []byte) (segKind, []byte) {
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
		if back > s.n || !bytes.Equal(store[s.n-back:s.n-back+len(old)], old) {
			return segMismatch, nil
		}
	}
	if uint32(len(data)) > before {
		return segNew, data[before:]
	}
	return segOld, nil
}

// commit records data as passed; the last part bytes of the stream (a
// suffix of the kept bytes and data, at most len(store)) are unfinished.
func (s *streamDir) commit(store, data []byte, part int) {
	s.next += uint32(len(data))
	if len(data) >= len(store) {
		s.n = copy(store, data[len(data)-len(store):])
	} else {
		keep := min(s.n, len(store)-len(data))
		copy(store, store[s.n-keep:s.n])
		s.n = keep + copy(store[keep:], data)
	}
	s.part = part
}

// unfinished returns the kept start of an unfinished PDU.
func (s *streamDir) unfinished(store []byte) []byte { return store[s.n-s.part : s.n] }

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

// Stream is the inspection state of one flow whose rule has a
// protocol condition (a stream slot): both directions of a TCP stream, the protocol's
// state between PDUs and the reset in progress. A UDP flow keeps only its
// reassemblies here (a protocol with proto.Info.Datagrams: DNP3).
//
// What every packet reads comes first, so that it shares the slot's
// first cache line; the directions' buffers follow.
type Stream struct {
	owner uint64      // flow ID; a slot whose owner differs is stale
	pkts  uint64      // the flow's packet count when last inspected: a jump means packets went uninspected
	asm   [2]assembly // application-layer reassembly, by the side it travels (asm.go)
	proto rules.AppProto
	word  uint16 // the protocol's word about the flow (proto.Stream.Word; S7: the negotiated PDU size)
	reset resetState
	logAt int64        // clock of the flow's last accepted app line (exceptions, allowed unparsed)
	dir   [2]streamDir // by role: ReqSide (client to server), RspSide
	// Cov is the Observer's about the flow (the engine: its coverage
	// tuple), cleared when the slot is given to another flow.
	Cov any
}

// assembly is one direction's application-layer reassembly: the pieces of
// an S7 PDU that COTP split over DT TPDUs, or the transport segments of a
// DNP3 application fragment. Its bytes, when kept, are buf[:n] of a large
// buffer; the protocol's inspector says when they are kept and judged.
type assembly = proto.Asm // Buf: ref of the large buffer holding the bytes (0: none)

// largeBuf is a buffer a worker lends to a flow direction while it holds
// a PDU or a reassembly bigger than StreamBuf.
type largeBuf [PDUMax]byte

// pool hands out flowStreams to one worker's inspected flows, and
// lends its large buffers. Slots are allocated in chunks and recycled: the
// worker takes them on its packet path, and the flow's end (reported by
// conntrack, possibly on the sweeper's goroutine) returns them. Only the
// free list is shared; the large buffers a freed slot still holds are
// taken back by the worker when it reuses the slot, or when it runs out
// (reclaim).
type pool struct {
	mu       sync.Mutex
	free     []int32
	scanned  int        // free[:scanned] hold no large buffer (mu)
	chunks   [][]Stream // owned by the worker, as is all below
	used     int32
	large    []*largeBuf
	spare    []uint16 // refs (index+1) of the large buffers lent to no one
	maxLarge int      // Config.LargeBuffers
}

const (
	streamChunk    = 64
	maxStreamSlots = 1<<24 - 1 // what the engine's flow mark can name
)

// get returns a fresh slot, or -1 when the pool is at its limit.
func (p *pool) get(owner uint64, proto rules.AppProto) (int32, *Stream) {
	i := int32(-1)
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		i = p.free[n-1]
		p.free = p.free[:n-1]
		p.scanned = min(p.scanned, n-1)
	}
	p.mu.Unlock()
	if i < 0 {
		if p.used >= maxStreamSlots {
			return -1, nil
		}
		if int(p.used)/streamChunk == len(p.chunks) {
			p.chunks = append(p.chunks, make([]Stream, streamChunk))
		}
		i = p.used
		p.used++
	}
	s := p.at(i)
	p.reinit(s, owner, proto)
	return i, s
}

func (p *pool) at(i int32) *Stream { return &p.chunks[i/streamChunk][i%streamChunk] }

// put returns a slot; any goroutine may call it.
func (p *pool) put(i int32) {
	p.mu.Lock()
	p.free = append(p.free, i)
	p.mu.Unlock()
}

// reinit readies a slot for a new flow, taking back its large buffers.
func (p *pool) reinit(s *Stream, owner uint64, proto rules.AppProto) {
	p.takeBack(s)
	s.owner, s.proto = owner, proto
	s.dir[0].sync(0)
	s.dir[1].sync(0)
	s.dir[0].synced, s.dir[1].synced = false, false
	s.asm = [2]assembly{}
	s.word = 0
	s.reset = resetState{}
	s.logAt, s.pkts = 0, 0
	s.Cov = nil
}

// takeBack returns the large buffers a slot holds, and forgets the bytes
// they held.
func (p *pool) takeBack(s *Stream) {
	for k := range s.dir {
		if d := &s.dir[k]; d.large != 0 {
			p.release(&d.large)
			d.n, d.part = 0, 0
		}
		if a := &s.asm[k]; a.Buf != 0 {
			p.release(&a.Buf)
			*a = assembly{}
		}
	}
}

// borrow lends a large buffer and returns its ref, or 0 when p.maxLarge
// are lent. The first p.maxLarge calls allocate, once each.
func (p *pool) borrow() uint16 {
	if len(p.spare) == 0 && len(p.large) == p.maxLarge {
		p.reclaim()
	}
	if n := len(p.spare); n > 0 {
		r := p.spare[n-1]
		p.spare = p.spare[:n-1]
		return r
	}
	if len(p.large) == p.maxLarge {
		return 0
	}
	if p.large == nil {
		n := min(p.maxLarge, MaxLarge) // beyond the default, append grows them
		p.large, p.spare = make([]*largeBuf, 0, n), make([]uint16, 0, n)
	}
	p.large = append(p.large, new(largeBuf))
	return uint16(len(p.large))
}

// lend returns the large buffer r.
func (p *pool) lend(r uint16) []byte { return p.large[r-1][:] }

// release gives back the large buffer *r, if any, and clears *r.
func (p *pool) release(r *uint16) {
	if *r != 0 {
		p.spare = append(p.spare, *r)
		*r = 0
	}
}

// reclaim takes back the large buffers of slots freed since the last
// call: a flow that ended with a PDU pending left one behind.
func (p *pool) reclaim() {
	p.mu.Lock()
	for _, i := range p.free[p.scanned:] {
		p.takeBack(p.at(i))
	}
	p.scanned = len(p.free)
	p.mu.Unlock()
}

// sync starts s over at seq, giving back its large buffer.
func (p *pool) sync(s *streamDir, seq uint32) {
	p.release(&s.large)
	s.sync(seq)
}

// store is where a direction keeps its bytes: its own buffer, or the
// large one it borrowed.
func (p *pool) store(s *streamDir) []byte {
	if s.large != 0 {
		return p.lend(s.large)
	}
	return s.buf[:]
}

// commit records data as passed by s with part bytes unfinished (see
// streamDir.commit). r is a large buffer borrowed for this commit (0:
// none): an unfinished PDU longer than StreamBuf needs one. Once the
// unfinished part fits in StreamBuf again the large buffer is given back,
// keeping the latest StreamBuf bytes.
func (p *pool) commit(s *streamDir, r uint16, data []byte, part int) {
	if r != 0 {
		if s.large != 0 { // cannot happen: walk borrows only for a direction without
			p.release(&r)
		} else {
			copy(p.lend(r), s.buf[:s.n])
			s.large = r
		}
	}
	s.commit(p.store(s), data, part)
	if s.large != 0 && s.part <= StreamBuf {
		k := min(s.n, StreamBuf)
		copy(s.buf[:], p.lend(s.large)[s.n-k:s.n])
		s.n = k
		p.release(&s.large)
	}
}
