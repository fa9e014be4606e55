package enip

import "github.com/conduit-ot/conduit/proto/internal/pdu"

// CIP services and classes the decoder gives structure to.
const (
	SvcMultipleServicePacket uint8 = 0x0a
	SvcUnconnectedSend       uint8 = 0x52 // on ClassConnectionManager
	responseBit              uint8 = 0x80

	ClassMessageRouter     uint32 = 0x02
	ClassConnectionManager uint32 = 0x06
	// ClassSymbol is the Logix Symbol object. A request whose path names a
	// tag by ANSI extended symbol, without a class segment, addresses an
	// instance of it, so Msg.Class reports it for such paths.
	ClassSymbol uint32 = 0x6b

	// General status codes after which a Multiple Service Packet response
	// still carries its reply list.
	statusSuccess       uint8 = 0x00
	statusEmbeddedError uint8 = 0x1e
)

// parseCIP decodes the CIP message m and any messages embedded in it.
// Embedded messages lie in disjoint sub-slices of m, so the work is linear
// in len(m) times the depth, and the depth is bounded.
func (p *PDU) parseCIP(m []byte, depth int) pdu.Error {
	if depth > MaxDepth {
		return ErrCIPDepth
	}
	if len(m) < 2 {
		return ErrCIPTruncated
	}
	msg := Msg{Service: m[0] &^ responseBit, Depth: uint8(depth)}
	if m[0]&responseBit != 0 {
		if len(m) < 4 {
			return ErrCIPTruncated
		}
		msg.Response = true
		msg.Status = m[2]
		ext := 4 + 2*int(m[3])
		if len(m) < ext {
			return ErrCIPTruncated
		}
		if m[3] > 0 {
			msg.ExtStatus = le16(m[4:])
		}
		msg.Data = m[ext:]
		p.add(&msg)
		if msg.Service == SvcMultipleServicePacket && len(msg.Data) > 0 &&
			(msg.Status == statusSuccess || msg.Status == statusEmbeddedError) {
			return p.parseMultiple(msg.Data, depth+1)
		}
		return pdu.OK
	}
	end := 2 + 2*int(m[1])
	if len(m) < end {
		return ErrCIPTruncated
	}
	if err := parsePath(m[2:end:end], &msg); err != pdu.OK {
		return err
	}
	msg.Data = m[end:]
	p.add(&msg)
	switch {
	case msg.Service == SvcMultipleServicePacket:
		return p.parseMultiple(msg.Data, depth+1)
	case msg.Service == SvcUnconnectedSend && msg.Flags&HasClass != 0 && msg.Class == ClassConnectionManager:
		return p.parseUnconnectedSend(msg.Data, depth+1)
	}
	return pdu.OK
}

func (p *PDU) add(m *Msg) {
	if p.Total < MaxMsgs {
		p.Msgs[p.Total] = *m
	}
	p.Total++
}

// parseMultiple decodes a Multiple Service Packet request or reply list:
// a count, a table of offsets from the start of the count, then the
// messages. Offsets must increase so that messages cannot overlap.
func (p *PDU) parseMultiple(b []byte, depth int) pdu.Error {
	if len(b) < 2 {
		return ErrMultipleService
	}
	count := int(le16(b))
	table := 2 + 2*count
	if len(b) < table {
		return ErrMultipleService
	}
	prev := table - 1
	for i := 0; i < count; i++ {
		start := int(le16(b[2+2*i:]))
		if start <= prev || start >= len(b) {
			return ErrMultipleService
		}
		end := len(b)
		if i+1 < count {
			end = int(le16(b[4+2*i:]))
			if end <= start || end > len(b) {
				return ErrMultipleService
			}
		}
		if err := p.parseCIP(b[start:end:end], depth); err != pdu.OK {
			return err
		}
		prev = start
	}
	return pdu.OK
}

// parseUnconnectedSend decodes the Connection Manager's Unconnected Send
// request: priority/tick, timeout ticks, the embedded message with its
// size and pad byte, then the route path to the target.
func (p *PDU) parseUnconnectedSend(b []byte, depth int) pdu.Error {
	if len(b) < 4 {
		return ErrUnconnectedSend
	}
	size := int(le16(b[2:]))
	if size == 0 {
		return ErrCIPEmptyEmbedded
	}
	end := 4 + size
	route := end + size&1
	if len(b) < route+2 || len(b) < route+2+2*int(b[route]) {
		return ErrUnconnectedSend
	}
	return p.parseCIP(b[4:end:end], depth)
}
