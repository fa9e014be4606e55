package opcua

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/conduit-ot/conduit/internal/pcaptest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// captureWant gives, per capture, the count of every outcome of the
// messages in its TCP streams to and from port 4840, each direction
// reassembled in sequence order. Lines read "dir what count": dir is req
// (to the server) or rsp; what is the message type and, for a MSG or CLO
// read in the clear, its type NodeId's numeric id; for an OPN its policy's
// short name and "mode=M" (a request read in the clear), "token" (a
// response read in the clear) or "encrypted". "channel P M" lines count
// the channels whose mode was settled from their first MSG (the OPN being
// encrypted), "chunk K" lines the chunks of a kind other than single.
//
// The service ids were taken with tshark 4.0 (-Y opcua -T fields -E
// occurrence=a -e tcp.dstport -e opcua.transport.type -e
// opcua.servicenodeid.numeric -e opcua.security.spu, and -e
// opcua.MessageSecurityMode for the OPN requests' modes); where the
// counts differ from tshark's the line says why.
var captureWant = map[string]string{
	"python_opcua-client-server_minimal.pcap": `
		req HEL 1
		rsp ACK 1
		req OPN None mode=none 1
		rsp OPN None token 1
		req MSG 461,467,473,527 1
		req MSG 554 2
		rsp MSG 464,470,476,530 1
		rsp MSG 557 2
		req CLO 452 1`,

	"python_opcua-client-server_minimal-2.pcap": `
		req HEL 1
		rsp ACK 1
		req OPN None mode=none 1
		rsp OPN None token 1
		req MSG 461,467,473,527,631 1
		req MSG 554 2
		rsp MSG 464,470,476,530,634 1
		rsp MSG 557 2
		req CLO 452 1`,

	// Two connections: GetEndpoints on a None channel, then a
	// Basic256Sha256 channel. Its OPNs are RSA-encrypted (tshark shows
	// garbage sequence numbers and no service), but its MSG bodies are in
	// the clear (tshark and conduit read CreateSession, ActivateSession
	// and Browse): the channel's mode is Sign, not SignAndEncrypt, and is
	// known only from its first MSG.
	"python_opcua-client-server_encrypted.pcap": `
		req HEL 2
		rsp ACK 2
		req OPN None mode=none 1
		rsp OPN None token 1
		req MSG 428 1
		rsp MSG 431 1
		req CLO 452 1
		req OPN Basic256Sha256 encrypted 1
		rsp OPN Basic256Sha256 encrypted 1
		channel Basic256Sha256 sign 1
		req MSG 461,467,527 1
		rsp MSG 464,470,530 1`,

	// A subscription session. The server's CreateSessionResponse (464,
	// 13990 bytes in frames 12-30) is contiguous in sequence order, but
	// tshark flags frames 26 and 30 as spurious retransmissions (the
	// client had acknowledged them before the capture saw them) and does
	// not reassemble it: tshark counts no 464, conduit one. Two Publish
	// requests are still unanswered when the capture ends.
	"opcua_with-gap.pcap": `
		req HEL 1
		rsp ACK 1
		req OPN None mode=none 1
		rsp OPN None token 1
		req MSG 461,467,751,787 1
		req MSG 631 31
		req MSG 826 50
		rsp MSG 464,470,754,790 1
		rsp MSG 634 31
		rsp MSG 829 48`,
}

// follower walks the TCP streams of a capture as the engine's stream
// layer would: each direction in sequence order, a chunk whose prefix
// Parse judged passed over to its declared end, the channel's security
// mode carried from the OPNs (and, when they are encrypted, from the first
// MSG) to the hint.
type follower struct {
	t     *testing.T
	conns map[[2]netip.AddrPort]*conn
	count func(string)
}

type conn struct {
	mode   Mode
	policy string
	dirs   [2]stream
}

type stream struct {
	started bool
	next    uint32 // sequence number of the next new byte
	buf     []byte
	skip    int // bytes of a judged chunk still to pass over
	chunks  Chunks
}

