package nfq

import (
	"encoding/binary"
	"errors"

	"github.com/conduit-ot/conduit/internal/nlsock"
)

// Packet is one queued packet, decoded in place. Payload points into the
// queue's receive buffer and is valid until the next call to Read.
type Packet struct {
	ID      uint32
	HWProto uint16 // ethertype, 0x0800 or 0x86dd
	Hook    uint8
	Mark    uint32
	InDev   uint32
	OutDev  uint32
	PhysIn  uint32 // bridge port the packet arrived on (br_netfilter), 0 if routed
	PhysOut uint32
	// HWAddr is the link-layer source address (NFQA_HWADDR), its first
	// HWAddrLen bytes: the source MAC of a packet that came in on
	// Ethernet; HWAddrLen is 0 when the kernel gave none.
	HWAddr    [8]byte
	HWAddrLen uint8
	GSO       bool   // a GSO super-packet: longer than the MTU, checksums not final
	CapLen    uint32 // original length when the payload was truncated to the copy range, else 0
	Payload   []byte // the IP packet
	hasHeader bool
}

var (
	errShort     = errors.New("nfqueue: truncated netlink message")
	errNoHeader  = errors.New("nfqueue: packet message without NFQA_PACKET_HDR")
	errNotPacket = errors.New("nfqueue: not a packet message")
)

// MAC returns the source MAC (the first six bytes of HWAddr) and whether
// the packet carried an Ethernet-sized hardware address.
func (p *Packet) MAC() (mac [6]byte, ok bool) {
	copy(mac[:], p.HWAddr[:6])
	return mac, p.HWAddrLen == 6
}

// parsePacket decodes the nfgenmsg and attributes of one NFQNL_MSG_PACKET
// body (after the nlmsghdr). It never allocates.
func parsePacket(body []byte, p *Packet) error {
	*p = Packet{}
	if len(body) < nlsock.NfgenHdrLen {
		return errShort
	}
	b := body[nlsock.NfgenHdrLen:]
	for len(b) >= nlsock.AttrHdrLen {
		l := int(binary.NativeEndian.Uint16(b[0:]))
		typ := binary.NativeEndian.Uint16(b[2:]) & 0x3fff // strip NLA_F_NESTED / NET_BYTEORDER
		if l < nlsock.AttrHdrLen || l > len(b) {
			return errShort
		}
		v := b[nlsock.AttrHdrLen:l]
		switch typ {
		case attrPacketHdr:
			if len(v) < 7 {
				return errShort
			}
			p.ID = binary.BigEndian.Uint32(v[0:])
			p.HWProto = binary.BigEndian.Uint16(v[4:])
			p.Hook = v[6]
			p.hasHeader = true
		case attrPayload:
			p.Payload = v
		case attrMark:
			p.Mark = be32(v)
		case attrInDev:
			p.InDev = be32(v)
		case attrOutDev:
			p.OutDev = be32(v)
		case attrPhysInDev:
			p.PhysIn = be32(v)
		case attrPhysOutDev:
			p.PhysOut = be32(v)
		case attrHWAddr:
			// struct nfqnl_msg_packet_hw; a length beyond the array is
			// not trusted.
			if len(v) >= 4+len(p.HWAddr) {
				if n := binary.BigEndian.Uint16(v); n > 0 && int(n) <= len(p.HWAddr) {
					copy(p.HWAddr[:], v[4:4+len(p.HWAddr)])
					p.HWAddrLen = uint8(n)
				}
			}
		case attrCapLen:
			p.CapLen = be32(v)
		case attrSkbInfo:
			p.GSO = be32(v)&skbInfoGSO != 0
		}
		n := nlsock.Align(l)
		if n > len(b) {
			break
		}
		b = b[n:]
	}
	if !p.hasHeader {
		return errNoHeader
	}
	return nil
}

func be32(v []byte) uint32 {
	if len(v) < 4 {
		return 0
	}
	return binary.BigEndian.Uint32(v)
}

// putHeader writes the headers of a message of type msgType to queue num.
func putHeader(b []byte, length int, msgType uint8, flags uint16, seq uint32, num uint16) {
	nlsock.PutHeader(b, length, subsysQueue<<8|uint16(msgType), flags, seq, num)
}
