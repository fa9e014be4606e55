// Package nflogtest builds the NFULNL_MSG_PACKET messages the kernel sends
// an NFLOG group, for tests of the reader and of what is made of its
// messages. It spells the kernel's numbers itself, so a test of nflog's
// parser is checked against an independent encoder.
package nflogtest

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Netlink and nfnetlink_log numbers (include/uapi/linux/netfilter/nfnetlink_log.h).
const (
	subsysULOG     = 4
	msgPacket      = 0
	attrPacketHdr  = 1
	attrInDev      = 4
	attrOutDev     = 5
	attrPhysInDev  = 6
	attrPhysOutDev = 7
	attrPayload    = 9
	attrPrefix     = 10
	attrVLAN       = 20
	attrL2Hdr      = 21
	attrVLANProto  = 1
	attrVLANTCI    = 2
	hdrLen         = 16 + 4 // nlmsghdr + nfgenmsg
)

// PacketMessage is an IPv4 packet's message to group, with its prefix.
func PacketMessage(group uint16, prefix string, payload []byte) []byte {
	b := make([]byte, 64+len(prefix)+len(payload))
	n := hdrLen
	n += putAttr(b[n:], attrPacketHdr, []byte{0x08, 0x00, 2, 0})
	n += putAttr(b[n:], attrPrefix, append([]byte(prefix), 0))
	n += putAttr(b[n:], attrPayload, payload)
	putHeader(b, n, unix.AF_UNSPEC, group)
	return b[:n]
}

// BridgeMessage is a bridge-family message: the frame's Ethernet header,
// the ports by index (the bridge as the in and out device), and a tag
// the kernel took off when vlanTCI is not 0.
func BridgeMessage(group uint16, prefix string, l2hdr, payload []byte, bridge, in, out uint32, vlanTCI uint16) []byte {
	b := make([]byte, 160+len(prefix)+len(l2hdr)+len(payload))
	n := hdrLen
	proto := []byte{0, 0, 2, 0}
	if len(l2hdr) >= 14 {
		copy(proto, l2hdr[12:14])
	}
	n += putAttr(b[n:], attrPacketHdr, proto)
	n += putAttr(b[n:], attrPrefix, append([]byte(prefix), 0))
	n += putAttr(b[n:], attrInDev, binary.BigEndian.AppendUint32(nil, bridge))
	n += putAttr(b[n:], attrOutDev, binary.BigEndian.AppendUint32(nil, bridge))
	n += putAttr(b[n:], attrPhysInDev, binary.BigEndian.AppendUint32(nil, in))
	n += putAttr(b[n:], attrPhysOutDev, binary.BigEndian.AppendUint32(nil, out))
	if vlanTCI != 0 {
		var nest [16]byte
		k := putAttr(nest[:], attrVLANTCI, binary.BigEndian.AppendUint16(nil, vlanTCI))
		k += putAttr(nest[k:], attrVLANProto, binary.BigEndian.AppendUint16(nil, 0x8100))
		n += putAttr(b[n:], attrVLAN|unix.NLA_F_NESTED, nest[:k])
	}
	n += putAttr(b[n:], attrL2Hdr, l2hdr)
	n += putAttr(b[n:], attrPayload, payload)
	putHeader(b, n, unix.NFPROTO_BRIDGE, group)
	return b[:n]
}

func putHeader(b []byte, length int, family uint8, group uint16) {
	binary.NativeEndian.PutUint32(b[0:], uint32(length))
	binary.NativeEndian.PutUint16(b[4:], subsysULOG<<8|msgPacket)
	clear(b[6:16])
	b[16], b[17] = family, 0
	binary.BigEndian.PutUint16(b[18:], group)
}

func putAttr(b []byte, typ uint16, v []byte) int {
	l := 4 + len(v)
	binary.NativeEndian.PutUint16(b[0:], uint16(l))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[4:], v)
	n := (l + 3) &^ 3
	clear(b[l:n])
	return n
}
