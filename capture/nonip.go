package capture

import "encoding/binary"

// NonIP is a frame that carries no IP packet, as the layer2 section of a
// policy judges it: by its EtherType, the one inside an 802.1Q tag when
// it has one (as the bridge's nftables table sees it).
type NonIP struct {
	Time      int64  // ns since the epoch
	Len       int    // the frame's length on the wire
	EtherType uint16 // 0 when the frame has none (802.3 with LLC, an unsupported link type)
	Tagged    bool   // inside an 802.1Q tag
	VLAN      uint16
	Src, Dst  [6]byte
	HasMAC    bool // Src (and, on Ethernet, Dst) are known
	// Interface and Direction are the pcapng capture interface's name
	// and the frame's direction there, when the file says.
	Interface string
	Direction Direction
}

// reportNonIP tells OnNonIP about a frame without IP.
func (r *Reader) reportNonIP(link LinkType, d []byte, ts int64, origLen int) {
	f := NonIP{Time: ts, Len: origLen, Interface: r.nonIPIface}
	if r.nonIPOpts != nil {
		f.Direction = r.epbDirection(r.nonIPOpts)
	}
	r.nonIPIface, r.nonIPOpts = "", nil
	switch link {
	case LinkEthernet:
		if len(d) < 14 {
			return
		}
		copy(f.Dst[:], d[0:6])
		copy(f.Src[:], d[6:12])
		f.HasMAC = true
		f.EtherType = binary.BigEndian.Uint16(d[12:])
		if f.EtherType == 0x8100 && len(d) >= 18 {
			f.Tagged, f.VLAN = true, binary.BigEndian.Uint16(d[14:])&0x0fff
			f.EtherType = binary.BigEndian.Uint16(d[16:])
		}
	case LinkSLL:
		// Linux cooked v1: packet type, ARPHRD, address length, address, protocol.
		if len(d) < 16 {
			return
		}
		if binary.BigEndian.Uint16(d[4:]) == 6 {
			copy(f.Src[:], d[6:12])
			f.HasMAC = true
		}
		f.EtherType = binary.BigEndian.Uint16(d[14:])
	case LinkSLL2:
		// v2: protocol, reserved, ifindex, ARPHRD, packet type, address length, address.
		if len(d) < 20 {
			return
		}
		f.EtherType = binary.BigEndian.Uint16(d)
		if d[11] == 6 {
			copy(f.Src[:], d[12:18])
			f.HasMAC = true
		}
	default:
		return
	}
	if f.EtherType < 0x0600 {
		f.EtherType = 0 // an 802.3 length: LLC (STP, …), no EtherType
	}
	r.OnNonIP(f)
}
