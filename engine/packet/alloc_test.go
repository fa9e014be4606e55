package packet

import (
	"testing"

	"github.com/conduit-ot/conduit/internal/alloctest"
)

// benchPackets are the hot-path shapes measured by TestNoAllocs and BenchmarkDecode.
var benchPackets = []struct {
	name   string
	pkt    []byte
	reason Reason
}{
	// 64 bytes: 20 IP + 20 TCP + 24 data, a typical Modbus/TCP request.
	{"ipv4-tcp-64", v4pkt{proto: ProtoTCP, l4: tcpSeg{sport: 40000, dport: 502, seq: 1, ack: 2, flags: TCPPsh | TCPAck, data: blob[:24]}.build()}.build(), ReasonOK},
	// A Linux SYN (MSS, SACK permitted, timestamps, window scale) behind an IPv4 Router Alert.
	{"ipv4-tcp-syn-opts", v4pkt{proto: ProtoTCP, opts: []byte{0x94, 4, 0, 0}, l4: tcpSeg{sport: 40000, dport: 502, seq: 1, flags: TCPSyn,
		opts: []byte{2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7}}.build()}.build(), ReasonOK},
	{"ipv6-tcp-ext", v6pkt{exts: []ext{optsExt(ProtoHopByHop, 1), optsExt(ProtoDstOpts, 1), fragExt(0, true, 1)}, proto: ProtoTCP,
		l4: tcpSeg{sport: 40000, dport: 20000, flags: TCPAck, opts: tsopt, data: blob[:12]}.build()}.build(), ReasonOK},
	{"ipv6-udp", v6pkt{proto: ProtoUDP, l4: udp(5000, 47808, -1, blob[:20])}.build(), ReasonOK},
	{"icmp-echo", v4pkt{proto: ProtoICMP, l4: icmp(ICMPv4EchoRequest, 0, 1<<16|1, blob[:56])}.build(), ReasonOK},
	{"malformed-tcp-offset", v4pkt{proto: ProtoTCP, l4: tcpSeg{sport: 1, dport: 2, doff: 15}.build()}.build(), ReasonBadTCPOffset},
	{"malformed-tcp-flags", v4pkt{proto: ProtoTCP, l4: tcpSeg{sport: 1, dport: 2, flags: TCPFin | TCPPsh | TCPUrg}.build()}.build(), ReasonBadTCPFlags},
	{"malformed-ipv6-chain", v6pkt{exts: repeat(maxIPv6ExtHeaders+1, optsExt(ProtoDstOpts, 1)), proto: ProtoUDP}.build(), ReasonIPv6ExtChain},
}

func TestNoAllocs(t *testing.T) {
	var p Parsed
	for _, bp := range benchPackets {
		if r := p.Decode(bp.pkt); r != bp.reason {
			t.Fatalf("%s: reason %q, want %q", bp.name, r, bp.reason)
		}
		alloctest.Zero(t, 1000, bp.name+": Decode", func() { p.Decode(bp.pkt) })
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, bp := range benchPackets {
		var p Parsed
		alloctest.Bench(b, bp.name, len(bp.pkt), func() { p.Decode(bp.pkt) })
	}
}
