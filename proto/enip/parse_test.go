package enip

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

func repeatMsgs(n int, m []byte) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = m
	}
	return out
}

// nestMSP wraps msg in depth Multiple Service Packets.
func nestMSP(depth int, msg []byte) []byte {
	for i := 0; i < depth; i++ {
		msg = req(SvcMultipleServicePacket, mrPath, msp(msg))
	}
	return msg
}

var getAttr = req(0x0e, cat(cls(1), inst(1), attr(7)), nil)

var parseTests = []struct {
	name string
	b    []byte
	dir  pdu.Dir
	n    int // -1: len(b)
	err  pdu.Error
	cmd  uint16
	msgs []string
	cpf  *CPF // checked when set, CIP excluded
}{
	// Encapsulation.
	{name: "register session", b: encap(CmdRegisterSession, cat(u16(1), u16(0))), n: -1, cmd: CmdRegisterSession},
	{name: "register session bad length", b: encap(CmdRegisterSession, u16(1)), n: -1, err: ErrRegisterSession, cmd: CmdRegisterSession},
	{name: "unregister session", b: encap(CmdUnregisterSession, nil), n: -1, cmd: CmdUnregisterSession},
	{name: "list identity request", b: encap(CmdListIdentity, nil), n: -1, cmd: CmdListIdentity},
	{name: "list identity reply", dir: pdu.Response, b: encap(CmdListIdentity, cat(u16(1), item(ItemListIdentity, make([]byte, 40)))), n: -1, cmd: CmdListIdentity},
	{name: "nop with data", b: encap(CmdNOP, []byte("keepalive")), n: -1, cmd: CmdNOP},
	{name: "unknown command", b: encap(0x1234, []byte{1, 2}), n: -1, cmd: 0x1234},
	{name: "trailing next pdu", b: cat(encap(CmdNOP, nil), encap(CmdNOP, nil)), n: 24, cmd: CmdNOP},
	{name: "empty", b: nil, err: pdu.ErrShort},
	{name: "short header", b: encap(CmdNOP, nil)[:23], err: pdu.ErrShort},
	{name: "short data", b: encapLen(CmdSendRRData, 30, make([]byte, 29)), err: pdu.ErrShort, cmd: CmdSendRRData},
	{name: "length over maximum", b: encapLen(CmdSendRRData, MaxLength+1, nil), err: ErrLength, cmd: CmdSendRRData},

	// Common packet format.
	{name: "send rr data", b: rr(getAttr), n: -1, cmd: CmdSendRRData, msgs: []string{"0e c=1 i=1 a=7"},
		cpf: &CPF{Present: true, Timeout: 10, Items: 2, AddrType: ItemNullAddr, DataType: ItemUnconnectedData}},
	{name: "send unit data", b: encap(CmdSendUnitData, cpf(connAddr, connected(231, req(0x06, cat(cls(0x8e), inst(1)), nil)))),
		n: -1, cmd: CmdSendUnitData, msgs: []string{"06 c=8e i=1"},
		cpf: &CPF{Present: true, Timeout: 10, Items: 2, AddrType: ItemConnectedAddr, ConnID: 0xff954022, DataType: ItemConnectedData, SeqCount: 231}},
	{name: "sequenced address and sockaddr items", b: encap(CmdSendUnitData, cpf(item(ItemSequencedAddr, cat(u32(7), u32(99))),
		connected(1, getAttr), item(ItemSockaddrOT, make([]byte, 16)))),
		n: -1, cmd: CmdSendUnitData, msgs: []string{"0e c=1 i=1 a=7"},
		cpf: &CPF{Present: true, Timeout: 10, Items: 3, AddrType: ItemSequencedAddr, ConnID: 7, AddrSeq: 99, DataType: ItemConnectedData, SeqCount: 1}},
	{name: "empty data item", b: encap(CmdSendRRData, cpf(nullAddr, unconnected(nil))), n: -1, cmd: CmdSendRRData,
		cpf: &CPF{Present: true, Timeout: 10, Items: 2, AddrType: ItemNullAddr, DataType: ItemUnconnectedData}},
	{name: "cpf shorter than its header", b: encap(CmdSendRRData, make([]byte, 7)), n: -1, err: ErrCPFTruncated, cmd: CmdSendRRData},
	{name: "cpf item header truncated", b: encap(CmdSendRRData, cat(u32(0), u16(0), u16(2), nullAddr, []byte{0xb2, 0, 3})), n: -1, err: ErrCPFTruncated, cmd: CmdSendRRData},
	{name: "cpf count beyond items", b: encap(CmdSendRRData, cat(u32(0), u16(0), u16(3), nullAddr, unconnected(getAttr))), n: -1, err: ErrCPFTruncated, cmd: CmdSendRRData},
	{name: "cpf item data truncated", b: encap(CmdSendRRData, cat(u32(0), u16(0), u16(2), nullAddr, u16(ItemUnconnectedData), u16(50), getAttr)), n: -1, err: ErrCPFTruncated, cmd: CmdSendRRData},
	{name: "cpf trailing bytes", b: encap(CmdSendRRData, cat(cpf(nullAddr, unconnected(getAttr)), []byte{0})), n: -1, err: ErrCPFTrailing, cmd: CmdSendRRData},
	{name: "null address with data", b: encap(CmdSendRRData, cpf(item(ItemNullAddr, u32(1)), unconnected(getAttr))), n: -1, err: ErrCPFItemLength, cmd: CmdSendRRData},
	{name: "connected address short", b: encap(CmdSendUnitData, cpf(item(ItemConnectedAddr, u16(1)), connected(1, getAttr))), n: -1, err: ErrCPFItemLength, cmd: CmdSendUnitData},
	{name: "sequenced address short", b: encap(CmdSendUnitData, cpf(item(ItemSequencedAddr, u32(1)), connected(1, getAttr))), n: -1, err: ErrCPFItemLength, cmd: CmdSendUnitData},
	{name: "connected data without sequence", b: encap(CmdSendUnitData, cpf(connAddr, item(ItemConnectedData, []byte{1}))), n: -1, err: ErrCPFItemLength, cmd: CmdSendUnitData},
	{name: "two address items", b: encap(CmdSendRRData, cpf(nullAddr, nullAddr, unconnected(getAttr))), n: -1, err: ErrCPFDuplicate, cmd: CmdSendRRData},
	{name: "two data items", b: encap(CmdSendRRData, cpf(nullAddr, unconnected(getAttr), unconnected(getAttr))), n: -1, err: ErrCPFDuplicate, cmd: CmdSendRRData},
	{name: "no data item", b: encap(CmdSendRRData, cpf(nullAddr)), n: -1, err: ErrCPFNoData, cmd: CmdSendRRData},

	// CIP message and path.
	{name: "cip one byte", b: rr([]byte{0x0e}), n: -1, err: ErrCIPTruncated, cmd: CmdSendRRData},
	{name: "cip path beyond message", b: rr([]byte{0x0e, 3, 0x20, 1}), n: -1, err: ErrCIPTruncated, cmd: CmdSendRRData},
	{name: "cip empty path", b: rr(req(0x01, nil, nil)), n: -1, cmd: CmdSendRRData, msgs: []string{"01"}},
	{name: "cip wide logical segments", b: rr(req(0x10, cat(cls16(0x3a1), inst32(0x10000), attr16(0x0102)), []byte{1, 2})), n: -1, cmd: CmdSendRRData,
		msgs: []string{"10 c=3a1 i=10000 a=102"}},
	{name: "cip routed path and member", b: rr(req(0x0e, cat(port(1, 0), cls(1), inst(1), member(3), attr(1)), nil)), n: -1, cmd: CmdSendRRData,
		msgs: []string{"0e c=1 i=1 a=1 @"}},
	{name: "cip extended port and link address", b: rr(req(0x0e, cat([]byte{0x1f, 3}, u16(18), []byte("1.2"), []byte{0}, cls(1), inst(1)), nil)), n: -1, cmd: CmdSendRRData,
		msgs: []string{"0e c=1 i=1 @"}},
	{name: "cip electronic key and network segments", b: rr(req(0x54, cat([]byte{0x34, 4, 1, 0, 2, 0, 3, 0, 4, 5}, []byte{0x43, 10}, []byte{0x50, 1, 0, 0}, cls(6), inst(1)), nil)),
		n: -1, cmd: CmdSendRRData, msgs: []string{"54 c=6 i=1"}},
	{name: "cip symbolic and simple data segments", b: rr(req(0x0e, cat([]byte{0x63, 'a', 'b', 'c'}, []byte{0x80, 1, 9, 9}, cls(1)), nil)), n: -1, cmd: CmdSendRRData,
		msgs: []string{"0e c=1"}},
	{name: "cip tag by name", b: rr(req(0x4c, cat(sym("Motor"), member(2), sym("Speed")), u16(1))), n: -1, cmd: CmdSendRRData,
		msgs: []string{"4c c=6b t=Motor"}},
	{name: "cip two classes", b: rr(req(0x4c, cat(cls(0x8e), inst(1), cls(0x74), inst(2)), nil)), n: -1, cmd: CmdSendRRData,
		msgs: []string{"4c c=8e i=1 +"}},
	{name: "cip service id segment", b: rr(req(0x0e, cat([]byte{0x38, 5}, cls(1)), nil)), n: -1, cmd: CmdSendRRData, msgs: []string{"0e c=1"}},
	{name: "cip reserved logical format", b: rr(req(0x0e, []byte{0x23, 0, 0, 0, 0, 0, 0, 0}, nil)), n: -1, err: ErrCIPPath, cmd: CmdSendRRData},
	{name: "cip reserved logical type", b: rr(req(0x0e, []byte{0x3c, 1}, nil)), n: -1, err: ErrCIPPath, cmd: CmdSendRRData},
	{name: "cip wide service id", b: rr(req(0x0e, []byte{0x39, 0, 1, 0}, nil)), n: -1, err: ErrCIPPath, cmd: CmdSendRRData},
	{name: "cip bad key format", b: rr(req(0x0e, []byte{0x34, 5, 0, 0, 0, 0, 0, 0, 0, 0}, nil)), n: -1, err: ErrCIPPath, cmd: CmdSendRRData},
	{name: "cip key past path", b: rr(req(0x0e, []byte{0x34, 4, 0, 0}, nil)), n: -1, err: ErrCIPPath, cmd: CmdSendRRData},
	{name: "cip 16-bit class past path", b: rr(req(0x0e, []byte{0x21, 0}, []byte{1, 0})), n: -1, err: ErrCIPPath, cmd: CmdSendRRData},
	{name: "cip 32-bit instance past path", b: rr(req(0x0e, []byte{0x26, 0, 1, 0}, nil)), n: -1, err: ErrCIPPath, cmd: CmdSendRRData},
	{name: "cip 8-bit segment at end", b: rr([]byte{0x0e, 1, 0x20, 1, 0x24}), n: -1, cmd: CmdSendRRData, msgs: []string{"0e c=1"}},
	{name: "cip reserved segment type", b: rr(req(0x0e, []byte{0xe0, 0}, nil)), n: -1, err: ErrCIPPath, cmd: CmdSendRRData},
	{name: "cip data type segment", b: rr(req(0x0e, []byte{0xc3, 0}, nil)), n: -1, err: ErrCIPPath, cmd: CmdSendRRData},
	{name: "cip unknown data segment", b: rr(req(0x0e, []byte{0x81, 0}, nil)), n: -1, err: ErrCIPPath, cmd: CmdSendRRData},
	{name: "cip tag past path", b: rr(req(0x4c, []byte{0x91, 5, 'M', 'o'}, nil)), n: -1, err: ErrCIPPath, cmd: CmdSendRRData},
	{name: "cip extended symbolic", b: rr(req(0x4c, []byte{0x60, 0}, nil)), n: -1, err: ErrCIPPath, cmd: CmdSendRRData},
	{name: "cip symbolic past path", b: rr(req(0x4c, []byte{0x65, 'a'}, nil)), n: -1, err: ErrCIPPath, cmd: CmdSendRRData},
	{name: "cip port link size past path", b: rr(req(0x0e, []byte{0x12, 9}, nil)), n: -1, err: ErrCIPPath, cmd: CmdSendRRData},
	{name: "cip network words past path", b: rr(req(0x0e, []byte{0x51, 4}, nil)), n: -1, err: ErrCIPPath, cmd: CmdSendRRData},
	{name: "cip data words past path", b: rr(req(0x0e, []byte{0x80, 2, 0, 0}, nil)), n: -1, err: ErrCIPPath, cmd: CmdSendRRData},

	// Responses.
	{name: "response", dir: pdu.Response, b: rr(resp(0x0e, 0, nil, []byte{1, 2})), n: -1, cmd: CmdSendRRData, msgs: []string{"r0e s=00"}},
	{name: "response with extended status", dir: pdu.Response, b: rr(resp(0x54, 0x01, []uint16{0x0100}, []byte{0})), n: -1, cmd: CmdSendRRData, msgs: []string{"r54 s=01 x=0100"}},
	{name: "response truncated", dir: pdu.Response, b: rr([]byte{0x8e, 0, 0}), n: -1, err: ErrCIPTruncated, cmd: CmdSendRRData},
	{name: "response status past message", dir: pdu.Response, b: rr([]byte{0x8e, 0, 1, 2, 0, 0}), n: -1, err: ErrCIPTruncated, cmd: CmdSendRRData},
	{name: "multiple service reply", dir: pdu.Response, b: rr(resp(SvcMultipleServicePacket, 0x1e, nil, msp(resp(0x0e, 0, nil, []byte{5}), resp(0x10, 0x14, nil, nil)))),
		n: -1, cmd: CmdSendRRData, msgs: []string{"r0a s=1e", ">r0e s=00", ">r10 s=14"}},
	{name: "multiple service failed reply", dir: pdu.Response, b: rr(resp(SvcMultipleServicePacket, 0x08, nil, []byte{1})),
		n: -1, cmd: CmdSendRRData, msgs: []string{"r0a s=08"}},

	// Multiple Service Packet.
	{name: "multiple service packet", b: rr(req(SvcMultipleServicePacket, mrPath, msp(getAttr, req(0x03, cat(cls(0x69), inst(0)), cat(u16(1), u16(11)))))),
		n: -1, cmd: CmdSendRRData, msgs: []string{"0a c=2 i=1", ">0e c=1 i=1 a=7", ">03 c=69 i=0"}},
	{name: "multiple service packet empty", b: rr(req(SvcMultipleServicePacket, mrPath, u16(0))), n: -1, cmd: CmdSendRRData, msgs: []string{"0a c=2 i=1"}},
	{name: "multiple service packet no count", b: rr(req(SvcMultipleServicePacket, mrPath, []byte{1})), n: -1, err: ErrMultipleService, cmd: CmdSendRRData},
	{name: "multiple service packet table past data", b: rr(req(SvcMultipleServicePacket, mrPath, cat(u16(3), u16(8), u16(10)))), n: -1, err: ErrMultipleService, cmd: CmdSendRRData},
	{name: "multiple service packet offset inside table", b: rr(req(SvcMultipleServicePacket, mrPath, cat(u16(1), u16(2), getAttr))), n: -1, err: ErrMultipleService, cmd: CmdSendRRData},
	{name: "multiple service packet offset past data", b: rr(req(SvcMultipleServicePacket, mrPath, cat(u16(1), u16(40), getAttr))), n: -1, err: ErrMultipleService, cmd: CmdSendRRData},
	{name: "multiple service packet offsets overlap", b: rr(req(SvcMultipleServicePacket, mrPath, cat(u16(2), u16(6), u16(6), getAttr))), n: -1, err: ErrMultipleService, cmd: CmdSendRRData},
	{name: "multiple service packet offsets backwards", b: rr(req(SvcMultipleServicePacket, mrPath, cat(u16(2), u16(12), u16(6), getAttr, getAttr))), n: -1, err: ErrMultipleService, cmd: CmdSendRRData},
	{name: "multiple service packet next offset past data", b: rr(req(SvcMultipleServicePacket, mrPath, cat(u16(2), u16(6), u16(60), getAttr))), n: -1, err: ErrMultipleService, cmd: CmdSendRRData},
	{name: "multiple service packet bad member", b: rr(req(SvcMultipleServicePacket, mrPath, msp(getAttr, []byte{0x0e, 9}))), n: -1, err: ErrCIPTruncated, cmd: CmdSendRRData},

	// Unconnected Send.
	{name: "unconnected send", b: rr(req(SvcUnconnectedSend, cmPath, ucs(req(0x4c, sym("Tag"), u16(1)), port(1, 0)))),
		n: -1, cmd: CmdSendRRData, msgs: []string{"52 c=6 i=1", ">4c c=6b t=Tag"}},
	{name: "unconnected send odd message", b: rr(req(SvcUnconnectedSend, cmPath, ucs(req(0x0e, cat(cls(1), inst(1), attr(1)), []byte{7}), port(1, 2)))),
		n: -1, cmd: CmdSendRRData, msgs: []string{"52 c=6 i=1", ">0e c=1 i=1 a=1"}},
	{name: "unconnected send carrying multiple service packet", b: rr(req(SvcUnconnectedSend, cmPath, ucs(req(SvcMultipleServicePacket, mrPath, msp(getAttr)), port(1, 0)))),
		n: -1, cmd: CmdSendRRData, msgs: []string{"52 c=6 i=1", ">0a c=2 i=1", ">>0e c=1 i=1 a=7"}},
	{name: "unconnected send empty message", b: rr(req(SvcUnconnectedSend, cmPath, cat([]byte{0x0a, 0xf0}, u16(0), []byte{1, 0}, port(1, 0)))),
		n: -1, err: ErrCIPEmptyEmbedded, cmd: CmdSendRRData},
	{name: "unconnected send too short", b: rr(req(SvcUnconnectedSend, cmPath, []byte{0x0a, 0xf0, 6})), n: -1, err: ErrUnconnectedSend, cmd: CmdSendRRData},
	{name: "unconnected send message past data", b: rr(req(SvcUnconnectedSend, cmPath, cat([]byte{0x0a, 0xf0}, u16(40), getAttr))), n: -1, err: ErrUnconnectedSend, cmd: CmdSendRRData},
	{name: "unconnected send without route", b: rr(req(SvcUnconnectedSend, cmPath, cat([]byte{0x0a, 0xf0}, u16(uint16(len(getAttr))), getAttr))), n: -1, err: ErrUnconnectedSend, cmd: CmdSendRRData},
	{name: "unconnected send route past data", b: rr(req(SvcUnconnectedSend, cmPath, cat([]byte{0x0a, 0xf0}, u16(uint16(len(getAttr))), getAttr, []byte{2, 0, 1, 0}))), n: -1, err: ErrUnconnectedSend, cmd: CmdSendRRData},
	{name: "unconnected send bad embedded", b: rr(req(SvcUnconnectedSend, cmPath, ucs([]byte{0x0e, 4, 0x20}, port(1, 0)))), n: -1, err: ErrCIPTruncated, cmd: CmdSendRRData},
	{name: "read tag fragmented is not unconnected send", b: rr(req(0x52, sym("Big"), cat(u16(1), u32(0)))), n: -1, cmd: CmdSendRRData, msgs: []string{"52 c=6b t=Big"}},

	// Nesting and limits.
	{name: "nesting at the limit", b: rr(nestMSP(MaxDepth, getAttr)), n: -1, cmd: CmdSendRRData,
		msgs: []string{"0a c=2 i=1", ">0a c=2 i=1", ">>0a c=2 i=1", ">>>0a c=2 i=1", ">>>>0e c=1 i=1 a=7"}},
	{name: "nesting too deep", b: rr(nestMSP(MaxDepth+1, getAttr)), n: -1, err: ErrCIPDepth, cmd: CmdSendRRData},
}

