package packet

import (
	"reflect"
	"testing"
	"unsafe"
)

// allReasons is every Reason Decode may return.
var allReasons = map[Reason]bool{
	ReasonOK: true, ReasonEmpty: true, ReasonBadVersion: true,
	ReasonTruncatedIPv4: true, ReasonBadIPv4HeaderLen: true, ReasonIPv4TotalLength: true,
	ReasonTruncatedIPv6: true, ReasonIPv6PayloadLength: true, ReasonTruncatedIPv6Ext: true, ReasonIPv6ExtChain: true,
	ReasonTruncatedTCP: true, ReasonBadTCPOffset: true, ReasonTruncatedUDP: true, ReasonBadUDPLength: true,
	ReasonTruncatedICMP: true, ReasonBadIPOption: true, ReasonBadTCPOption: true, ReasonBadTCPFlags: true,
}

// wellFormedOptions is validOptions written out again, as a list of
// (kind, length) pairs, so that the fuzzer checks one against the other.
func wellFormedOptions(o []byte, tcp bool) bool {
	fixed := map[byte]int{2: 4, 3: 3, 4: 2, 8: 10}
	for len(o) > 0 {
		if o[0] == 0 {
			return true
		}
		if o[0] == 1 {
			o = o[1:]
			continue
		}
		if len(o) < 2 || o[1] < 2 || int(o[1]) > len(o) {
			return false
		}
		kind, n := o[0], int(o[1])
		if want, ok := fixed[kind]; tcp && ok && n != want {
			return false
		}
		if tcp && kind == 5 && (n < 10 || (n-2)%8 != 0) {
			return false
		}
		o = o[n:]
	}
	return true
}

// checkInvariants asserts what must hold for any input, well-formed or not.
func checkInvariants(t *testing.T, b []byte, p *Parsed, reason Reason) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("Decode(% x) = %q, %+v: "+format, append([]any{b, reason, *p}, args...)...)
	}
	if !allReasons[reason] {
		fail("unknown reason")
	}
	if p.Version != 0 && p.Version != 4 && p.Version != 6 {
		fail("version %d", p.Version)
	}
	if p.Src.IsValid() != p.Dst.IsValid() || (p.Src.IsValid() && (p.Src.Is4() != (p.Version == 4))) {
		fail("addresses %v %v for version %d", p.Src, p.Dst, p.Version)
	}
	if p.L4Off < 0 || p.L4Off > p.PayloadOff || p.PayloadOff > len(b) {
		fail("offsets L4Off %d PayloadOff %d len %d", p.L4Off, p.PayloadOff, len(b))
	}
	if p.Payload != nil {
		if len(p.Payload) == 0 {
			fail("empty non-nil Payload")
		} else if p.PayloadOff+len(p.Payload) > len(b) || &b[p.PayloadOff] != unsafe.SliceData(p.Payload) {
			fail("Payload is not b[PayloadOff:PayloadOff+%d]", len(p.Payload))
		}
		if reason != ReasonOK {
			fail("Payload set on a malformed packet")
		}
	}
	if !p.IsTCP() && !p.IsUDP() && (p.SrcPort != 0 || p.DstPort != 0) {
		fail("ports on a non-TCP/UDP packet")
	}
	if !p.IsTCP() && (p.TCPFlags != 0 || p.Seq != 0 || p.Ack != 0) {
		fail("TCP fields on a non-TCP packet")
	}
	if !p.IsICMP() && (p.ICMPType != 0 || p.ICMPCode != 0 || p.ICMPID != 0) {
		fail("ICMP fields on a non-ICMP packet")
	}
	if p.Fragment == LaterFragment && (p.SrcPort != 0 || p.DstPort != 0 || p.Payload != nil || (reason != ReasonOK && reason != ReasonBadIPOption)) {
		fail("later fragment with L4 data")
	}
	if reason == ReasonOK && p.Version == 4 && len(b) >= IPv4MinLen {
		if ihl := int(b[0]&0xf) * 4; !wellFormedOptions(b[IPv4MinLen:ihl], false) {
			fail("accepted IPv4 options % x", b[IPv4MinLen:ihl])
		}
	}
	if reason == ReasonOK && p.IsTCP() && p.Fragment != LaterFragment {
		th := b[p.L4Off:p.PayloadOff]
		switch f := p.TCPFlags &^ (TCPPsh | TCPEce | TCPCwr); {
		case f&TCPSyn != 0 && f&(TCPFin|TCPRst) != 0, f&(TCPSyn|TCPAck|TCPRst) == 0, f&TCPFin != 0 && f&TCPAck == 0:
			fail("accepted TCP flags %s", FlagString(p.TCPFlags))
		}
		if !wellFormedOptions(th[TCPMinLen:], true) {
			fail("accepted TCP options % x", th[TCPMinLen:])
		}
	}
	if reason == ReasonOK {
		if p.Version == 0 || !p.Src.IsValid() {
			fail("ok without IP header")
		}
		if p.Length > len(b) || p.Length < p.PayloadOff {
			fail("Length %d outside [PayloadOff %d, len %d]", p.Length, p.PayloadOff, len(b))
		}
		if p.GSO && p.Length != len(b) {
			fail("GSO with Length %d != len %d", p.Length, len(b))
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, tt := range decodeCases() {
		f.Add(tt.pkt)
	}
	for _, tt := range oddCases() {
		f.Add(tt.pkt)
	}
	if dir := captureDir(); dir != "" {
		for _, pkts := range capturePackets(f, dir) {
			for _, pkt := range pkts {
				f.Add(pkt)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := string(b)
		p := garbage
		reason := p.Decode(b)
		checkInvariants(t, b, &p, reason)
		if string(b) != orig {
			t.Fatalf("Decode modified its input")
		}
		var q Parsed // a fresh value must decode identically: no state leaks
		if r := q.Decode(b); r != reason || !reflect.DeepEqual(p, q) {
			t.Fatalf("Decode depends on the previous content:\n%+v %q\n%+v %q", p, reason, q, r)
		}
	})
}
