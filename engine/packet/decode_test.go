package packet

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

type decodeCase struct {
	name   string
	pkt    []byte
	reason Reason
	want   Parsed
}

// w4 and w6 are the IP-level fields every built packet has.
func w4(proto uint8, length int, fn func(*Parsed)) Parsed {
	p := Parsed{Version: 4, Src: src4, Dst: dst4, Proto: proto, TTL: ttl4, Length: length, FragID: id4}
	if fn != nil {
		fn(&p)
	}
	return p
}

func w6(proto uint8, length int, fn func(*Parsed)) Parsed {
	p := Parsed{Version: 6, Src: src6, Dst: dst6, Proto: proto, TTL: hop6, Length: length}
	if fn != nil {
		fn(&p)
	}
	return p
}

func repeat(n int, e ext) []ext {
	var es []ext
	for range n {
		es = append(es, e)
	}
	return es
}

var (
	v4syn = v4pkt{proto: ProtoTCP, l4: tcpSeg{sport: 40000, dport: 502, seq: 1000, flags: TCPSyn, opts: mss}.build()}.build()
	data  = []byte("hello")
	blob  = bytes.Repeat([]byte{0xab}, 100)
)

func decodeCases() []decodeCase {
	unreach := v4pkt{proto: ProtoUDP, l4: udp(1, 2, -1, nil)}.build()
	return []decodeCase{
		// IPv4, well-formed.
		{"v4 tcp syn with mss", v4syn, ReasonOK, w4(ProtoTCP, 44, func(p *Parsed) {
			p.SrcPort, p.DstPort, p.Seq, p.TCPFlags = 40000, 502, 1000, TCPSyn
			p.L4Off, p.PayloadOff = 20, 44
		})},
		{"v4 options, tcp timestamps and data",
			v4pkt{proto: ProtoTCP, opts: []byte{0x94, 4, 0, 0}, l4: tcpSeg{sport: 502, dport: 40000, seq: 7, ack: 1001, flags: TCPPsh | TCPAck, opts: tsopt, data: data}.build()}.build(),
			ReasonOK, w4(ProtoTCP, 61, func(p *Parsed) {
				p.SrcPort, p.DstPort, p.Seq, p.Ack, p.TCPFlags = 502, 40000, 7, 1001, TCPPsh|TCPAck
				p.L4Off, p.PayloadOff, p.Payload = 24, 56, data
			})},
		{"v4 max options", v4pkt{proto: ProtoTCP, opts: make([]byte, 40), l4: tcpSeg{sport: 1, dport: 2, flags: TCPAck, data: data}.build()}.build(),
			ReasonOK, w4(ProtoTCP, 85, func(p *Parsed) {
				p.SrcPort, p.DstPort, p.TCPFlags = 1, 2, TCPAck
				p.L4Off, p.PayloadOff, p.Payload = 60, 80, data
			})},
		{"v4 tcp with ethernet padding", v4pkt{proto: ProtoTCP, l4: tcpSeg{sport: 1, dport: 2, seq: 5, ack: 6, flags: TCPAck}.build(), trailer: make([]byte, 6)}.build(),
			ReasonOK, w4(ProtoTCP, 40, func(p *Parsed) {
				p.SrcPort, p.DstPort, p.Seq, p.Ack, p.TCPFlags = 1, 2, 5, 6, TCPAck
				p.L4Off, p.PayloadOff = 20, 40
			})},
		{"v4 tcp all flags", v4pkt{proto: ProtoTCP, l4: tcpSeg{sport: 3, dport: 4, flags: 0xff, data: []byte("x")}.build()}.build(),
			ReasonBadTCPFlags, w4(ProtoTCP, 41, func(p *Parsed) {
				p.SrcPort, p.DstPort, p.TCPFlags = 3, 4, TCPFin|TCPSyn|TCPRst|TCPPsh|TCPAck|TCPUrg|TCPEce|TCPCwr
				p.L4Off, p.PayloadOff = 20, 20
			})},
		{"v4 tcp every flag that goes with ack", v4pkt{proto: ProtoTCP, l4: tcpSeg{sport: 3, dport: 4, flags: TCPAck | TCPPsh | TCPUrg | TCPEce | TCPCwr, data: []byte("x")}.build()}.build(),
			ReasonOK, w4(ProtoTCP, 41, func(p *Parsed) {
				p.SrcPort, p.DstPort, p.TCPFlags = 3, 4, TCPPsh|TCPAck|TCPUrg|TCPEce|TCPCwr
				p.L4Off, p.PayloadOff, p.Payload = 20, 40, []byte("x")
			})},
		{"v4 udp payload bounded by udp length", v4pkt{proto: ProtoUDP, l4: udp(5353, 53, 11, []byte("abcdef"))}.build(),
			ReasonOK, w4(ProtoUDP, 34, func(p *Parsed) {
				p.SrcPort, p.DstPort = 5353, 53
				p.L4Off, p.PayloadOff, p.Payload = 20, 28, []byte("abc")
			})},
		{"v4 udp empty", v4pkt{proto: ProtoUDP, l4: udp(7, 9, -1, nil)}.build(),
			ReasonOK, w4(ProtoUDP, 28, func(p *Parsed) {
				p.SrcPort, p.DstPort = 7, 9
				p.L4Off, p.PayloadOff = 20, 28
			})},
		{"v4 icmp echo request", v4pkt{proto: ProtoICMP, l4: icmp(ICMPv4EchoRequest, 0, 0x1234<<16|7, []byte("ping"))}.build(),
			ReasonOK, w4(ProtoICMP, 32, func(p *Parsed) {
				p.ICMPType, p.ICMPID = ICMPv4EchoRequest, 0x1234
				p.L4Off, p.PayloadOff, p.Payload = 20, 28, []byte("ping")
			})},
		{"v4 icmp echo reply", v4pkt{proto: ProtoICMP, l4: icmp(ICMPv4EchoReply, 0, 0x4321<<16|7, nil)}.build(),
			ReasonOK, w4(ProtoICMP, 28, func(p *Parsed) {
				p.ICMPType, p.ICMPID = ICMPv4EchoReply, 0x4321
				p.L4Off, p.PayloadOff = 20, 28
			})},
		{"v4 icmp port unreachable carries no id", v4pkt{proto: ProtoICMP, l4: icmp(3, 3, 0x55550000, unreach)}.build(),
			ReasonOK, w4(ProtoICMP, 56, func(p *Parsed) {
				p.ICMPType, p.ICMPCode = 3, 3
				p.L4Off, p.PayloadOff, p.Payload = 20, 28, unreach
			})},
		{"v4 first fragment", v4pkt{proto: ProtoTCP, mf: true, l4: tcpSeg{sport: 10, dport: 20, seq: 1, flags: TCPAck, data: blob[:16]}.build()}.build(),
			ReasonOK, w4(ProtoTCP, 56, func(p *Parsed) {
				p.SrcPort, p.DstPort, p.Seq, p.TCPFlags = 10, 20, 1, TCPAck
				p.Fragment, p.L4Off, p.PayloadOff, p.Payload = FirstFragment, 20, 40, blob[:16]
			})},
		{"v4 later fragment", v4pkt{proto: ProtoUDP, fragOff: 1480, l4: blob[:30]}.build(),
			ReasonOK, w4(ProtoUDP, 50, func(p *Parsed) {
				p.Fragment, p.L4Off, p.PayloadOff = LaterFragment, 20, 20
			})},
		{"v4 middle fragment", v4pkt{proto: ProtoTCP, mf: true, fragOff: 8, l4: blob[:24]}.build(),
			ReasonOK, w4(ProtoTCP, 44, func(p *Parsed) {
				p.Fragment, p.L4Off, p.PayloadOff = LaterFragment, 20, 20
			})},
		{"v4 gso total length 0", v4pkt{proto: ProtoTCP, totLen: -1, l4: tcpSeg{sport: 1, dport: 2, flags: TCPAck, data: blob}.build()}.build(),
			ReasonOK, w4(ProtoTCP, 140, func(p *Parsed) {
				p.GSO, p.SrcPort, p.DstPort, p.TCPFlags = true, 1, 2, TCPAck
				p.L4Off, p.PayloadOff, p.Payload = 20, 40, blob
			})},
		{"v4 gso udp length clamped", v4pkt{proto: ProtoUDP, totLen: -1, l4: udp(1000, 2000, 0xffff, blob)}.build(),
			ReasonOK, w4(ProtoUDP, 128, func(p *Parsed) {
				p.GSO, p.SrcPort, p.DstPort = true, 1000, 2000
				p.L4Off, p.PayloadOff, p.Payload = 20, 28, blob
			})},
		{"v4 gso udp length 0", v4pkt{proto: ProtoUDP, totLen: -1, l4: udp(1000, 2000, 0, blob)}.build(),
			ReasonOK, w4(ProtoUDP, 128, func(p *Parsed) {
				p.GSO, p.SrcPort, p.DstPort = true, 1000, 2000
				p.L4Off, p.PayloadOff, p.Payload = 20, 28, blob
			})},
		{"v4 gre is ip-level only", v4pkt{proto: 47, l4: []byte{0, 0, 0x08, 0}}.build(),
			ReasonOK, w4(47, 24, func(p *Parsed) { p.L4Off, p.PayloadOff = 20, 20 })},

		// IPv6, well-formed.
		{"v6 tcp", v6pkt{proto: ProtoTCP, l4: tcpSeg{sport: 33000, dport: 20000, seq: 9, ack: 10, flags: TCPPsh | TCPAck, data: []byte("dnp3")}.build()}.build(),
			ReasonOK, w6(ProtoTCP, 64, func(p *Parsed) {
				p.SrcPort, p.DstPort, p.Seq, p.Ack, p.TCPFlags = 33000, 20000, 9, 10, TCPPsh|TCPAck
				p.L4Off, p.PayloadOff, p.Payload = 40, 60, []byte("dnp3")
			})},
		{"v6 hop-by-hop, dest-opts, first fragment, udp",
			v6pkt{exts: []ext{optsExt(ProtoHopByHop, 1), optsExt(ProtoDstOpts, 2), fragExt(0, true, 0xcafe)}, proto: ProtoUDP, l4: udp(4000, 4001, -1, []byte("data"))}.build(),
			ReasonOK, w6(ProtoUDP, 84, func(p *Parsed) {
				p.SrcPort, p.DstPort, p.Fragment, p.FragID = 4000, 4001, FirstFragment, 0xcafe
				p.L4Off, p.PayloadOff, p.Payload = 72, 80, []byte("data")
			})},
		{"v6 later fragment", v6pkt{exts: []ext{optsExt(ProtoHopByHop, 1), fragExt(1232, false, 7)}, proto: ProtoUDP, l4: blob[:20]}.build(),
			ReasonOK, w6(ProtoUDP, 76, func(p *Parsed) {
				p.Fragment, p.FragID, p.L4Off, p.PayloadOff = LaterFragment, 7, 56, 56
			})},
		{"v6 atomic fragment is whole", v6pkt{exts: []ext{fragExt(0, false, 9)}, proto: ProtoTCP, l4: tcpSeg{sport: 5, dport: 6, flags: TCPRst}.build()}.build(),
			ReasonOK, w6(ProtoTCP, 68, func(p *Parsed) {
				p.SrcPort, p.DstPort, p.TCPFlags, p.FragID = 5, 6, TCPRst, 9
				p.L4Off, p.PayloadOff = 48, 68
			})},
		{"v6 routing and ah", v6pkt{exts: []ext{optsExt(ProtoRouting, 3), ahExt(24)}, proto: ProtoTCP, l4: tcpSeg{sport: 7, dport: 102, flags: TCPSyn}.build()}.build(),
			ReasonOK, w6(ProtoTCP, 108, func(p *Parsed) {
				p.SrcPort, p.DstPort, p.TCPFlags = 7, 102, TCPSyn
				p.L4Off, p.PayloadOff = 88, 108
			})},
		{"v6 esp stops the walk", v6pkt{exts: []ext{optsExt(ProtoDstOpts, 1)}, proto: ProtoESP, l4: blob[:16]}.build(),
			ReasonOK, w6(ProtoESP, 64, func(p *Parsed) { p.L4Off, p.PayloadOff = 48, 48 })},
		{"v6 no next header", v6pkt{exts: []ext{optsExt(ProtoDstOpts, 1)}, proto: ProtoNoNext}.build(),
			ReasonOK, w6(ProtoNoNext, 48, func(p *Parsed) { p.L4Off, p.PayloadOff = 48, 48 })},
		{"v6 eight extension headers", v6pkt{exts: repeat(maxIPv6ExtHeaders, optsExt(ProtoDstOpts, 1)), proto: ProtoUDP, l4: udp(1, 2, -1, nil)}.build(),
			ReasonOK, w6(ProtoUDP, 112, func(p *Parsed) {
				p.SrcPort, p.DstPort, p.L4Off, p.PayloadOff = 1, 2, 104, 112
			})},
		{"v6 icmpv6 echo request", v6pkt{proto: ProtoICMPv6, l4: icmp(ICMPv6EchoRequest, 0, 0x4242<<16|1, []byte("abc"))}.build(),
			ReasonOK, w6(ProtoICMPv6, 51, func(p *Parsed) {
				p.ICMPType, p.ICMPID = ICMPv6EchoRequest, 0x4242
				p.L4Off, p.PayloadOff, p.Payload = 40, 48, []byte("abc")
			})},
		{"v6 icmpv6 echo reply", v6pkt{proto: ProtoICMPv6, l4: icmp(ICMPv6EchoReply, 0, 0x4343<<16|1, nil)}.build(),
			ReasonOK, w6(ProtoICMPv6, 48, func(p *Parsed) {
				p.ICMPType, p.ICMPID, p.L4Off, p.PayloadOff = ICMPv6EchoReply, 0x4343, 40, 48
			})},
		{"v6 icmpv6 type 8 is not echo", v6pkt{proto: ProtoICMPv6, l4: icmp(8, 0, 0x4343<<16|1, nil)}.build(),
			ReasonOK, w6(ProtoICMPv6, 48, func(p *Parsed) { p.ICMPType, p.L4Off, p.PayloadOff = 8, 40, 48 })},
		{"v6 neighbor solicitation", v6pkt{proto: ProtoICMPv6, l4: icmp(135, 0, 0, blob[:16])}.build(),
			ReasonOK, w6(ProtoICMPv6, 64, func(p *Parsed) {
				p.ICMPType, p.L4Off, p.PayloadOff, p.Payload = 135, 40, 48, blob[:16]
			})},
		{"v6 jumbo or gso: payload length 0, udp length 0", v6pkt{payLen: -1, proto: ProtoUDP, l4: udp(9, 10, 0, blob[:50])}.build(),
			ReasonOK, w6(ProtoUDP, 98, func(p *Parsed) {
				p.GSO, p.SrcPort, p.DstPort = true, 9, 10
				p.L4Off, p.PayloadOff, p.Payload = 40, 48, blob[:50]
			})},
		{"v6 udp length 0 means the rest", v6pkt{proto: ProtoUDP, l4: udp(9, 10, 0, data)}.build(),
			ReasonOK, w6(ProtoUDP, 53, func(p *Parsed) {
				p.SrcPort, p.DstPort, p.L4Off, p.PayloadOff, p.Payload = 9, 10, 40, 48, data
			})},
		{"v6 trailing bytes trimmed", v6pkt{proto: ProtoUDP, l4: udp(9, 10, -1, data), trailer: blob[:7]}.build(),
			ReasonOK, w6(ProtoUDP, 53, func(p *Parsed) {
				p.SrcPort, p.DstPort, p.L4Off, p.PayloadOff, p.Payload = 9, 10, 40, 48, data
			})},

		// Malformed: IP level.
		{"empty", nil, ReasonEmpty, Parsed{}},
		{"ip version 5", with(v4syn, func(b []byte) []byte { b[0] = 0x55; return b }), ReasonBadVersion, Parsed{}},
		{"v4 truncated header", v4syn[:19], ReasonTruncatedIPv4, Parsed{Version: 4}},
		{"v4 ihl 4", v4pkt{proto: ProtoTCP, ihl: 4, l4: tcpSeg{}.build()}.build(), ReasonBadIPv4HeaderLen, w4(ProtoTCP, 40, nil)},
		{"v4 total length beyond buffer", v4pkt{proto: ProtoTCP, totLen: 100, l4: tcpSeg{}.build()}.build(), ReasonIPv4TotalLength, w4(ProtoTCP, 100, nil)},
		{"v4 total length below header", v4pkt{proto: ProtoTCP, totLen: 16, l4: tcpSeg{}.build()}.build(), ReasonIPv4TotalLength, w4(ProtoTCP, 16, nil)},
		{"v4 options beyond total length", v4pkt{proto: ProtoTCP, ihl: 15, l4: tcpSeg{}.build()}.build(), ReasonIPv4TotalLength, w4(ProtoTCP, 40, nil)},
		{"v4 gso options beyond buffer", v4pkt{proto: ProtoTCP, ihl: 15, totLen: -1, l4: tcpSeg{}.build()}.build(), ReasonTruncatedIPv4,
			w4(ProtoTCP, 40, func(p *Parsed) { p.GSO = true })},
		{"v6 truncated header", v6pkt{proto: ProtoTCP}.build()[:39], ReasonTruncatedIPv6, Parsed{Version: 6}},
		{"v6 payload length beyond buffer", v6pkt{proto: ProtoTCP, payLen: 200, l4: tcpSeg{}.build()}.build(), ReasonIPv6PayloadLength, w6(ProtoTCP, 240, nil)},
		{"v6 ext header runs past the packet", v6pkt{exts: []ext{optsExt(ProtoDstOpts, 2)}, proto: ProtoNoNext, payLen: 8, trailer: blob[:8]}.build()[:56],
			ReasonTruncatedIPv6Ext, w6(ProtoDstOpts, 48, nil)},
		{"v6 ext header shorter than 8", v6pkt{proto: ProtoHopByHop, l4: blob[:4]}.build(), ReasonTruncatedIPv6Ext, w6(ProtoHopByHop, 44, nil)},
		{"v6 fragment header cut", v6pkt{proto: ProtoFragment, l4: blob[:6]}.build(), ReasonTruncatedIPv6Ext, w6(ProtoFragment, 46, nil)},
		{"v6 ah length past the packet", v6pkt{exts: []ext{{ProtoAH, with(ahExt(12).raw, func(b []byte) []byte { b[1] = 200; return b })}}, proto: ProtoTCP}.build(),
			ReasonTruncatedIPv6Ext, w6(ProtoAH, 52, nil)},
		{"v6 nine extension headers", v6pkt{exts: repeat(maxIPv6ExtHeaders+1, optsExt(ProtoDstOpts, 1)), proto: ProtoUDP, l4: udp(1, 2, -1, nil)}.build(),
			ReasonIPv6ExtChain, w6(ProtoDstOpts, 120, nil)},
		{"v6 hop-by-hop after dest-opts", v6pkt{exts: []ext{optsExt(ProtoDstOpts, 1), optsExt(ProtoHopByHop, 1)}, proto: ProtoUDP, l4: udp(1, 2, -1, nil)}.build(),
			ReasonIPv6ExtChain, w6(ProtoHopByHop, 64, nil)},

		// Malformed: L4.
		{"v4 tcp header cut", v4pkt{proto: ProtoTCP, l4: tcpSeg{sport: 80, dport: 81, seq: 5}.build()[:12]}.build(),
			ReasonTruncatedTCP, w4(ProtoTCP, 32, func(p *Parsed) { p.SrcPort, p.DstPort, p.L4Off, p.PayloadOff = 80, 81, 20, 20 })},
		{"v4 tcp 3 bytes", v4pkt{proto: ProtoTCP, l4: []byte{1, 2, 3}}.build(),
			ReasonTruncatedTCP, w4(ProtoTCP, 23, func(p *Parsed) { p.L4Off, p.PayloadOff = 20, 20 })},
		{"v4 tcp data offset 4", v4pkt{proto: ProtoTCP, l4: tcpSeg{sport: 80, dport: 81, seq: 5, flags: TCPSyn, doff: 4}.build()}.build(),
			ReasonBadTCPOffset, w4(ProtoTCP, 40, func(p *Parsed) {
				p.SrcPort, p.DstPort, p.Seq, p.TCPFlags, p.L4Off, p.PayloadOff = 80, 81, 5, TCPSyn, 20, 20
			})},
		{"v4 tcp data offset past the packet", v4pkt{proto: ProtoTCP, l4: tcpSeg{sport: 80, dport: 81, flags: TCPAck, doff: 15, data: blob[:10]}.build()}.build(),
			ReasonBadTCPOffset, w4(ProtoTCP, 50, func(p *Parsed) {
				p.SrcPort, p.DstPort, p.TCPFlags, p.L4Off, p.PayloadOff = 80, 81, TCPAck, 20, 20
			})},
		{"v4 tcp data offset into the padding", v4pkt{proto: ProtoTCP, l4: tcpSeg{sport: 80, dport: 81, flags: TCPAck, doff: 6}.build(), trailer: blob[:4]}.build(),
			ReasonBadTCPOffset, w4(ProtoTCP, 40, func(p *Parsed) {
				p.SrcPort, p.DstPort, p.TCPFlags, p.L4Off, p.PayloadOff = 80, 81, TCPAck, 20, 20
			})},
		{"v4 tiny first fragment", v4pkt{proto: ProtoTCP, mf: true, l4: tcpSeg{sport: 80, dport: 81}.build()[:8]}.build(),
			ReasonTruncatedTCP, w4(ProtoTCP, 28, func(p *Parsed) {
				p.SrcPort, p.DstPort, p.Fragment, p.L4Off, p.PayloadOff = 80, 81, FirstFragment, 20, 20
			})},
		{"v6 tcp data offset 0", v6pkt{proto: ProtoTCP, l4: with(tcpSeg{sport: 80, dport: 81}.build(), func(b []byte) []byte { b[12] = 0; return b })}.build(),
			ReasonBadTCPOffset, w6(ProtoTCP, 60, func(p *Parsed) { p.SrcPort, p.DstPort, p.L4Off, p.PayloadOff = 80, 81, 40, 40 })},
		{"v4 udp header cut", v4pkt{proto: ProtoUDP, l4: udp(53, 54, -1, nil)[:7]}.build(),
			ReasonTruncatedUDP, w4(ProtoUDP, 27, func(p *Parsed) { p.SrcPort, p.DstPort, p.L4Off, p.PayloadOff = 53, 54, 20, 20 })},
		{"v4 udp length 7", v4pkt{proto: ProtoUDP, l4: udp(53, 54, 7, data)}.build(),
			ReasonBadUDPLength, w4(ProtoUDP, 33, func(p *Parsed) { p.SrcPort, p.DstPort, p.L4Off, p.PayloadOff = 53, 54, 20, 20 })},
		{"v4 udp length past the packet", v4pkt{proto: ProtoUDP, l4: udp(53, 54, 100, data)}.build(),
			ReasonBadUDPLength, w4(ProtoUDP, 33, func(p *Parsed) { p.SrcPort, p.DstPort, p.L4Off, p.PayloadOff = 53, 54, 20, 20 })},
		{"v4 udp length 0 without gso", v4pkt{proto: ProtoUDP, l4: udp(53, 54, 0, data)}.build(),
			ReasonBadUDPLength, w4(ProtoUDP, 33, func(p *Parsed) { p.SrcPort, p.DstPort, p.L4Off, p.PayloadOff = 53, 54, 20, 20 })},
		{"v6 udp length 3", v6pkt{proto: ProtoUDP, l4: udp(53, 54, 3, nil)}.build(),
			ReasonBadUDPLength, w6(ProtoUDP, 48, func(p *Parsed) { p.SrcPort, p.DstPort, p.L4Off, p.PayloadOff = 53, 54, 40, 40 })},
		{"v4 icmp cut after checksum", v4pkt{proto: ProtoICMP, l4: icmp(ICMPv4EchoRequest, 0, 1<<16, nil)[:4]}.build(),
			ReasonTruncatedICMP, w4(ProtoICMP, 24, func(p *Parsed) { p.ICMPType, p.L4Off, p.PayloadOff = ICMPv4EchoRequest, 20, 20 })},
		{"v6 icmpv6 one byte", v6pkt{proto: ProtoICMPv6, l4: []byte{ICMPv6EchoRequest}}.build(),
			ReasonTruncatedICMP, w6(ProtoICMPv6, 41, func(p *Parsed) { p.L4Off, p.PayloadOff = 40, 40 })},
	}
}

