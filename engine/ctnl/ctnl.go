// Package ctnl reads the kernel's connection tracking table over
// ctnetlink, so that a starting daemon can take over the sessions the
// kernel already knows instead of meeting them mid-stream.
package ctnl

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// Entry is one kernel connection in its original direction.
type Entry struct {
	Proto            uint8
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16 // ICMP: SrcPort is the echo id
	// Established: a TCP connection in ESTABLISHED, or a UDP/ICMP flow
	// that has seen replies.
	Established bool
	// Mark is the connection mark; Packets and Bytes the kernel's
	// accounting by direction (0 original, 1 reply), zero unless
	// net.netfilter.nf_conntrack_acct was on when the entry was created
	// (HasCounters says whether they were present).
	Mark uint32
	// Closed is how far the kernel saw a TCP connection close: not
	// (ClosedNone), one side (ClosedOne: FIN_WAIT, CLOSE_WAIT, LAST_ACK), or
	// both or reset (ClosedBoth: TIME_WAIT, CLOSE).
	Closed         uint8
	Packets, Bytes [2]uint64
	HasCounters    bool
}

// ctnetlink message types and attributes (linux/netfilter/nfnetlink_conntrack.h).
const (
	msgGet = 1 // IPCTNL_MSG_CT_GET

	ctaTupleOrig     = 1
	ctaStatus        = 3
	ctaProtoinfo     = 4
	ctaMark          = 8
	ctaCountersOrig  = 9
	ctaCountersReply = 10
	ctaMarkMask      = 21

	ctaCountersPackets = 1
	ctaCountersBytes   = 2

	ctaTupleIP    = 1
	ctaTupleProto = 2

	ctaIPv4Src = 1
	ctaIPv4Dst = 2
	ctaIPv6Src = 3
	ctaIPv6Dst = 4

	ctaProtoNum     = 1
	ctaProtoSrcPort = 2
	ctaProtoDstPort = 3
	ctaProtoICMPID  = 4
	ctaProtoICMP6ID = 7

	ctaProtoinfoTCP      = 1
	ctaProtoinfoTCPState = 1

	statusSeenReply       = 1 << 1
	tcpStateEstablished   = 3 // TCP_CONNTRACK_ESTABLISHED
	protoTCP, protoUDP    = 6, 17
	protoICMP, protoICMP6 = 1, 58
)

// Entry.Closed values.
const (
	ClosedNone = iota
	ClosedOne
	ClosedBoth
)

// TCP_CONNTRACK_* states past ESTABLISHED.
const tcpFinWait, tcpCloseWait, tcpLastAck, tcpTimeWait, tcpClose = 4, 5, 6, 7, 8

// Dial opens ctnetlink in the caller's network namespace.
func Dial() (*netlink.Conn, error) {
	c, err := netlink.Dial(unix.NETLINK_NETFILTER, nil)
	if err != nil {
		return nil, fmt.Errorf("open ctnetlink: %w", err)
	}
	return c, nil
}

// Dump lists every connection the kernel tracks in c's namespace, IPv4 and
// IPv6.
func Dump(c *netlink.Conn) ([]Entry, error) {
	req := netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_CTNETLINK<<8 | msgGet),
			Flags: netlink.Request | netlink.Dump,
		},
		Data: []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0}, // nfgenmsg: every family
	}
	msgs, err := c.Execute(req)
	if err != nil {
		return nil, fmt.Errorf("dump kernel conntrack: %w", err)
	}
	var out []Entry
	for _, m := range msgs {
		if e, ok := Parse(m.Data); ok {
			out = append(out, e)
		}
	}
	return out, nil
}

