package packet

// maxIPv6ExtHeaders bounds the extension-header walk so that a crafted
// chain cannot make one packet cost more than a few dozen nanoseconds.
const maxIPv6ExtHeaders = 8

// Decode fills p from b, which starts at the IPv4 or IPv6 header. Every
// field of p is overwritten. It never allocates and never panics; on a
// malformed packet it returns a non-empty Reason and leaves the fields it
// could read filled (Version, Src and Dst once the fixed IP header was
// readable). Later fragments are decoded at the IP level only and return
// ReasonOK with Fragment == LaterFragment. Payload aliases b.
func (p *Parsed) Decode(b []byte) Reason {
	*p = Parsed{}
	if len(b) == 0 {
		return ReasonEmpty
	}
	switch b[0] >> 4 {
	case 4:
		return p.decode4(b)
	case 6:
		return p.decode6(b)
	}
	return ReasonBadVersion
}

func (p *Parsed) decode4(b []byte) Reason {
	p.Version = 4
	if len(b) < IPv4MinLen {
		return ReasonTruncatedIPv4
	}
	h := IPv4(b[:IPv4MinLen])
	p.Src, p.Dst = h.Src(), h.Dst()
	p.TTL = h.TTL()
	p.Proto = h.Protocol()
	p.FragID = uint32(h.ID())

	tl := h.TotalLength()
	if tl == 0 {
		// The kernel hands over GSO/GRO super-packets (BIG TCP) with tot_len 0.
		tl, p.GSO = len(b), true
	}
	p.Length = tl
	ihl := h.HeaderLength()
	if ihl < IPv4MinLen {
		return ReasonBadIPv4HeaderLen
	}
	if tl > len(b) {
		return ReasonIPv4TotalLength
	}
	if ihl > tl {
		if p.GSO {
			return ReasonTruncatedIPv4 // options run past the buffer
		}
		return ReasonIPv4TotalLength
	}
	b = b[:tl] // drop Ethernet padding and anything else past the IP packet
	if h.FragmentOffset() != 0 {
		p.Fragment = LaterFragment
	} else if h.MoreFragments() {
		p.Fragment = FirstFragment
	}
	if ihl > IPv4MinLen && !validOptions(b[IPv4MinLen:ihl], false) {
		// Checked in every fragment: each carries the options. The ports,
		// when there, are for the log line.
		p.L4Off, p.PayloadOff = ihl, ihl
		if p.Fragment != LaterFragment && (p.Proto == ProtoTCP || p.Proto == ProtoUDP) {
			p.ports(b[ihl:])
		}
		return ReasonBadIPOption
	}
	if p.Fragment == LaterFragment {
		p.L4Off, p.PayloadOff = ihl, ihl
		return ReasonOK
	}
	return p.decodeL4(b, ihl)
}

func (p *Parsed) decode6(b []byte) Reason {
	p.Version = 6
	if len(b) < IPv6Len {
		return ReasonTruncatedIPv6
	}
	h := IPv6(b[:IPv6Len])
	p.Src, p.Dst = h.Src(), h.Dst()
	p.TTL = h.HopLimit()
	nh := h.NextHeader()
	p.Proto = nh

	tl := IPv6Len + h.PayloadLength()
	if tl == IPv6Len {
		// Payload length 0: a jumbogram (RFC 2675) or a GSO super-packet.
		tl, p.GSO = len(b), true
	}
	p.Length = tl
	if tl > len(b) {
		return ReasonIPv6PayloadLength
	}
	b = b[:tl]

	off := IPv6Len
	for i := 0; isIPv6Ext(nh); i++ {
		if i == maxIPv6ExtHeaders {
			return ReasonIPv6ExtChain
		}
		if nh == ProtoHopByHop && off != IPv6Len {
			return ReasonIPv6ExtChain // RFC 8200: hop-by-hop only right after the header
		}
		if len(b)-off < IPv6ExtMinLen {
			return ReasonTruncatedIPv6Ext
		}
		var n int
		switch nh {
		case ProtoFragment:
			f := IPv6Frag(b[off : off+IPv6FragLen])
			p.FragID = f.ID()
			if f.FragmentOffset() != 0 {
				p.Fragment = LaterFragment
			} else if f.MoreFragments() {
				p.Fragment = FirstFragment
			}
			n = IPv6FragLen
		case ProtoAH:
			n = (int(b[off+1]) + 2) * 4
		default:
			n = (int(b[off+1]) + 1) * 8
		}
		if n > len(b)-off {
			return ReasonTruncatedIPv6Ext
		}
		nh = b[off]
		p.Proto = nh
		off += n
		if p.Fragment == LaterFragment {
			// What follows is fragment data, not headers: Proto is the
			// first header of the fragmentable part, as the sender said.
			p.L4Off, p.PayloadOff = off, off
			return ReasonOK
		}
	}
	return p.decodeL4(b, off)
}

func isIPv6Ext(nh uint8) bool {
	switch nh {
	case ProtoHopByHop, ProtoRouting, ProtoFragment, ProtoDstOpts, ProtoAH:
		return true
	}
	return false // ESP (50) and no-next-header (59) end the walk as opaque L4
}