// garbage has every field set, to prove that Decode overwrites them all.
var garbage = Parsed{
	Version: 9, Src: dst6, Dst: src4, Proto: 99, TTL: 1, Length: 12345, GSO: true,
	SrcPort: 1, DstPort: 2, TCPFlags: 0xff, Seq: 3, Ack: 4, ICMPType: 5, ICMPCode: 6, ICMPID: 7,
	Fragment: LaterFragment, FragID: 8, L4Off: 9, PayloadOff: 10, Payload: []byte("stale"),
}

func TestDecode(t *testing.T) {
	for _, tt := range decodeCases() {
		t.Run(tt.name, func(t *testing.T) {
			p := garbage
			reason := p.Decode(tt.pkt)
			if reason != tt.reason {
				t.Errorf("reason = %q, want %q", reason, tt.reason)
			}
			if d := diff(&p, &tt.want); d != "" {
				t.Errorf("Decode(% x):\n%s", tt.pkt, d)
			}
			if p.Payload != nil && cap(p.Payload) != len(p.Payload) {
				t.Errorf("cap(Payload) = %d, want %d: appending would overwrite the buffer", cap(p.Payload), len(p.Payload))
			}
		})
	}
}

// diff compares two Parsed values field by field, Payload by content (and
// nil-ness: an empty payload must be nil).
func diff(got, want *Parsed) string {
	var sb strings.Builder
	g, w := reflect.ValueOf(*got), reflect.ValueOf(*want)
	for i := range g.NumField() {
		name := g.Type().Field(i).Name
		gv, wv := g.Field(i).Interface(), w.Field(i).Interface()
		if name == "Payload" {
			if (got.Payload == nil) != (want.Payload == nil) || !bytes.Equal(got.Payload, want.Payload) {
				fmt.Fprintf(&sb, "  Payload = %q, want %q\n", got.Payload, want.Payload)
			}
			continue
		}
		if gv != wv {
			fmt.Fprintf(&sb, "  %s = %v, want %v\n", name, gv, wv)
		}
	}
	return sb.String()
}

