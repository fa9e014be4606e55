package ctnl

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// entryMsg builds an IPCTNL_MSG_CT_NEW body as the kernel dumps it.
func entryMsg(t testing.TB, proto uint8, src, dst string, sport, dport uint16, tcpState uint8, status uint32) []byte {
	t.Helper()
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	ae := netlink.NewAttributeEncoder()
	ae.Nested(ctaTupleOrig, func(nae *netlink.AttributeEncoder) error {
		nae.Nested(ctaTupleIP, func(ip *netlink.AttributeEncoder) error {
			if s.Is4() {
				ip.Bytes(ctaIPv4Src, s.AsSlice())
				ip.Bytes(ctaIPv4Dst, d.AsSlice())
			} else {
				ip.Bytes(ctaIPv6Src, s.AsSlice())
				ip.Bytes(ctaIPv6Dst, d.AsSlice())
			}
			return nil
		})
		nae.Nested(ctaTupleProto, func(p *netlink.AttributeEncoder) error {
			p.Uint8(ctaProtoNum, proto)
			if proto == protoICMP {
				p.Bytes(ctaProtoICMPID, binary.BigEndian.AppendUint16(nil, sport))
				return nil
			}
			p.Bytes(ctaProtoSrcPort, binary.BigEndian.AppendUint16(nil, sport))
			p.Bytes(ctaProtoDstPort, binary.BigEndian.AppendUint16(nil, dport))
			return nil
		})
		return nil
	})
	ae.Bytes(ctaStatus, binary.BigEndian.AppendUint32(nil, status))
	if proto == protoTCP {
		ae.Nested(ctaProtoinfo, func(pi *netlink.AttributeEncoder) error {
			pi.Nested(ctaProtoinfoTCP, func(tcp *netlink.AttributeEncoder) error {
				tcp.Uint8(ctaProtoinfoTCPState, tcpState)
				return nil
			})
			return nil
		})
	}
	b, err := ae.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte{unix.AF_INET, 0, 0, 0}, b...)
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		name string
		msg  []byte
		want Entry
		ok   bool
	}{
		{"tcp established", entryMsg(t, protoTCP, "10.20.0.10", "10.10.0.10", 40000, 502, tcpStateEstablished, 0xe),
			Entry{Proto: 6, Src: netip.MustParseAddr("10.20.0.10"), Dst: netip.MustParseAddr("10.10.0.10"), SrcPort: 40000, DstPort: 502, Established: true}, true},
		{"tcp syn sent", entryMsg(t, protoTCP, "10.20.0.10", "10.10.0.10", 40001, 502, 1, 0x8),
			Entry{Proto: 6, Src: netip.MustParseAddr("10.20.0.10"), Dst: netip.MustParseAddr("10.10.0.10"), SrcPort: 40001, DstPort: 502}, true},
		{"udp replied", entryMsg(t, protoUDP, "fd00:20::10", "fd00:10::10", 5000, 2222, 0, statusSeenReply),
			Entry{Proto: 17, Src: netip.MustParseAddr("fd00:20::10"), Dst: netip.MustParseAddr("fd00:10::10"), SrcPort: 5000, DstPort: 2222, Established: true}, true},
		{"icmp echo", entryMsg(t, protoICMP, "10.20.0.10", "10.10.0.10", 77, 0, 0, 0),
			Entry{Proto: 1, Src: netip.MustParseAddr("10.20.0.10"), Dst: netip.MustParseAddr("10.10.0.10"), SrcPort: 77}, true},
		{"short", []byte{2, 0}, Entry{}, false},
		{"no tuple", append([]byte{2, 0, 0, 0}, 8, 0, ctaStatus, 0, 0, 0, 0, 2), Entry{}, false},
	} {
		got, ok := Parse(c.msg)
		if ok != c.ok || ok && got != c.want {
			t.Errorf("%s: Parse = %+v, %v; want %+v, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

// FuzzParse: whatever the kernel (or a corrupted buffer) sends, Parse
// returns without panicking, and an entry it accepts has both addresses.
func FuzzParse(f *testing.F) {
	f.Add(entryMsg(f, protoTCP, "10.20.0.10", "10.10.0.10", 40000, 502, tcpStateEstablished, 0xe))
	f.Add(entryMsg(f, protoUDP, "fd00:20::10", "fd00:10::10", 5000, 2222, 0, statusSeenReply))
	f.Add(entryMsg(f, protoICMP, "10.20.0.10", "10.10.0.10", 77, 0, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		if e, ok := Parse(b); ok && (!e.Src.IsValid() || !e.Dst.IsValid() || e.Proto == 0) {
			t.Fatalf("accepted %+v", e)
		}
	})
}
