package conntrack

import (
	"encoding/binary"
	"net/netip"
	"strconv"

	"github.com/conduit-ot/conduit/internal/ipproto"
)

// IP protocol numbers the table treats specially.
const (
	ProtoICMP   uint8 = ipproto.ICMP
	ProtoTCP    uint8 = ipproto.TCP
	ProtoUDP    uint8 = ipproto.UDP
	ProtoICMPv6 uint8 = ipproto.ICMPv6
)

// Key identifies a flow in its original (request) direction.
//
// TCP and UDP use both ports. ICMP and ICMPv6 echo use SrcPort = echo
// identifier and DstPort = 0 in both directions, so that a request and its
// reply map to the same flow. Other protocols leave the ports zero: the flow
// is the address pair.
type Key struct {
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8
}

// Reverse returns the key of the reply direction. Addresses are swapped;
// ports are swapped too, except for ICMP where SrcPort carries the echo
// identifier in both directions.
func (k Key) Reverse() Key {
	r := Key{Src: k.Dst, Dst: k.Src, SrcPort: k.DstPort, DstPort: k.SrcPort, Proto: k.Proto}
	if k.Proto == ProtoICMP || k.Proto == ProtoICMPv6 {
		r.SrcPort, r.DstPort = k.SrcPort, k.DstPort
	}
	return r
}

// String formats the key for logs, e.g. "tcp 10.0.0.1:40000 -> 10.0.0.2:502".
func (k Key) String() string {
	b := make([]byte, 0, 64)
	b = append(b, ProtoName(k.Proto)...)
	b = append(b, ' ')
	switch k.Proto {
	case ProtoTCP, ProtoUDP:
		b = netip.AddrPortFrom(k.Src, k.SrcPort).AppendTo(b)
		b = append(b, " -> "...)
		b = netip.AddrPortFrom(k.Dst, k.DstPort).AppendTo(b)
	case ProtoICMP, ProtoICMPv6:
		b = k.Src.AppendTo(b)
		b = append(b, " -> "...)
		b = k.Dst.AppendTo(b)
		b = append(b, " id "...)
		b = strconv.AppendUint(b, uint64(k.SrcPort), 10)
	default:
		b = k.Src.AppendTo(b)
		b = append(b, " -> "...)
		b = k.Dst.AppendTo(b)
	}
	return string(b)
}

// ProtoName names an IP protocol number in a key: the protocols the table
// treats specially by name, any other by number ("proto-47").
func ProtoName(p uint8) string {
	switch p {
	case ProtoICMP, ProtoTCP, ProtoUDP, ProtoICMPv6:
		return ipproto.Known(p)
	}
	return ipproto.Number(p)
}

// flowKey is the LRU's map key. Both directions of a flow canonicalise to
// the same flowKey, so one probe finds a flow from either side (the same
// result as trying k, then k.Reverse()). It is plain memory — no pointers,
// no padding — so the map hashes and compares it with single memhash and
// memequal calls, and it is 16 bytes smaller than Key in every LRU element
// and map slot. IPv6 zones are not part of it: packets carry none.
type flowKey struct {
	a0, a1, b0, b1 uint64 // addresses, see addrWords
	aPort, bPort   uint16
	proto          uint8
	v6             uint8  // IPv4 and IPv4-mapped IPv6 are different flows
	pad            uint16 // explicit, always zero: keeps the struct plain memory
}

// canon returns k's flowKey and whether k's endpoints were swapped to get
// it. Any total order of endpoints works.
func canon(k Key) (flowKey, bool) {
	a0, a1 := addrWords(k.Src)
	b0, b1 := addrWords(k.Dst)
	ap, bp := k.SrcPort, k.DstPort
	// ICMP's "port" is the echo id, carried unchanged in both directions.
	icmp := k.Proto == ProtoICMP || k.Proto == ProtoICMPv6
	swap := a0 > b0 || a0 == b0 && (a1 > b1 || a1 == b1 && ap > bp && !icmp)
	if swap {
		a0, a1, b0, b1 = b0, b1, a0, a1
		if !icmp {
			ap, bp = bp, ap
		}
	}
	var v6 uint8
	if !k.Src.Is4() {
		v6 = 1
	}
	// Returned as a literal so it travels in registers, not via a stack copy.
	return flowKey{a0: a0, a1: a1, b0: b0, b1: b1, aPort: ap, bPort: bp, proto: k.Proto, v6: v6}, swap
}

// addrWords maps an address to two words, injectively within a family (the
// flowKey's v6 byte separates families). IPv4, the common case in OT
// networks, takes the 4-byte path: copying As16's 16-byte array costs a
// store-forwarding stall on the packet path.
func addrWords(a netip.Addr) (uint64, uint64) {
	if a.Is4() {
		b := a.As4()
		return 0, uint64(binary.BigEndian.Uint32(b[:]))
	}
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}