func TestDecodeReusesParsed(t *testing.T) {
	var p Parsed
	for _, tt := range decodeCases() {
		p.Decode(tt.pkt)
		if d := diff(&p, &tt.want); d != "" {
			t.Errorf("%s after earlier packets:\n%s", tt.name, d)
		}
	}
}

func TestPayloadAliasesInput(t *testing.T) {
	pkt := v4pkt{proto: ProtoTCP, l4: tcpSeg{sport: 1, dport: 2, flags: TCPAck, data: []byte("abc")}.build()}.build()
	var p Parsed
	if r := p.Decode(pkt); r != ReasonOK {
		t.Fatalf("Decode: %q", r)
	}
	pkt[p.PayloadOff] = 'X'
	if string(p.Payload) != "Xbc" {
		t.Errorf("Payload = %q after changing the input, want %q: it must be a sub-slice, not a copy", p.Payload, "Xbc")
	}
}

func TestV4MappedSourceStaysV6(t *testing.T) {
	pkt := v6pkt{proto: ProtoUDP, l4: udp(1, 2, -1, nil)}.build()
	copy(pkt[8:24], []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1})
	var p Parsed
	p.Decode(pkt)
	if !p.Src.Is4In6() || p.Src.String() != "::ffff:10.0.0.1" {
		t.Errorf("Src = %v, want ::ffff:10.0.0.1 kept as IPv6", p.Src)
	}
}