func TestParse(t *testing.T) {
	for _, tc := range parseTests {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			var p PDU
			// Leave garbage from another PDU behind: Parse must overwrite it.
			Parse(rr(req(SvcMultipleServicePacket, mrPath, msp(getAttr, getAttr))), pdu.Response, &p)
			n, err := Parse(tc.b, tc.dir, &p)
			want := tc.n
			if want == -1 {
				want = len(tc.b)
			}
			if err != tc.err || n != want {
				t.Fatalf("Parse = %d, %q; want %d, %q", n, err, want, tc.err)
			}
			if p.Dir != tc.dir || p.Encap.Command != tc.cmd {
				t.Errorf("dir %v command %#x; want %v %#x", p.Dir, p.Encap.Command, tc.dir, tc.cmd)
			}
			if got := msgStrings(&p); (tc.err == pdu.OK || tc.msgs != nil) && !reflect.DeepEqual(got, tc.msgs) {
				t.Errorf("msgs %q\nwant %q", got, tc.msgs)
			}
			if tc.cpf != nil {
				got := p.CPF
				got.CIP = nil
				if !reflect.DeepEqual(got, *tc.cpf) {
					t.Errorf("cpf %+v\nwant %+v", got, *tc.cpf)
				}
			}
			if err == pdu.OK && (p.Encap.Session != testSession || p.Encap.Context != testContext || int(p.Encap.Length) != len(p.Encap.Data)) {
				t.Errorf("header %+v", p.Encap)
			}
		})
	}
}