// Parse decodes one IPCTNL_MSG_CT_NEW message body (nfgenmsg and
// attributes). It reports false for what it cannot read.
func Parse(b []byte) (Entry, bool) {
	var e Entry
	if len(b) < 4 {
		return e, false
	}
	ad, err := netlink.NewAttributeDecoder(b[4:])
	if err != nil {
		return e, false
	}
	var status uint32
	tcpState := uint8(0xff)
	for ad.Next() {
		switch ad.Type() {
		case ctaTupleOrig:
			ad.Nested(func(nd *netlink.AttributeDecoder) error {
				parseTuple(nd, &e)
				return nil
			})
		case ctaStatus:
			status = binary.BigEndian.Uint32(pad4(ad.Bytes()))
		case ctaMark:
			e.Mark = binary.BigEndian.Uint32(pad4(ad.Bytes()))
		case ctaCountersOrig, ctaCountersReply:
			d := 0
			if ad.Type() == ctaCountersReply {
				d = 1
			}
			e.HasCounters = true
			ad.Nested(func(nd *netlink.AttributeDecoder) error {
				for nd.Next() {
					switch nd.Type() {
					case ctaCountersPackets:
						e.Packets[d] = binary.BigEndian.Uint64(pad8(nd.Bytes()))
					case ctaCountersBytes:
						e.Bytes[d] = binary.BigEndian.Uint64(pad8(nd.Bytes()))
					}
				}
				return nil
			})
		case ctaProtoinfo:
			ad.Nested(func(nd *netlink.AttributeDecoder) error {
				for nd.Next() {
					if nd.Type() == ctaProtoinfoTCP {
						nd.Nested(func(td *netlink.AttributeDecoder) error {
							for td.Next() {
								if td.Type() == ctaProtoinfoTCPState {
									tcpState = td.Uint8()
								}
							}
							return nil
						})
					}
				}
				return nil
			})
		}
	}
	if ad.Err() != nil || !e.Src.IsValid() || !e.Dst.IsValid() || e.Proto == 0 {
		return e, false
	}
	switch e.Proto {
	case protoTCP:
		e.Established = tcpState == tcpStateEstablished
		switch tcpState {
		case tcpFinWait, tcpCloseWait, tcpLastAck:
			e.Closed = ClosedOne
		case tcpTimeWait, tcpClose:
			e.Closed = ClosedBoth
		}
	default:
		e.Established = status&statusSeenReply != 0
	}
	return e, true
}

func parseTuple(ad *netlink.AttributeDecoder, e *Entry) {
	for ad.Next() {
		switch ad.Type() {
		case ctaTupleIP:
			ad.Nested(func(nd *netlink.AttributeDecoder) error {
				for nd.Next() {
					a, ok := netip.AddrFromSlice(nd.Bytes())
					if !ok {
						continue
					}
					switch nd.Type() {
					case ctaIPv4Src, ctaIPv6Src:
						e.Src = a.Unmap()
					case ctaIPv4Dst, ctaIPv6Dst:
						e.Dst = a.Unmap()
					}
				}
				return nil
			})
		case ctaTupleProto:
			ad.Nested(func(nd *netlink.AttributeDecoder) error {
				for nd.Next() {
					switch nd.Type() {
					case ctaProtoNum:
						e.Proto = nd.Uint8()
					case ctaProtoSrcPort:
						e.SrcPort = binary.BigEndian.Uint16(pad2(nd.Bytes()))
					case ctaProtoDstPort:
						e.DstPort = binary.BigEndian.Uint16(pad2(nd.Bytes()))
					case ctaProtoICMPID, ctaProtoICMP6ID:
						e.SrcPort = binary.BigEndian.Uint16(pad2(nd.Bytes()))
					}
				}
				return nil
			})
		}
	}
}

// pad2 and pad4 keep a short (malformed) attribute from panicking.
func pad2(b []byte) []byte {
	if len(b) >= 2 {
		return b
	}
	return make([]byte, 2)
}

func pad4(b []byte) []byte {
	if len(b) >= 4 {
		return b
	}
	return make([]byte, 4)
}

func pad8(b []byte) []byte {
	if len(b) >= 8 {
		return b
	}
	return make([]byte, 8)
}