func TestHelpers(t *testing.T) {
	var p Parsed
	tests := []struct {
		pkt                  []byte
		tcp, udp, icmp, port bool
		str                  string
	}{
		{v4syn, true, false, false, true, "tcp v4 192.0.2.1:40000 > 198.51.100.2:502 [S] seq=1000 ack=0 ttl=64 len=44 payload=0"},
		{v6pkt{proto: ProtoUDP, l4: udp(9, 10, -1, data)}.build(), false, true, false, true, "udp v6 [2001:db8::1]:9 > [2001:db8:ff::2]:10 ttl=63 len=53 payload=5"},
		{v4pkt{proto: ProtoICMP, l4: icmp(8, 0, 77<<16, nil)}.build(), false, false, true, false, "icmp v4 192.0.2.1 > 198.51.100.2 type=8 code=0 id=77 ttl=64 len=28 payload=0"},
		{v4pkt{proto: ProtoTCP, totLen: -1, fragOff: 64, l4: blob[:8]}.build(), true, false, false, false, "tcp v4 192.0.2.1 > 198.51.100.2 ttl=64 len=28 gso frag=later id=48879 payload=0"},
		{v6pkt{proto: 132, l4: blob[:12]}.build(), false, false, false, false, "sctp v6 2001:db8::1 > 2001:db8:ff::2 ttl=63 len=52 payload=0"},
	}
	for _, tt := range tests {
		p.Decode(tt.pkt)
		if p.IsTCP() != tt.tcp || p.IsUDP() != tt.udp || p.IsICMP() != tt.icmp || p.HasPorts() != tt.port {
			t.Errorf("%s: IsTCP %v IsUDP %v IsICMP %v HasPorts %v", tt.str, p.IsTCP(), p.IsUDP(), p.IsICMP(), p.HasPorts())
		}
		if s := p.String(); s != tt.str {
			t.Errorf("String() = %q\n           want %q", s, tt.str)
		}
	}
	if ap := (&Parsed{Src: src4, SrcPort: 7, Dst: dst4, DstPort: 8}); ap.SrcAddrPort().String() != "192.0.2.1:7" || ap.DstAddrPort().String() != "198.51.100.2:8" {
		t.Errorf("AddrPorts = %v %v", ap.SrcAddrPort(), ap.DstAddrPort())
	}
	for f, want := range map[uint8]string{0: "none", TCPSyn: "S", TCPSyn | TCPAck: "S.", TCPFin | TCPPsh | TCPAck: "FP.", 0xff: "FSRPUEW."} {
		if got := FlagString(f); got != want {
			t.Errorf("FlagString(%#x) = %q, want %q", f, got, want)
		}
	}
	for k, want := range map[FragKind]string{NotFragment: "none", FirstFragment: "first", LaterFragment: "later", 7: "FragKind(7)"} {
		if got := k.String(); got != want {
			t.Errorf("FragKind(%d).String() = %q, want %q", k, got, want)
		}
	}
	for proto, want := range map[uint8]string{1: "icmp", 58: "icmpv6", 47: "gre", 50: "esp", 51: "ah", 200: "proto-200"} {
		if got := ProtoName(proto); got != want {
			t.Errorf("ProtoName(%d) = %q, want %q", proto, got, want)
		}
	}
}

