// Package nflog reads one nfnetlink_log group: the packets an nftables
// "log group N" statement sends, with their prefix. conduit's kernel
// pre-filter logs its drops this way (engine/nft).
//
// Like engine/nfq it talks netlink directly on one socket and decodes in
// place: reading a message allocates nothing.
package nflog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/conduit-ot/conduit/internal/nlsock"
)

// nfnetlink_log (linux/netfilter/nfnetlink_log.h).
const (
	subsysULOG = 4 // NFNL_SUBSYS_ULOG

	msgPacket = 0 // NFULNL_MSG_PACKET
	msgConfig = 1 // NFULNL_MSG_CONFIG

	attrPacketHdr  = 1  // NFULA_PACKET_HDR: be16 hw_protocol, u8 hook, u8 pad
	attrMark       = 2  // NFULA_MARK
	attrInDev      = 4  // NFULA_IFINDEX_INDEV: be32 (the bridge, in the bridge family)
	attrOutDev     = 5  // NFULA_IFINDEX_OUTDEV
	attrPhysInDev  = 6  // NFULA_IFINDEX_PHYSINDEV: be32, the bridge port
	attrPhysOutDev = 7  // NFULA_IFINDEX_PHYSOUTDEV
	attrPayload    = 9  // NFULA_PAYLOAD
	attrPrefix     = 10 // NFULA_PREFIX, NUL-terminated
	attrHWHeader   = 16 // NFULA_HWHEADER: the link-layer header
	attrVLAN       = 20 // NFULA_VLAN (nested): the tag the kernel took off the frame
	attrL2Hdr      = 21 // NFULA_L2HDR: the link-layer header, bridge family

	attrVLANProto = 1 // NFULA_VLAN_PROTO: be16
	attrVLANTCI   = 2 // NFULA_VLAN_TCI: be16

	cfgCmd     = 1 // NFULA_CFG_CMD: u8 command
	cfgMode    = 2 // NFULA_CFG_MODE: be32 copy_range, u8 copy_mode, u8 pad
	cfgTimeout = 4 // NFULA_CFG_TIMEOUT: be32, 1/100 s
	cfgQThresh = 5 // NFULA_CFG_QTHRESH: be32

	cmdBind    = 1 // NFULNL_CFG_CMD_BIND
	copyPacket = 2 // NFULNL_COPY_PACKET
)

// Message is one logged packet, decoded in place: Prefix and Payload point
// into the reader's buffer and are valid until the next Read.
type Message struct {
	Family  uint8 // the nfgenmsg family: NFPROTO_BRIDGE for the bridge table's messages
	HWProto uint16
	Hook    uint8
	Mark    uint32
	Prefix  []byte // without the NUL
	Payload []byte // the IP packet (as much as was copied); the frame after its Ethernet header in the bridge family
	// In and Out are the interfaces the packet came in on and leaves by;
	// PhysIn and PhysOut the bridge ports (in the bridge family, In and
	// Out are the bridge itself). 0 when the kernel gave none.
	In, Out, PhysIn, PhysOut uint32
	// L2Header is the frame's Ethernet header (NFULA_L2HDR, else
	// NFULA_HWHEADER); empty when the kernel gave none.
	L2Header []byte
	// VLAN is the 802.1Q tag the kernel took off the frame, when HasVLAN.
	VLANProto, VLANTCI uint16
	HasVLAN            bool
}

// Port returns the bridge port the packet came in on (or its interface
// when it was not bridged), and the one it leaves by.
func (m *Message) Port() (in, out uint32) {
	in, out = m.PhysIn, m.PhysOut
	if in == 0 {
		in = m.In
	}
	if out == 0 {
		out = m.Out
	}
	return in, out
}

var (
	errShort     = errors.New("nflog: truncated message")
	errNotPacket = errors.New("nflog: not a packet message")
)

// ErrTimeout is returned by Read when nothing arrived within the read timeout.
var ErrTimeout = errors.New("nflog: read timeout")