func (f *follower) segment(s pcaptest.Segment) {
	side, key := 0, [2]netip.AddrPort{s.Src, s.Dst}
	if s.Src.Port() == Port {
		side, key = 1, [2]netip.AddrPort{s.Dst, s.Src}
	}
	c := f.conns[key]
	if c == nil {
		c = &conn{}
		f.conns[key] = c
	}
	st := &c.dirs[side]
	data := s.Payload
	switch {
	case !st.started:
		st.started, st.next = true, s.Seq
	case int32(s.Seq-st.next) > 0:
		f.t.Logf("frame %d: gap of %d bytes", s.Frame, s.Seq-st.next)
		st.buf, st.skip, st.next = nil, 0, s.Seq
	case int32(s.Seq+uint32(len(data))-st.next) <= 0:
		return // a retransmission
	default:
		data = data[st.next-s.Seq:]
	}
	st.next += uint32(len(data))
	if st.skip > 0 {
		k := min(st.skip, len(data))
		st.skip -= k
		data = data[k:]
	}
	st.buf = append(st.buf, data...)
	for len(st.buf) > 0 {
		var m Message
		n, err := Parse(st.buf, Hint{Mode: c.mode, Continues: st.chunks.Open()}, &m)
		if err == pdu.ErrShort {
			return
		}
		f.message(c, side, &m, err)
		if err != pdu.OK && n == 0 {
			st.buf = nil // the boundary is lost
			return
		}
		st.chunks.Next(&m)
		if n > len(st.buf) {
			st.skip, st.buf = n-len(st.buf), nil
			return
		}
		st.buf = st.buf[n:]
	}
}

func (f *follower) message(c *conn, side int, m *Message, err pdu.Error) {
	d := [2]string{"req", "rsp"}[side]
	switch {
	case err != pdu.OK:
		f.count(fmt.Sprintf("%s %s %s", d, m.Type, err))
	case m.Type == TypeOpen:
		pol := string(PolicySuffix(m.Policy))
		what := "encrypted"
		switch {
		case m.HasMode:
			what = "mode=" + m.SecurityMode.String()
			c.mode = m.SecurityMode
		case m.HasToken:
			what = "token"
		case m.Encrypted:
			c.mode, c.policy = ModeUnknown, pol
		}
		f.count(fmt.Sprintf("%s OPN %s %s", d, pol, what))
	case m.Type == TypeMessage || m.Type == TypeClose:
		if c.mode == ModeUnknown && c.policy != "" {
			c.mode = ModeSign
			if m.Encrypted {
				c.mode = ModeSignAndEncrypt
			}
			f.count(fmt.Sprintf("channel %s %s", c.policy, c.mode))
		}
		switch {
		case m.Encrypted:
			f.count(fmt.Sprintf("%s %s encrypted", d, m.Type))
		case m.HasType:
			f.count(fmt.Sprintf("%s %s %d", d, m.Type, m.TypeID))
		default:
			f.count(fmt.Sprintf("%s %s chunk", d, m.Type))
		}
		if m.HasType && m.TypeNS == 0 && m.Service == ServiceUnknown {
			f.count(fmt.Sprintf("%s unknown-service %d", d, m.TypeID))
		}
	default:
		f.count(fmt.Sprintf("%s %s", d, m.Type))
	}
}

func TestCaptures(t *testing.T) {
	pcaptest.Table(t, "opcua", captureWant, func(t *testing.T, path, spec string) {
		got := map[string]int{}
		f := &follower{t: t, conns: map[[2]netip.AddrPort]*conn{}, count: func(k string) { got[k]++ }}
		for _, s := range pcaptest.Payloads(t, path, Port) {
			if s.Proto == pcaptest.TCP {
				f.segment(s)
			}
		}
		pcaptest.DiffCounts(t, got, pcaptest.Counts(t, spec))
	})
}