// decodeL4 decodes the transport header at off in b, which is already
// trimmed to the IP length.
func (p *Parsed) decodeL4(b []byte, off int) Reason {
	p.L4Off, p.PayloadOff = off, off
	l4 := b[off:]
	switch p.Proto {
	case ProtoTCP:
		if len(l4) < TCPMinLen {
			p.ports(l4)
			return ReasonTruncatedTCP
		}
		t := TCP(l4[:TCPMinLen])
		p.SrcPort, p.DstPort = t.SrcPort(), t.DstPort()
		p.Seq, p.Ack = t.Seq(), t.Ack()
		p.TCPFlags = t.Flags()
		doff := t.DataOffset()
		if doff < TCPMinLen || doff > len(l4) {
			return ReasonBadTCPOffset
		}
		if validTCPFlags>>(p.TCPFlags&tcpFlagsChecked)&1 == 0 {
			return ReasonBadTCPFlags
		}
		if doff > TCPMinLen && !validOptions(l4[TCPMinLen:doff], true) {
			return ReasonBadTCPOption
		}
		p.setPayload(b, off+doff)

	case ProtoUDP:
		if len(l4) < UDPLen {
			p.ports(l4)
			return ReasonTruncatedUDP
		}
		u := UDP(l4[:UDPLen])
		p.SrcPort, p.DstPort = u.SrcPort(), u.DstPort()
		ul := u.Length()
		switch {
		case ul == 0 && (p.GSO || p.Version == 6):
			ul = len(l4) // jumbogram or super-packet: the IP layer has the length
		case ul < UDPLen:
			return ReasonBadUDPLength
		case ul > len(l4):
			if !p.GSO {
				return ReasonBadUDPLength
			}
			ul = len(l4) // a super-packet's UDP length may disagree; clamp
		}
		p.setPayload(b[:off+ul], off+UDPLen)

	case ProtoICMP, ProtoICMPv6:
		if len(l4) >= 2 {
			p.ICMPType, p.ICMPCode = l4[0], l4[1]
		}
		if len(l4) < ICMPMinLen {
			return ReasonTruncatedICMP
		}
		c := ICMP(l4[:ICMPMinLen])
		if isEcho(p.Proto, c.Type()) {
			p.ICMPID = c.EchoID()
		}
		p.setPayload(b, off+ICMPMinLen)
	}
	return ReasonOK
}

// tcpFlagsChecked are the flags whose combination validTCPFlags judges;
// PSH, ECE and CWR may go with any of them.
const tcpFlagsChecked = TCPFin | TCPSyn | TCPRst | TCPAck | TCPUrg

// validTCPFlags has bit i set for each combination i of tcpFlagsChecked
// that a TCP stack sends: the kernel's own table (nf_conntrack's
// tcp_valid_flags). The others are scans and evasion tricks: SYN+FIN,
// SYN+RST, no flags at all, FIN or URG without ACK (FIN+PSH+URG, "Xmas").
const validTCPFlags uint64 = 1<<TCPSyn | 1<<(TCPSyn|TCPUrg) | 1<<(TCPSyn|TCPAck) |
	1<<TCPRst | 1<<(TCPRst|TCPAck) |
	1<<(TCPFin|TCPAck) | 1<<(TCPFin|TCPAck|TCPUrg) |
	1<<TCPAck | 1<<(TCPAck|TCPUrg)

// tcpOptionSize is the size of each TCP option that has a fixed one (0:
// any): MSS, window scale, SACK permitted and timestamps.
var tcpOptionSize = [256]uint8{2: 4, 3: 3, 4: 2, 8: 10}

// validOptions reports whether o, the options of an IPv4 or TCP header,
// is a well-formed list (RFC 791, RFC 9293): end-of-list (the rest is
// padding) and no-operation are one byte; every other option has a length
// of at least 2 that stays within the header. For TCP, the options of a
// fixed size must have it, and SACK must hold one to four blocks of 8
// bytes: a stack ignores an option that does not, an inspecting box might
// not.
func validOptions(o []byte, tcp bool) bool {
	for len(o) > 0 {
		kind := o[0]
		if kind == 0 {
			return true
		}
		if kind == 1 {
			o = o[1:]
			continue
		}
		if len(o) < 2 {
			return false
		}
		n := int(o[1])
		if n < 2 || n > len(o) {
			return false
		}
		if tcp {
			if w := tcpOptionSize[kind]; w != 0 && n != int(w) {
				return false
			}
			if kind == 5 && (n < 10 || (n-2)%8 != 0) {
				return false
			}
		}
		o = o[n:]
	}
	return true
}

// ports fills the ports of a truncated TCP/UDP header when they are there,
// so that a malformed packet can still be logged with its flow.
func (p *Parsed) ports(l4 []byte) {
	if len(l4) >= 4 {
		p.SrcPort = uint16(l4[0])<<8 | uint16(l4[1])
		p.DstPort = uint16(l4[2])<<8 | uint16(l4[3])
	}
}

func isEcho(proto, typ uint8) bool {
	if proto == ProtoICMP {
		return typ == ICMPv4EchoRequest || typ == ICMPv4EchoReply
	}
	return typ == ICMPv6EchoRequest || typ == ICMPv6EchoReply
}

// setPayload records the L4 data b[start:]; b ends where the L4 data ends.
// The capacity is clipped so that appending to Payload cannot overwrite
// whatever follows in the caller's buffer.
func (p *Parsed) setPayload(b []byte, start int) {
	p.PayloadOff = start
	if start < len(b) {
		p.Payload = b[start:len(b):len(b)]
	}
}