// oddCases are packets no well-behaved stack sends, and the unusual but
// legitimate ones beside them that must still decode.
func oddCases() []struct {
	name   string
	pkt    []byte
	reason Reason
} {
	ip := func(opts []byte) []byte {
		return v4pkt{proto: ProtoTCP, opts: opts, l4: tcpSeg{sport: 40000, dport: 502, flags: TCPAck, data: data}.build()}.build()
	}
	tcpOpts := func(flags uint8, opts []byte) []byte {
		return v4pkt{proto: ProtoTCP, l4: tcpSeg{sport: 40000, dport: 502, flags: flags, opts: opts}.build()}.build()
	}
	fl := func(flags uint8) []byte { return tcpOpts(flags, nil) }
	ts := []byte{8, 10, 0, 0, 0, 1, 0, 0, 0, 0}
	linuxSyn := append(append([]byte{2, 4, 0x05, 0xb4, 4, 2}, ts...), 1, 3, 3, 7)
	return []struct {
		name   string
		pkt    []byte
		reason Reason
	}{
		{"ip option length 0", ip([]byte{7, 0, 0, 0}), ReasonBadIPOption},
		{"ip option length 1", ip([]byte{0x94, 1, 0, 0}), ReasonBadIPOption},
		{"ip option length 40 past the header", ip([]byte{7, 40, 0, 0}), ReasonBadIPOption},
		{"ip option without its length byte", ip([]byte{1, 1, 1, 7}), ReasonBadIPOption},
		{"ip option bad in a later fragment", v4pkt{proto: ProtoUDP, fragOff: 8, opts: []byte{7, 0, 0, 0}, l4: blob[:8]}.build(), ReasonBadIPOption},
		{"ip options nop and eol padding", ip([]byte{1, 1, 1, 0}), ReasonOK},
		{"ip options all eol", ip([]byte{0, 0, 0, 0}), ReasonOK},
		{"ip option eol then anything", ip([]byte{0, 7, 0, 0}), ReasonOK},
		{"ip router alert", ip([]byte{0x94, 4, 0, 0}), ReasonOK},
		{"ip timestamp option", ip([]byte{68, 12, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0}), ReasonOK},
		{"ip option filling the header", ip(append([]byte{7, 39, 4}, make([]byte, 37)...)), ReasonOK},

		{"tcp mss length 0", tcpOpts(TCPSyn, []byte{2, 0, 0, 0}), ReasonBadTCPOption},
		{"tcp mss length 3", tcpOpts(TCPSyn, []byte{2, 3, 5, 1}), ReasonBadTCPOption},
		{"tcp option length 1", tcpOpts(TCPAck, []byte{30, 1, 0, 0}), ReasonBadTCPOption},
		{"tcp option past the header", tcpOpts(TCPAck, []byte{1, 1, 8, 10}), ReasonBadTCPOption},
		{"tcp option without its length byte", tcpOpts(TCPAck, []byte{1, 1, 1, 8}), ReasonBadTCPOption},
		{"tcp timestamps of 8 bytes", tcpOpts(TCPAck, []byte{1, 1, 8, 8, 0, 0, 0, 0, 0, 0, 0, 0}), ReasonBadTCPOption},
		{"tcp window scale of 4 bytes", tcpOpts(TCPSyn, []byte{3, 4, 7, 1}), ReasonBadTCPOption},
		{"tcp sack of 9 bytes", tcpOpts(TCPAck, []byte{1, 1, 1, 5, 9, 0, 0, 0, 0, 0, 0, 0}), ReasonBadTCPOption},
		{"tcp linux syn options", tcpOpts(TCPSyn, linuxSyn), ReasonOK},
		{"tcp syn-ack options", tcpOpts(TCPSyn|TCPAck|TCPEce, linuxSyn), ReasonOK},
		{"tcp timestamps", tcpOpts(TCPAck, tsopt), ReasonOK},
		{"tcp one sack block", tcpOpts(TCPAck, []byte{1, 1, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2}), ReasonOK},
		{"tcp two sack blocks", tcpOpts(TCPAck, append([]byte{1, 1, 5, 18}, make([]byte, 16)...)), ReasonOK},
		{"tcp mptcp and fast open cookie request", tcpOpts(TCPSyn, []byte{30, 4, 0, 1, 34, 2, 1, 1}), ReasonOK},
		{"tcp eol then anything", tcpOpts(TCPAck, []byte{0, 2, 0, 0}), ReasonOK},

		{"tcp syn+fin", fl(TCPSyn | TCPFin), ReasonBadTCPFlags},
		{"tcp syn+rst", fl(TCPSyn | TCPRst), ReasonBadTCPFlags},
		{"tcp syn+fin+ack", fl(TCPSyn | TCPFin | TCPAck), ReasonBadTCPFlags},
		{"tcp null flags", fl(0), ReasonBadTCPFlags},
		{"tcp fin alone", fl(TCPFin), ReasonBadTCPFlags},
		{"tcp fin+psh+urg (xmas)", fl(TCPFin | TCPPsh | TCPUrg), ReasonBadTCPFlags},
		{"tcp psh alone", fl(TCPPsh), ReasonBadTCPFlags},
		{"tcp urg alone", fl(TCPUrg), ReasonBadTCPFlags},
		{"tcp rst+fin", fl(TCPRst | TCPFin), ReasonBadTCPFlags},
		{"tcp syn", fl(TCPSyn), ReasonOK},
		{"tcp syn with ecn", fl(TCPSyn | TCPEce | TCPCwr), ReasonOK},
		{"tcp syn-ack", fl(TCPSyn | TCPAck), ReasonOK},
		{"tcp rst", fl(TCPRst), ReasonOK},
		{"tcp rst+ack", fl(TCPRst | TCPAck), ReasonOK},
		{"tcp fin+ack+psh", fl(TCPFin | TCPAck | TCPPsh), ReasonOK},
		{"tcp ack+urg+psh", fl(TCPAck | TCPUrg | TCPPsh), ReasonOK},
	}
}

// TestDecodeOddPackets: malformed options and impossible flag combinations
// are refused with their reason, and what stacks really send is not.
func TestDecodeOddPackets(t *testing.T) {
	for _, tc := range oddCases() {
		t.Run(tc.name, func(t *testing.T) {
			var p Parsed
			r := p.Decode(tc.pkt)
			if r != tc.reason {
				t.Errorf("reason %q, want %q", r, tc.reason)
			}
			checkInvariants(t, tc.pkt, &p, r)
			if r != ReasonOK && (p.Src != src4 || p.Dst != dst4 || (p.Fragment != LaterFragment && p.DstPort != 502)) {
				t.Errorf("refused packet lost its addresses or ports for the log: %+v", p)
			}
		})
	}
}