func TestParseSubSlices(t *testing.T) {
	tag := req(0x4d, sym("Valve"), cat(u16(0xc3), u16(1), u16(42)))
	b := encap(CmdSendUnitData, cpf(connAddr, connected(5, tag)))
	var p PDU
	if n, err := Parse(b, pdu.Request, &p); err != pdu.OK || n != len(b) {
		t.Fatalf("Parse = %d, %q", n, err)
	}
	m := p.Msgs[0]
	if !bytes.Equal(p.CPF.CIP, tag) || !bytes.Equal(m.Symbol, []byte("Valve")) || !bytes.Equal(m.Data, cat(u16(0xc3), u16(1), u16(42))) {
		t.Fatalf("CIP % x symbol %q data % x", p.CPF.CIP, m.Symbol, m.Data)
	}
	// Sub-slices alias the input and cannot be appended into it.
	if &p.CPF.CIP[0] != &b[len(b)-len(tag)] || cap(m.Symbol) != len(m.Symbol) || cap(p.Encap.Data) != len(p.Encap.Data) {
		t.Fatal("views do not alias the input with capped capacity")
	}
	if got := ServiceName(m.Service, m.Class); got != "write_tag" {
		t.Fatalf("ServiceName = %q", got)
	}
}

func TestParseRegisterSessionFields(t *testing.T) {
	var p PDU
	if _, err := Parse(encap(CmdRegisterSession, cat(u16(1), u16(0x10))), pdu.Request, &p); err != pdu.OK {
		t.Fatal(err)
	}
	if p.Encap.ProtocolVersion != 1 || p.Encap.SessionOptions != 0x10 {
		t.Fatalf("%+v", p.Encap)
	}
}