// Parse decodes one netlink message (header included) into m. It never
// allocates.
func Parse(b []byte, m *Message) error {
	*m = Message{}
	if len(b) < nlsock.BodyOff {
		return errShort
	}
	l := int(binary.NativeEndian.Uint32(b))
	if l < nlsock.BodyOff || l > len(b) {
		return errShort
	}
	if binary.NativeEndian.Uint16(b[4:]) != subsysULOG<<8|msgPacket {
		return errNotPacket
	}
	m.Family = b[nlsock.HdrLen]
	a := b[nlsock.BodyOff:l]
	for len(a) >= nlsock.AttrHdrLen {
		al := int(binary.NativeEndian.Uint16(a))
		typ := binary.NativeEndian.Uint16(a[2:]) & 0x3fff
		if al < nlsock.AttrHdrLen || al > len(a) {
			return errShort
		}
		v := a[nlsock.AttrHdrLen:al]
		switch typ {
		case attrPacketHdr:
			if len(v) < 3 {
				return errShort
			}
			m.HWProto = binary.BigEndian.Uint16(v)
			m.Hook = v[2]
		case attrMark:
			if len(v) >= 4 {
				m.Mark = binary.BigEndian.Uint32(v)
			}
		case attrInDev, attrOutDev, attrPhysInDev, attrPhysOutDev:
			if len(v) < 4 {
				return errShort
			}
			x := binary.BigEndian.Uint32(v)
			switch typ {
			case attrInDev:
				m.In = x
			case attrOutDev:
				m.Out = x
			case attrPhysInDev:
				m.PhysIn = x
			default:
				m.PhysOut = x
			}
		case attrL2Hdr:
			m.L2Header = v
		case attrHWHeader:
			if m.L2Header == nil {
				m.L2Header = v
			}
		case attrVLAN:
			m.HasVLAN = true
			for n := v; len(n) >= nlsock.AttrHdrLen; {
				nl := int(binary.NativeEndian.Uint16(n))
				if nl < nlsock.AttrHdrLen || nl > len(n) {
					return errShort
				}
				if nv := n[nlsock.AttrHdrLen:nl]; len(nv) >= 2 {
					switch binary.NativeEndian.Uint16(n[2:]) & 0x3fff {
					case attrVLANProto:
						m.VLANProto = binary.BigEndian.Uint16(nv)
					case attrVLANTCI:
						m.VLANTCI = binary.BigEndian.Uint16(nv)
					}
				}
				k := nlsock.Align(nl)
				if k >= len(n) {
					break
				}
				n = n[k:]
			}
		case attrPayload:
			m.Payload = v
		case attrPrefix:
			for i, c := range v {
				if c == 0 {
					v = v[:i]
					break
				}
			}
			m.Prefix = v
		}
		n := nlsock.Align(al)
		if n >= len(a) {
			break
		}
		a = a[n:]
	}
	return nil
}

// Reader is a socket bound to one log group.
type Reader struct {
	fd    int
	group uint16
	buf   []byte
	rest  []byte // undecoded messages of the last datagram
	// Malformed counts messages Parse refused.
	Malformed uint64
}

// Open binds group with whole-packet copies (up to copyRange bytes; 0:
// 0xffff), flushing to the socket at least every 100 ms.
func Open(group uint16, copyRange uint32, readTimeout time.Duration) (*Reader, error) {
	if copyRange == 0 {
		copyRange = 0xffff
	}
	if readTimeout == 0 {
		readTimeout = 100 * time.Millisecond
	}
	fd, err := nlsock.Open(4<<20, readTimeout)
	if err != nil {
		return nil, fmt.Errorf("nflog group %d: %w", group, err)
	}
	r := &Reader{fd: fd, group: group, buf: make([]byte, 1<<17)}
	if err := r.setup(copyRange); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind nflog group %d: %w", group, err)
	}
	return r, nil
}

func (r *Reader) setup(copyRange uint32) error {
	var msg [96]byte
	n := nlsock.BodyOff
	n += nlsock.PutAttr(msg[n:], cfgCmd, []byte{cmdBind})
	var mode [6]byte
	binary.BigEndian.PutUint32(mode[:], copyRange)
	mode[4] = copyPacket
	n += nlsock.PutAttr(msg[n:], cfgMode, mode[:])
	n += nlsock.PutAttr(msg[n:], cfgTimeout, binary.BigEndian.AppendUint32(nil, 10))
	n += nlsock.PutAttr(msg[n:], cfgQThresh, binary.BigEndian.AppendUint32(nil, 32))
	putHeader(msg[:], n, msgConfig, unix.NLM_F_REQUEST|unix.NLM_F_ACK, 1, r.group)
	if err := nlsock.Send(r.fd, msg[:n]); err != nil {
		return fmt.Errorf("send config: %w", err)
	}
	refused, err := nlsock.Ack(r.fd, r.buf, 1, nil)
	switch {
	case err != nil:
		return fmt.Errorf("nflog config: %w", err)
	case refused != 0:
		return fmt.Errorf("kernel refused the nflog config: %w", refused)
	}
	return nil
}

// Read returns the next logged packet in m, or ErrTimeout.
func (r *Reader) Read(m *Message) error {
	for {
		for len(r.rest) >= nlsock.HdrLen {
			b, typ, rest, ok := nlsock.NextMsg(r.rest)
			r.rest = rest
			if !ok {
				r.Malformed++
				break
			}
			if typ != subsysULOG<<8|msgPacket {
				continue
			}
			if err := Parse(b, m); err != nil {
				r.Malformed++
				continue
			}
			return nil
		}
		n, err := r.recv()
		if err != nil {
			return err
		}
		r.rest = r.buf[:n]
	}
}

// Close releases the socket (the kernel unbinds the group).
func (r *Reader) Close() error { return unix.Close(r.fd) }

func (r *Reader) recv() (int, error) {
	n, err := nlsock.RecvFrom(r.fd, r.buf, ErrTimeout, true)
	if err != nil && err != ErrTimeout {
		return 0, fmt.Errorf("nflog %d recv: %w", r.group, err)
	}
	return n, err
}

// putHeader writes the headers of a message of type msgType to group.
func putHeader(b []byte, length int, msgType uint8, flags uint16, seq uint32, group uint16) {
	nlsock.PutHeader(b, length, subsysULOG<<8|uint16(msgType), flags, seq, group)
}
