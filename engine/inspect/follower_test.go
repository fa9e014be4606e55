package inspect

import (
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/proto"
	"github.com/conduit-ot/conduit/proto/enip/eniptest"
	"github.com/conduit-ot/conduit/proto/modbus/modbustest"
	"github.com/conduit-ot/conduit/rules"
)

// The follower driven without the engine: one client's TCP stream or UDP
// datagrams under a one-rule policy, segment by segment.

// counter is an Observer that counts what it is told.
type counter struct{ covered, reported int }

func (o *counter) Cover(_ *Stream, rs []proto.Judged) { o.covered += len(rs) }
func (o *counter) Report(proto.Judged)                { o.reported++ }

// encap is an EtherNet/IP encapsulation header of command cmd announcing
// n bytes of data, and the data (zero).
func encap(cmd uint16, n int) []byte { return eniptest.Encap(cmd, 0, 0, make([]byte, n)) }

// mbPDU is a Modbus request of function fn (3: read_holding_registers,
// 6: write_single_register) for register 0.
func mbPDU(fn byte) []byte { return modbustest.Request(1, 1, fn, 0, 1) }

// segment is a client segment at offset at of the stream, and what the
// follower must make of it.
type segment struct {
	at      uint32
	syn     bool // a bare SYN whose next byte is at (none: data with ACK and PSH)
	data    []byte
	refused bool
	line    Line
	reqs    uint64
	reason  string // with a line
}

func TestFollower(t *testing.T) {
	const readOnly = "proto: tcp, dport: 502, modbus: {functions: [read_holding_registers]}"
	read, write := mbPDU(3), mbPDU(6)
	big := encap(0x63, 5000) // list_identity beyond PDUMax
	register, _ := eniptest.Register(0, 0)
	for _, tc := range []struct {
		name, rule string // the rule's transport, port and condition
		segs       []segment
	}{
		{"requests in order", readOnly, []segment{{at: 0, data: read, reqs: 1}, {at: 12, data: read, reqs: 1}}},
		{"a request over two segments", readOnly, []segment{{at: 0, data: read[:5]}, {at: 5, data: read[5:], reqs: 1}}},
		{"a retransmission of passed bytes", readOnly, []segment{{at: 0, data: read, reqs: 1}, {at: 0, data: read}}},
		{"a refused request, retransmitted", readOnly, []segment{
			{at: 0, data: write, refused: true, line: LineAlways, reason: ReasonViolation},
			{at: 0, data: write, refused: true}, // the same verdict, no second line
			{at: 0, data: read, reqs: 1},
		}},
		{"an altered retransmission", readOnly, []segment{
			{at: 0, data: read, reqs: 1},
			{at: 0, data: write, refused: true, line: LineAlways, reason: ReasonStreamGap},
		}},
		{"a gap", readOnly, []segment{{at: 12, data: read, refused: true, line: LineAlways, reason: ReasonStreamGap}}},
		// A SYN into the established connection, 7 bytes back: the server
		// ignores it and still expects byte 24, so a segment at 17 holding
		// 7 bytes of a header that announces a long PDU, then a write, would
		// be read as one unfinished request by the follower and as the write
		// by the server.
		{"a SYN mid-stream", readOnly, []segment{
			{at: 0, data: read, reqs: 1},
			{at: 12, data: read, reqs: 1},
			{at: 17, syn: true},
			{at: 17, data: append([]byte{0, 2, 0, 0, 0, 30, 1}, mbPDU(6)...), refused: true, line: LineAlways, reason: ReasonStreamGap},
		}},
		// The SYN that started the connection, again: nothing changes.
		{"a SYN retransmitted mid-stream", readOnly, []segment{
			{at: 0, data: read, reqs: 1},
			{at: 0, syn: true},
			{at: 12, data: read, reqs: 1},
		}},
		// Passed over unparsed as it comes; the stream stays in step.
		{"a PDU beyond PDUMax", "proto: tcp, dport: 44818, on_unparsed: allow, enip: {commands: [list_identity]}", []segment{
			{at: 0, data: big[:1000], line: LineAlways, reason: "unparsed-enip"},
			{at: 1000, data: big[1000:3000]},
			{at: 3000, data: big[3000:]},
			{at: uint32(len(big)), data: register, refused: true, line: LineAlways, reason: ReasonViolation},
		}},
		// Datagrams: whole PDUs only.
		{"datagrams", "proto: udp, dport: 44818, enip: {commands: [list_identity]}", []segment{
			{data: encap(0x63, 0), reqs: 1},
			{data: register, refused: true, line: LineAlways, reason: ReasonViolation},
			{data: encap(0x63, 10)[:30], refused: true, line: LineAlways, reason: "malformed-enip"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol, err := rules.Parse("f.yaml", []byte(strings.Replace(`mode: enforce
zones: {a: {level: 2, cidrs: [10.0.0.0/8]}}
rules: [{name: r, from: a, to: a, RULE}]
default: deny
`, "RULE", tc.rule, 1)))
			if err != nil {
				t.Fatal(err)
			}
			var p packet.Parsed
			obs := &counter{}
			var f Follower
			f.Init(Config{Pkt: &p, Observer: obs, LargeBuffers: MaxLarge, LineWindow: 10e9})
			pk := Packet{Rule: &pol.Rules[0], Mode: rules.ModeEnforce, Side: ReqSide, Flow: 1, Slot: -1}
			l4 := uint8(packet.ProtoTCP)
			if pol.Rules[0].Proto == packet.ProtoUDP {
				l4 = packet.ProtoUDP
			}
			send := func(flags uint8, seq uint32, data []byte) *Result {
				p = packet.Parsed{Proto: l4, TCPFlags: flags, Seq: seq, Payload: data}
				pk.Packets++
				r := f.Inspect(&pk)
				pk.Slot = r.Slot
				return r
			}
			if l4 == packet.ProtoTCP {
				send(packet.TCPSyn, 999, nil)
				pk.Side = RspSide
				send(packet.TCPSyn|packet.TCPAck, 4999, nil)
				pk.Side = ReqSide
			}
			var covered int
			for i, s := range tc.segs {
				flags, seq := uint8(packet.TCPAck|packet.TCPPsh), 1000+s.at
				if s.syn {
					flags, seq = packet.TCPSyn, seq-1
				}
				r := send(flags, seq, s.data)
				if r.Refused != s.refused || r.Line != s.line || r.Requests != s.reqs {
					t.Errorf("segment %d: refused %v line %d requests %d, want %v %d %d",
						i, r.Refused, r.Line, r.Requests, s.refused, s.line, s.reqs)
				}
				if s.line != LineNone && f.Reason != s.reason {
					t.Errorf("segment %d: reason %q, want %q", i, f.Reason, s.reason)
				}
				_, rs := f.Covered()
				covered += len(rs)
			}
			if want := int(sumReqs(tc.segs)); covered+obs.covered != want {
				t.Errorf("%d requests covered, want %d", covered+obs.covered, want)
			}
			if err := f.Check(); err != nil {
				t.Error(err)
			}
		})
	}
}

func sumReqs(segs []segment) (n uint64) {
	for _, s := range segs {
		n += s.reqs
	}
	return n
}