func TestParseManyMessages(t *testing.T) {
	b := rr(req(SvcMultipleServicePacket, mrPath, msp(repeatMsgs(MaxMsgs+8, getAttr)...)))
	var p PDU
	if n, err := Parse(b, pdu.Request, &p); err != pdu.OK || n != len(b) {
		t.Fatalf("Parse = %d, %q", n, err)
	}
	if p.Total != MaxMsgs+9 || p.NumMsgs() != MaxMsgs || !p.Truncated() || len(p.Messages()) != MaxMsgs {
		t.Fatalf("Total %d NumMsgs %d Truncated %v", p.Total, p.NumMsgs(), p.Truncated())
	}
	if got := msgString(p.Msgs[MaxMsgs-1]); got != ">0e c=1 i=1 a=7" {
		t.Fatalf("last recorded %q", got)
	}
	// One fewer fits exactly.
	b = rr(req(SvcMultipleServicePacket, mrPath, msp(repeatMsgs(MaxMsgs-1, getAttr)...)))
	if _, err := Parse(b, pdu.Request, &p); err != pdu.OK || p.Truncated() || p.Total != MaxMsgs {
		t.Fatalf("Total %d Truncated %v err %q", p.Total, p.Truncated(), err)
	}
}

// TestParseStream decodes PDUs back to back, as a TCP stream delivers them,
// and a stream cut at every byte: each prefix is short or whole PDUs.
func TestParseStream(t *testing.T) {
	pdus := [][]byte{encap(CmdRegisterSession, cat(u16(1), u16(0))), rr(getAttr),
		encap(CmdSendUnitData, cpf(connAddr, connected(1, nestMSP(2, getAttr)))), encap(CmdUnregisterSession, nil)}
	stream := cat(pdus...)
	var p PDU
	b := stream
	for i, want := range pdus {
		n, err := Parse(b, pdu.Request, &p)
		if err != pdu.OK || n != len(want) {
			t.Fatalf("pdu %d: Parse = %d, %q", i, n, err)
		}
		b = b[n:]
	}
	for cut := 0; cut < len(pdus[2]); cut++ {
		if n, err := Parse(pdus[2][:cut], pdu.Request, &p); err != pdu.ErrShort || n != 0 {
			t.Fatalf("cut %d: Parse = %d, %q; want short", cut, n, err)
		}
	}
}

func TestSegmentOddTail(t *testing.T) {
	for _, s := range [][]byte{{0x20}, {0x12}, {0x91}, {0x34}} {
		var m Msg
		if n, err := segment(s, &m); n != 0 || err != ErrCIPPath {
			t.Errorf("segment(% x) = %d, %q", s, n, err)
		}
	}
}
