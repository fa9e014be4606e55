package inspect

import (
	"encoding/binary"

	"github.com/conduit-ot/conduit/engine/packet"
)

// on_violation: reset. The engine cannot send packets of its own: it sits
// on a bridge with no address, and sees one packet at a time. What it can
// do is replace the packet in hand (an altered-packet verdict). So a reset
// takes two replacements, one per direction, and lets the endpoints' own
// TCP stacks finish the work:
//
//  1. The refused segment becomes a FIN to its receiver, at the receiver's
//     next expected sequence number: no data reaches it, it half-closes and
//     acknowledges the FIN at once.
//  2. That acknowledgement (or any packet the receiver sends next) becomes
//     a RST to the refused segment's sender, at the sequence number the
//     sender last acknowledged, so its stack accepts it (RFC 5961 asks for
//     an exact match): the sender's application sees the connection reset
//     within one round trip.
//  3. The receiver's application reads end-of-stream and closes; its FIN
//     reaches a host with no such connection, which answers with a RST.
//
// Until step 2 is done, more data from the refused sender (a
// retransmission) becomes the same FIN again, so a lost FIN or
// acknowledgement only delays the reset; after it, the sender's data is
// dropped. The receiver's packets pass once the sender is reset: its stack
// answers them with a RST.

// resetState is a reset in progress on a flow.
type resetState struct {
	active bool
	done   bool   // step 2 happened
	side   int    // the refused segment's direction (ReqSide, RspSide)
	finSeq uint32 // sequence number of the FIN of step 1
}

// tcpLen is the size of a replacement: IP header and a bare TCP header.
const (
	ipv4Len = 20
	ipv6Len = 40
	tcpLen  = 20
)

// resetStep decides a packet of a flow being reset (enforce only): r
// says whether the original is refused, and holds its replacement, if
// any.
func (in *Follower) resetStep(st *Stream, side int, b []byte, r *Result) {
	p := in.pkt
	rs := &st.reset
	if p.TCPFlags&packet.TCPRst != 0 {
		return
	}
	if side == rs.side {
		switch {
		case len(p.Payload) == 0 && p.TCPFlags&packet.TCPFin == 0:
			return // a bare acknowledgement tells the receiver nothing new
		case rs.done:
			r.Refused = true // data after the FIN never reaches the receiver
			return
		}
		r.Refused, r.Replace = true, in.rewrite(b, packet.TCPFin|packet.TCPAck, rs.finSeq, p.Ack)
		return
	}
	if rs.done {
		return
	}
	// From the FIN's receiver toward the refused sender: reset the sender.
	seq := p.Seq
	if d := &st.dir[side]; d.ackKnown {
		seq = d.acked
	}
	r.Refused, r.Replace = true, in.rewrite(b, packet.TCPRst|packet.TCPAck, seq, p.Ack)
	rs.done = true
	return
}

// startReset returns the replacement of the refused segment b (on side):
// step 1's FIN.
func (in *Follower) startReset(st *Stream, side int, b []byte) []byte {
	p := in.pkt
	seq := p.Seq
	if d := &st.dir[side]; d.synced {
		seq = d.next
	}
	st.reset = resetState{active: true, side: side, finSeq: seq}
	return in.rewrite(b, packet.TCPFin|packet.TCPAck, seq, p.Ack)
}

// rewrite builds, in the follower's buffer, a bare TCP segment with the
// addresses and ports of the packet b, the given flags and numbers, and
// correct checksums. The packet was decoded into Config.Pkt.
func (in *Follower) rewrite(b []byte, flags uint8, seq, ack uint32) []byte {
	p := in.pkt
	out := in.out[:]
	var ipl int
	if p.Version == 4 {
		ipl = ipv4Len
		clear(out[:ipl])
		out[0] = 0x45
		out[1] = b[1] // DSCP/ECN
		binary.BigEndian.PutUint16(out[2:], ipv4Len+tcpLen)
		copy(out[4:6], b[4:6])                      // identification
		binary.BigEndian.PutUint16(out[6:], 0x4000) // don't fragment
		out[8], out[9] = p.TTL, packet.ProtoTCP
		copy(out[12:20], b[12:20])
		binary.BigEndian.PutUint16(out[10:], ^sum16(out[:ipv4Len], 0))
	} else {
		ipl = ipv6Len
		copy(out[:4], b[:4]) // version, traffic class, flow label
		binary.BigEndian.PutUint16(out[4:], tcpLen)
		out[6], out[7] = packet.ProtoTCP, p.TTL
		copy(out[8:40], b[8:40])
	}
	t := out[ipl : ipl+tcpLen]
	clear(t)
	binary.BigEndian.PutUint16(t[0:], p.SrcPort)
	binary.BigEndian.PutUint16(t[2:], p.DstPort)
	binary.BigEndian.PutUint32(t[4:], seq)
	if flags&packet.TCPAck != 0 {
		binary.BigEndian.PutUint32(t[8:], ack)
	}
	t[12] = (tcpLen / 4) << 4
	t[13] = flags
	if flags&packet.TCPRst == 0 && p.L4Off+16 <= len(b) {
		copy(t[14:16], b[p.L4Off+14:p.L4Off+16]) // the sender's window
	}
	// Pseudo-header: addresses, protocol and TCP length.
	var s uint32
	if p.Version == 4 {
		s = uint32(sum16(out[12:20], 0))
	} else {
		s = uint32(sum16(out[8:40], 0))
	}
	s += uint32(packet.ProtoTCP) + tcpLen
	binary.BigEndian.PutUint16(t[16:], ^sum16(t, s))
	return out[:ipl+tcpLen]
}

// sum16 adds b as big-endian 16-bit words to s, folded to 16 bits (the
// Internet checksum before its final complement). len(b) is even here.
func sum16(b []byte, s uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}
