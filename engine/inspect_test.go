package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"github.com/conduit-ot/conduit/proto"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/engine/inspect"
	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/proto/dnp3/dnp3test"
	"github.com/conduit-ot/conduit/proto/enip/eniptest"
	"github.com/conduit-ot/conduit/proto/iec104"
	"github.com/conduit-ot/conduit/proto/iec104/iec104test"
	"github.com/conduit-ot/conduit/proto/modbus/modbustest"
	"github.com/conduit-ot/conduit/proto/opcua"
	"github.com/conduit-ot/conduit/proto/opcua/opcuatest"
	"github.com/conduit-ot/conduit/proto/s7/s7test"
	"github.com/conduit-ot/conduit/rules"
)

// appPolicy is a policy whose first rule carries a protocol condition.
const appPolicy = `mode: %MODE%
zones:
  supervisory: {level: 2, cidrs: [10.20.0.0/24, "fd00:20::/64"]}
  control:     {level: 1, cidrs: [10.10.0.0/24, "fd00:10::/64"]}
rules:
  - name: hmi-reads
    from: supervisory
    to: control
    proto: %PROTO%
    dport: %PORT%
%COND%
  - {name: hmi-ping, from: supervisory, to: control, proto: icmp}
default: deny
`

func newAppEngine(t testing.TB, mode, proto, port, cond string) *testEngine {
	t.Helper()
	return newAppEngineSrc(t, strings.NewReplacer("%MODE%", mode, "%PROTO%", proto, "%PORT%", port, "%COND%", cond).Replace(appPolicy))
}

func newAppEngineSrc(t testing.TB, src string) *testEngine {
	t.Helper()
	p, err := rules.Parse("app.yaml", []byte(src))
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	te := &testEngine{store: inforce.NewStore(p), clock: 1_000_000_000}
	te.Engine = New(Config{Store: te.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() int64 { return te.clock }, EventBuffer: 1024})
	return te
}

// seg builds a TCP segment with sequence and acknowledgement numbers.
func seg(src, dst string, sport, dport uint16, flags uint8, seq, ack uint32, payload []byte) []byte {
	b := tpkt{src: src, dst: dst, proto: 6, sport: sport, dport: dport, flags: flags, payload: payload}.bytes()
	off := 20
	if netip.MustParseAddr(src).Is6() {
		off = 40
	}
	binary.BigEndian.PutUint32(b[off+4:], seq)
	binary.BigEndian.PutUint32(b[off+8:], ack)
	binary.BigEndian.PutUint16(b[off+14:], 8192) // window
	return b
}

// mbReadRsp is a read holding registers response with n registers.
func mbReadRsp(tid uint16, unit uint8, n int) []byte {
	return modbustest.ADU(tid, unit, append([]byte{3, byte(2 * n)}, make([]byte, 2*n)...))
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// session drives one TCP connection HMI:40000 -> PLC:502 with tracked
// sequence numbers.
type session struct {
	t            *testing.T
	te           *testEngine
	cseq, sseq   uint32
	sport, dport uint16
}

func newSession(t *testing.T, te *testEngine) *session { return newSessionTo(t, te, 502) }

func newSessionTo(t *testing.T, te *testEngine, dport uint16) *session {
	s := &session{t: t, te: te, cseq: 1000, sseq: 5000, sport: 40000, dport: dport}
	w := te.Worker(0)
	if !w.Decide(seg(hmi, plc, s.sport, dport, fSYN, s.cseq, 0, nil)) ||
		!w.Decide(seg(plc, hmi, dport, s.sport, fSYN|fACK, s.sseq, s.cseq+1, nil)) ||
		!w.Decide(seg(hmi, plc, s.sport, dport, fACK, s.cseq+1, s.sseq+1, nil)) {
		t.Fatal("handshake refused")
	}
	s.cseq++
	s.sseq++
	te.verdicts()
	return s
}

// req sends client data at the current sequence number; the number
// advances only if the segment passed.
func (s *session) req(data []byte) Verdict {
	v := s.te.Worker(0).DecideVerdict(seg(hmi, plc, s.sport, s.dport, fACK|fPSH, s.cseq, s.sseq, data))
	if v.Accept {
		s.cseq += uint32(len(data))
	}
	return v
}

func (s *session) rsp(data []byte) Verdict {
	v := s.te.Worker(0).DecideVerdict(seg(plc, hmi, s.dport, s.sport, fACK|fPSH, s.sseq, s.cseq, data))
	if v.Accept {
		s.sseq += uint32(len(data))
	}
	return v
}

func (te *testEngine) requests(rule string) uint64 {
	for _, h := range te.Hits() {
		if h.Name == rule {
			return h.Requests
		}
	}
	return 0
}

// appLines are the verdict events that carry an app object.
func (te *testEngine) appLines() []verdictEvent {
	var out []verdictEvent
	for _, v := range te.verdicts() {
		if v.app.proto != rules.AppNone {
			out = append(out, v)
		}
	}
	return out
}

const readOnly = `    modbus: {functions: [read_holding_registers], unit_ids: [1], addresses: {read: ["0-99"]}}`

func TestInspectModbusStream(t *testing.T) {
	te := newAppEngine(t, "enforce", "tcp", "502", readOnly)
	s := newSession(t, te)
	r1, r2 := modbustest.Request(1, 1, 3, 0, 10), modbustest.Request(2, 1, 3, 10, 10)

	// Two ADUs in one segment: both judged, both counted.
	if v := s.req(cat(r1, r2)); !v.Accept {
		t.Fatal("two reads in one segment refused")
	}
	if n := te.requests("hmi-reads"); n != 2 {
		t.Errorf("requests = %d after two reads, want 2", n)
	}
	// An ADU split over three segments, the last one carrying the start
	// of the next ADU: judged when whole.
	r3, r4 := modbustest.Request(3, 1, 3, 20, 5), modbustest.Request(4, 1, 3, 30, 5)
	for i, part := range [][]byte{r3[:3], r3[3:9], cat(r3[9:], r4[:8]), r4[8:]} {
		if v := s.req(part); !v.Accept {
			t.Fatalf("piece %d of split reads refused", i)
		}
	}
	if n := te.requests("hmi-reads"); n != 4 {
		t.Errorf("requests = %d after the split reads, want 4", n)
	}
	// A response, several in one segment, with an exception among them.
	exc := []byte{0, 5, 0, 0, 0, 3, 1, 0x83, 0x02}
	if v := s.rsp(cat(mbReadRsp(1, 1, 10), exc)); !v.Accept {
		t.Fatal("responses refused")
	}
	lines := te.appLines()
	if len(lines) != 1 || lines[0].reason != ReasonException || appInt(&lines[0].app, "exception_code") != 2 || appInt(&lines[0].app, "function_code") != 3 ||
		lines[0].app.Side != inspect.RspSide || !lines[0].accept {
		t.Fatalf("exception response: lines %+v", lines)
	}
	if lines[0].app.Offset != uint32(len(mbReadRsp(1, 1, 10))) {
		t.Errorf("exception offset %d", lines[0].app.Offset)
	}

	// A write split in two: the first piece passes (not yet judged), the
	// second completes a refused request and is dropped.
	wr := modbustest.Request(5, 1, 6, 100, 7)
	if v := s.req(wr[:6]); !v.Accept {
		t.Fatal("first piece of a write refused before it could be judged")
	}
	if v := s.req(wr[6:]); v.Accept || v.Packet != nil {
		t.Fatalf("write: %+v, want a plain drop", v)
	}
	lines = te.appLines()
	if len(lines) != 1 {
		t.Fatalf("%d lines for the refused write", len(lines))
	}
	l := lines[0]
	if l.reason != ReasonViolation || l.accept || !l.wouldDrop || ruleName(l.pol, l.rule) != "hmi-reads" ||
		l.app.Violates != proto.FailFunction || appInt(&l.app, "function_code") != 6 || appInt(&l.app, "write_addr") != 100 || appInt(&l.app, "write_qty") != 1 ||
		l.app.Offset != uint32(len(r1)+len(r2)+len(r3)+len(r4)) || l.src.String() != hmi || l.dport != 502 {
		t.Errorf("violation line %+v", l)
	}
	// Its retransmission: the same verdict, no second line.
	if v := s.req(wr[6:]); v.Accept {
		t.Error("retransmitted write accepted")
	}
	if n := len(te.appLines()); n != 0 {
		t.Errorf("retransmission logged %d more lines", n)
	}

	// Retransmission of data that passed: accepted, not judged again.
	te2 := newAppEngine(t, "enforce", "tcp", "502", readOnly)
	s2 := newSession(t, te2)
	w2 := te2.Worker(0)
	if v := s2.req(r1); !v.Accept {
		t.Fatal("read refused")
	}
	if !w2.Decide(seg(hmi, plc, 40000, 502, fACK|fPSH, s2.cseq-12, s2.sseq, r1)) {
		t.Error("retransmitted read refused")
	}
	// The same bytes altered: the receiver may not have had the
	// original, so it cannot be waved through.
	bad := modbustest.Request(1, 1, 6, 1, 1)
	if w2.Decide(seg(hmi, plc, 40000, 502, fACK|fPSH, s2.cseq-12, s2.sseq, bad)) {
		t.Error("altered retransmission accepted")
	}
	if l := te2.appLines(); len(l) != 1 || l[0].reason != ReasonStreamGap {
		t.Errorf("altered retransmission lines %+v", l)
	}
	// Once the server acknowledged the bytes, a retransmission of them is
	// harmless whatever it says: the receiver drops it.
	if !w2.Decide(seg(plc, hmi, 502, 40000, fACK, s2.sseq, s2.cseq, nil)) {
		t.Fatal("ack refused")
	}
	if !w2.Decide(seg(hmi, plc, 40000, 502, fACK|fPSH, s2.cseq-12, s2.sseq, bad)) {
		t.Error("retransmission of acknowledged bytes refused")
	}
	// A gap: data beyond the next expected byte is not guessed at.
	if w2.Decide(seg(hmi, plc, 40000, 502, fACK|fPSH, s2.cseq+100, s2.sseq, r1)) {
		t.Error("out-of-order segment accepted")
	}
	if l := te2.appLines(); len(l) != 1 || l[0].reason != ReasonStreamGap || l[0].app.Offset != 112 {
		t.Errorf("gap lines %+v", l)
	}
	// The missing bytes, then the segment again: in order, accepted.
	if v := s2.req(cat(r2, make([]byte, 88))); v.Accept {
		t.Error("88 zero bytes accepted as Modbus")
	}
	if l := te2.appLines(); len(l) != 1 || l[0].reason != "malformed-modbus" {
		t.Errorf("malformed lines %+v", l)
	}
}

// TestAppLogLine checks the JSON verdict line of a refused request.
func TestAppLogLine(t *testing.T) {
	te := newAppEngine(t, "enforce", "tcp", "502", readOnly)
	var buf bytes.Buffer
	te.log = slog.New(slog.NewJSONHandler(&buf, nil))
	s := newSession(t, te)
	// Write multiple registers 200-201: byte count 4 and two values.
	adu := append(modbustest.Request(7, 1, 16, 200, 2), 4, 0, 1, 0, 2)
	binary.BigEndian.PutUint16(adu[4:], 11)
	if v := s.req(adu); v.Accept {
		t.Fatal("write multiple registers accepted")
	}
	lines := drain(t, te, &buf, DeniedLimit{})
	var line map[string]any
	for _, l := range lines {
		if l["reason"] == ReasonViolation {
			line = l
		}
	}
	if line == nil {
		t.Fatalf("no violation line in %v", lines)
	}
	app, _ := line["app"].(map[string]any)
	want := map[string]any{"proto": "modbus", "dir": "request", "offset": 0.0, "function": "write_multiple_registers",
		"function_code": 16.0, "unit": 1.0, "transaction": 7.0, "write_addr": 200.0, "write_qty": 2.0, "violates": "functions"}
	for k, v := range want {
		if app[k] != v {
			t.Errorf("app.%s = %v, want %v (line %v)", k, app[k], v, line)
		}
	}
	if line["rule"] != "hmi-reads" || line["verdict"] != "drop" || line["from_zone"] != "supervisory" || line["src"] != hmi {
		t.Errorf("line %v", line)
	}
}

func TestInspectModbusMonitorAndUnparsedAllow(t *testing.T) {
	te := newAppEngine(t, "monitor", "tcp", "502", readOnly)
	s := newSession(t, te)
	wr := modbustest.Request(1, 1, 16, 0, 0) // write multiple registers, quantity 0: malformed
	if v := s.req(modbustest.Request(1, 1, 6, 5, 1)); !v.Accept {
		t.Fatal("monitor dropped a write")
	}
	if v := s.req(modbustest.Request(2, 2, 3, 0, 1)); !v.Accept {
		t.Fatal("monitor dropped a read of unit 2")
	}
	if v := s.req(modbustest.Request(3, 1, 3, 0, 1)); !v.Accept {
		t.Fatal("monitor dropped a read")
	}
	lines := te.appLines()
	if len(lines) != 2 || !lines[0].wouldDrop || !lines[0].accept || lines[0].app.Violates != proto.FailFunction ||
		lines[1].app.Violates != proto.FailUnitID {
		t.Fatalf("monitor lines %+v", lines)
	}
	if n := te.requests("hmi-reads"); n != 1 {
		t.Errorf("requests = %d, want 1 (the violations do not count)", n)
	}
	// The allow rule whose condition refused them is charged the would-drops.
	for _, h := range te.Hits() {
		if h.Name == "hmi-reads" && h.WouldDrop != 2 {
			t.Errorf("hmi-reads would_drop = %d, want 2", h.WouldDrop)
		}
	}
	_ = wr

	// on_unparsed: allow passes a malformed ADU in enforce and keeps going.
	te = newAppEngine(t, "enforce", "tcp", "502", readOnly+"\n    on_unparsed: allow")
	s = newSession(t, te)
	junk := []byte{0, 1, 0, 7, 0, 6, 1, 3, 0, 0, 0, 1} // protocol id 7
	if v := s.req(junk); !v.Accept {
		t.Fatal("on_unparsed allow dropped a malformed ADU")
	}
	if v := s.req(modbustest.Request(2, 1, 3, 0, 1)); !v.Accept {
		t.Fatal("a read after the malformed ADU refused")
	}
	if v := s.req(modbustest.Request(3, 1, 5, 0, 0xff00)); v.Accept {
		t.Fatal("a write after the malformed ADU accepted: inspection did not resume")
	}
	lines = te.appLines()
	if len(lines) != 2 || lines[0].reason != "malformed-modbus" || !lines[0].accept || lines[0].app.Err != "bad-protocol-id" ||
		lines[1].reason != ReasonViolation {
		t.Errorf("lines %+v", lines)
	}
}

// TestInspectReset follows on_violation: reset through both replacement
// packets.
func TestInspectReset(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		te := newAppEngine(t, "enforce", "tcp", "502", readOnly+"\n    on_violation: reset")
		w := te.Worker(0)
		c, sv := hmi, plc
		if v6 {
			c, sv = "fd00:20::10", "fd00:10::10"
		}
		w.Decide(seg(c, sv, 40000, 502, fSYN, 1000, 0, nil))
		w.Decide(seg(sv, c, 502, 40000, fSYN|fACK, 5000, 1001, nil))
		w.Decide(seg(c, sv, 40000, 502, fACK, 1001, 5001, nil))
		if !w.Decide(seg(c, sv, 40000, 502, fACK|fPSH, 1001, 5001, modbustest.Request(1, 1, 3, 0, 1))) ||
			!w.Decide(seg(sv, c, 502, 40000, fACK|fPSH, 5001, 1013, mbReadRsp(1, 1, 1))) {
			t.Fatal("read refused")
		}
		// The client acknowledged the 11-byte response: its next expected
		// server byte is 5012.
		v := w.DecideVerdict(seg(c, sv, 40000, 502, fACK|fPSH, 1013, 5012, modbustest.Request(2, 1, 6, 1, 1)))
		if v.Accept || v.Packet == nil {
			t.Fatalf("v6 %v: write verdict %+v, want a replacement", v6, v)
		}
		fin := checkSegment(t, v.Packet, c, sv, 40000, 502)
		if fin.TCPFlags != packet.TCPFin|packet.TCPAck || fin.Seq != 1013 || fin.Ack != 5012 || len(fin.Payload) != 0 {
			t.Errorf("v6 %v: step 1 is %s seq %d ack %d, want a bare FIN at 1013", v6, packet.FlagString(fin.TCPFlags), fin.Seq, fin.Ack)
		}
		// The server acknowledges the FIN: that becomes the client's RST.
		v = w.DecideVerdict(seg(sv, c, 502, 40000, fACK, 5012, 1014, nil))
		if v.Accept || v.Packet == nil {
			t.Fatalf("server's ack verdict %+v", v)
		}
		rst := checkSegment(t, v.Packet, sv, c, 502, 40000)
		if rst.TCPFlags != packet.TCPRst|packet.TCPAck || rst.Seq != 5012 {
			t.Errorf("v6 %v: step 2 is %s seq %d, want RST at 5012", v6, packet.FlagString(rst.TCPFlags), rst.Seq)
		}
		// Then both stacks close on their own: their packets pass.
		if !w.Decide(seg(sv, c, 502, 40000, fACK|fFIN, 5012, 1014, nil)) || !w.Decide(seg(c, sv, 40000, 502, 0x04, 1014, 0, nil)) {
			t.Error("closing packets after the reset refused")
		}
		lines := te.appLines()
		if len(lines) != 1 || lines[0].reason != ReasonViolation || !lines[0].reset {
			t.Errorf("lines %+v, want one violation that says it reset the session", lines)
		}
	}
	// In monitor nothing is reset, and the line does not say so.
	te0 := newAppEngine(t, "monitor", "tcp", "502", readOnly+"\n    on_violation: reset")
	if v := newSession(t, te0).req(modbustest.Request(1, 1, 5, 0, 0xff00)); !v.Accept || v.Packet != nil {
		t.Fatalf("monitor: %+v", v)
	}
	if lines := te0.appLines(); len(lines) != 1 || lines[0].reset || !lines[0].wouldDrop {
		t.Errorf("monitor lines %+v", lines)
	}
	// A retransmission before the server answered becomes the FIN again.
	te := newAppEngine(t, "enforce", "tcp", "502", readOnly+"\n    on_violation: reset")
	s := newSession(t, te)
	if v := s.req(modbustest.Request(1, 1, 5, 0, 0xff00)); v.Packet == nil {
		t.Fatal("no reset")
	}
	v := te.Worker(0).DecideVerdict(seg(hmi, plc, 40000, 502, fACK|fPSH, s.cseq, s.sseq, modbustest.Request(1, 1, 5, 0, 0xff00)))
	if p := checkSegment(t, v.Packet, hmi, plc, 40000, 502); p.TCPFlags&packet.TCPFin == 0 || p.Seq != s.cseq {
		t.Errorf("retransmission during the reset: %s seq %d", packet.FlagString(p.TCPFlags), p.Seq)
	}
	// A gap is never a reason to reset: the sender will fill it.
	te = newAppEngine(t, "enforce", "tcp", "502", readOnly+"\n    on_violation: reset")
	s = newSession(t, te)
	if v := te.Worker(0).DecideVerdict(seg(hmi, plc, 40000, 502, fACK|fPSH, s.cseq+12, s.sseq, modbustest.Request(2, 1, 3, 0, 1))); v.Accept || v.Packet != nil {
		t.Errorf("gap with reset: %+v, want a plain drop", v)
	}
}

// checkSegment decodes a replacement and verifies its addresses, ports
// and IP and TCP checksums.
func checkSegment(t *testing.T, b []byte, src, dst string, sport, dport uint16) *packet.Parsed {
	t.Helper()
	var p packet.Parsed
	if r := p.Decode(b); r != packet.ReasonOK {
		t.Fatalf("replacement does not decode: %s", r)
	}
	if p.Src.String() != src || p.Dst.String() != dst || p.SrcPort != sport || p.DstPort != dport {
		t.Errorf("replacement %v:%d > %v:%d", p.Src, p.SrcPort, p.Dst, p.DstPort)
	}
	l4 := b[p.L4Off:]
	var sum uint32
	add := func(x []byte) {
		for i := 0; i+1 < len(x); i += 2 {
			sum += uint32(binary.BigEndian.Uint16(x[i:]))
		}
	}
	if p.Version == 4 {
		add(b[:20])
		if fold(sum) != 0xffff {
			t.Error("bad IPv4 header checksum")
		}
		sum = 0
		add(b[12:20])
	} else {
		add(b[8:40])
	}
	sum += 6 + uint32(len(l4))
	add(l4)
	if fold(sum) != 0xffff {
		t.Error("bad TCP checksum")
	}
	return &p
}

func fold(s uint32) uint32 {
	for s > 0xffff {
		s = s&0xffff + s>>16
	}
	return s
}

func TestInspectPickupAndUDP(t *testing.T) {
	// A session picked up mid-stream: inspection starts at its first
	// data segment.
	te := newAppEngine(t, "enforce", "tcp", "502", readOnly)
	w := te.Worker(0)
	if !w.Decide(seg(hmi, plc, 40000, 502, fACK|fPSH, 77, 9, modbustest.Request(1, 1, 3, 0, 1))) {
		t.Fatal("picked-up read refused")
	}
	if w.Decide(seg(hmi, plc, 40000, 502, fACK|fPSH, 89, 9, modbustest.Request(2, 1, 16, 0, 1))) {
		t.Fatal("picked-up write accepted")
	}
	// Bytes from before the pickup cannot be checked against anything.
	if w.Decide(seg(hmi, plc, 40000, 502, fACK|fPSH, 65, 9, modbustest.Request(0, 1, 3, 0, 1))) {
		t.Error("data from before the pickup accepted")
	}

	// DNP3 over UDP: each datagram stands alone.
	te = newAppEngine(t, "enforce", "udp", "20000", `    dnp3: {functions: [read]}`)
	w = te.Worker(0)
	read := dnp3Frame(0xc4, 10, 1, []byte{0xc0, 0x01, 0x3c, 0x02, 0x06}) // class 1 data
	cold := dnp3Frame(0xc4, 10, 1, []byte{0xc1, 0x0d})
	udp := func(p []byte) []byte {
		return tpkt{src: hmi, dst: plc, proto: 17, sport: 20000, dport: 20000, payload: p}.bytes()
	}
	if !w.Decide(udp(read)) {
		t.Error("DNP3 read datagram refused")
	}
	if w.Decide(udp(cold)) {
		t.Error("DNP3 cold restart datagram accepted")
	}
	if w.Decide(udp(read[:len(read)-3])) {
		t.Error("truncated DNP3 datagram accepted")
	}
	lines := te.appLines()
	if len(lines) != 2 || appInt(&lines[0].app, "function_code") != 13 || lines[0].app.Violates != proto.FailFunction ||
		lines[1].reason != "malformed-dnp3" {
		t.Errorf("lines %+v", lines)
	}
	if n := te.requests("hmi-reads"); n != 1 {
		t.Errorf("requests = %d", n)
	}
}

// dnp3Frame builds a link frame with one transport segment holding app
// (application control, function, objects...).
func dnp3Frame(ctrl byte, dst, src uint16, app []byte) []byte {
	return dnp3Segment(ctrl, dst, src, 0xc0|1, app) // transport FIR|FIN, seq 1
}

// dnp3Segment builds a link frame with the transport header th.
func dnp3Segment(ctrl byte, dst, src uint16, th byte, app []byte) []byte {
	return dnp3test.Frame(ctrl, dst, src, append([]byte{th}, app...))
}

// dnp3Fragment cuts the application fragment app into transport segments
// of at most chunk bytes, numbered from seq, each in its own link frame.
func dnp3Fragment(ctrl byte, dst, src uint16, seq uint8, app []byte, chunk int) [][]byte {
	var out [][]byte
	for i := 0; i < len(app); i += chunk {
		th := seq & 0x3f
		if i == 0 {
			th |= 0x40
		}
		if i+chunk >= len(app) {
			th |= 0x80
		}
		out = append(out, dnp3Segment(ctrl, dst, src, th, app[i:min(i+chunk, len(app))]))
		seq++
	}
	return out
}

// dnp3Operate is a direct operate (application sequence seq) of n control
// relay output blocks (12:1, 2-byte index prefix) followed by the object
// headers in tail.
func dnp3Operate(seq byte, n int, tail ...byte) []byte {
	app := []byte{0xc0 | seq, 5, 12, 1, 0x28, byte(n), byte(n >> 8)}
	for i := range n {
		app = append(app, byte(i), 0, 0x41, 1, 0xe8, 3, 0, 0, 0, 0, 0, 0, 0)
	}
	return append(app, tail...)
}

// analogOut is one 16-bit analog output object (41:2) at index 7.
var analogOut = []byte{41, 2, 0x28, 1, 0, 7, 0, 0x10, 0x00, 0}

// lineSummaries renders app lines as "reason what" (the violated key, or
// the detail or error of an unparsed one), with "!" for a refused line.
func lineSummaries(lines []verdictEvent) []string {
	var out []string
	for _, l := range lines {
		s := l.reason + " " + l.app.Violates.String() + l.app.Detail + l.app.Err
		if !l.accept {
			s = "!" + s
		}
		out = append(out, s)
	}
	return out
}

// script is a session played step by step (script.play): each step's
// verdict, then the rule's requests and the app lines (lineSummaries).
type script struct {
	name, mode, cond string
	steps            []scriptStep
	requests         uint64
	lines            []string
}

// scriptStep is a segment of a script and whether it passes.
type scriptStep struct {
	data   []byte
	accept bool
	rsp    bool // from the server
}

// passing is a step that passes for each of bs.
func passing(bs ...[]byte) []scriptStep {
	var s []scriptStep
	for _, b := range bs {
		s = append(s, scriptStep{data: b, accept: true})
	}
	return s
}

// play runs the script on a session to port of an engine in sc.mode with
// sc.cond, and checks it and the worker's large buffers.
func (sc script) play(t *testing.T, port uint16) {
	t.Helper()
	te := newAppEngine(t, sc.mode, "tcp", strconv.Itoa(int(port)), sc.cond)
	s := newSessionTo(t, te, port)
	for i, st := range sc.steps {
		send := s.req
		if st.rsp {
			send = s.rsp
		}
		if v := send(st.data); v.Accept != st.accept {
			t.Errorf("step %d accepted %v, want %v", i, v.Accept, st.accept)
		}
	}
	if n := te.requests("hmi-reads"); n != sc.requests {
		t.Errorf("requests %d, want %d", n, sc.requests)
	}
	if got := lineSummaries(te.appLines()); fmt.Sprint(got) != fmt.Sprint(sc.lines) {
		t.Errorf("lines %q, want %q", got, sc.lines)
	}
	checkLargeBuffers(t, te.Worker(0))
}

// TestInspectDNP3Fragments: the transport segments of one application
// fragment are gathered and the whole fragment judged when FIN arrives;
// what the first segment shows is judged at once; a segment that does not
// continue the pending fragment is unparsed.
func TestInspectDNP3Fragments(t *testing.T) {
	const (
		crobOnly  = `    dnp3: {functions: [direct_operate], objects: ["12:1"]}`
		crobAndAO = `    dnp3: {functions: [direct_operate], objects: ["12:1", "41"]}`
		aoOnly    = `    dnp3: {functions: [direct_operate], objects: ["41"]}`
		fnOnly    = `    dnp3: {functions: [direct_operate]}`
	)
	// 20 CROBs fill the first 249-byte segment; the analog output header
	// lies in the second.
	mixed := dnp3Fragment(0xc4, 10, 1, 5, dnp3Operate(3, 20, analogOut...), 249)
	plain := dnp3Fragment(0xc4, 10, 1, 5, dnp3Operate(3, 20), 249)
	three := dnp3Fragment(0xc4, 10, 1, 62, dnp3Operate(4, 40, analogOut...), 249) // sequence wraps 63 -> 0
	other := dnp3Fragment(0xc4, 11, 1, 5, dnp3Operate(3, 20), 249)                // another outstation
	huge := dnp3Fragment(0xc4, 10, 1, 0, dnp3Operate(5, 170), 249)                // 2217 bytes
	if len(mixed) != 2 || len(three) != 3 || len(huge) != 9 {
		t.Fatalf("fragments of %d, %d, %d segments", len(mixed), len(three), len(huge))
	}
	pass := passing
	for _, tc := range []script{
		{"objects allowed", "enforce", crobAndAO, pass(mixed...), 1, nil},
		{"three segments, sequence wraps", "enforce", crobAndAO, pass(three...), 1, nil},
		{"object refused in the last segment", "enforce", crobOnly,
			[]scriptStep{{data: mixed[0], accept: true}, {data: mixed[1]}, {data: mixed[1]}}, 0, []string{"!app-violation objects"}},
		{"object refused in the first segment", "enforce", aoOnly,
			[]scriptStep{{data: mixed[0]}}, 0, []string{"!app-violation objects"}},
		{"function refused in the first segment", "enforce", `    dnp3: {functions: [read]}`,
			[]scriptStep{{data: mixed[0]}}, 0, []string{"!app-violation functions"}},
		{"no objects listed: judged by the first segment", "enforce", fnOnly,
			append(pass(mixed...), scriptStep{data: mixed[1]}), 1, []string{"!unparsed-dnp3 segment-without-its-first"}},
		{"whole fragment in one TCP segment", "enforce", crobAndAO, pass(cat(mixed...)), 1, nil},
		{"whole fragment in one TCP segment, refused", "enforce", crobOnly,
			[]scriptStep{{data: cat(mixed...)}}, 0, []string{"!app-violation objects"}},
		{"frames cut across TCP segments", "enforce", crobAndAO,
			pass(mixed[0][:100], cat(mixed[0][100:], mixed[1][:7]), mixed[1][7:]), 1, nil},
		{"last segment missing its first", "enforce", crobAndAO,
			[]scriptStep{{data: mixed[1]}}, 0, []string{"!unparsed-dnp3 segment-without-its-first"}},
		{"middle segment missing", "enforce", crobAndAO,
			[]scriptStep{{data: three[0], accept: true}, {data: three[2]}}, 0, []string{"!unparsed-dnp3 segment-out-of-sequence"}},
		{"segments swapped", "enforce", crobAndAO,
			[]scriptStep{{data: three[0], accept: true}, {data: three[2]}, {data: three[1], accept: true}, {data: three[2], accept: true}}, 1,
			[]string{"!unparsed-dnp3 segment-out-of-sequence"}},
		{"segment repeated", "enforce", crobAndAO,
			[]scriptStep{{data: three[0], accept: true}, {data: three[1], accept: true}, {data: three[1]}}, 0, []string{"!unparsed-dnp3 segment-out-of-sequence"}},
		{"segment of another outstation", "enforce", crobAndAO,
			[]scriptStep{{data: mixed[0], accept: true}, {data: other[1]}}, 0, []string{"!unparsed-dnp3 segment-without-its-first"}},
		{"a first segment starts over", "enforce", crobOnly,
			[]scriptStep{{data: mixed[0], accept: true}, {data: plain[0], accept: true}, {data: mixed[1]}, {data: plain[1], accept: true}}, 1,
			[]string{"!app-violation objects"}},
		{"fragment beyond the reassembly bound", "enforce", crobOnly,
			append(pass(huge[:8]...), scriptStep{data: huge[8]}), 0, []string{"!unparsed-dnp3 pdu-larger-than-reassembly-buffer"}},
		{"out of sequence, allowed unparsed", "enforce", crobAndAO + "\n    on_unparsed: allow",
			pass(three[0], three[2], three[1]), 0, []string{"unparsed-dnp3 segment-out-of-sequence"}},
		// Monitor: the violation is logged once, at the first segment; the
		// rest of the fragment is not judged again.
		{"monitor, first segment refused", "monitor", aoOnly, pass(mixed...), 0, []string{"app-violation objects"}},
		{"monitor, last segment refused", "monitor", crobOnly, pass(mixed...), 0, []string{"app-violation objects"}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.play(t, 20000) })
	}

	// The violation line names the refused object and the offset of the
	// fragment's first segment.
	te := newAppEngine(t, "enforce", "tcp", "20000", crobOnly)
	s := newSessionTo(t, te, 20000)
	s.req(plain[0])
	s.req(plain[1])
	s.req(mixed[0])
	s.req(mixed[1])
	l := te.appLines()
	if len(l) != 1 || appStr(&l[0].app, "object") != "41:2" ||
		l[0].app.Offset != uint32(len(plain[0])+len(plain[1])) || appInt(&l[0].app, "function_code") != 5 {
		t.Errorf("violation line %+v", l)
	}
}

// TestInspectDNP3FragmentRefusedKeepsPending: a packet that completes one
// fragment and begins the next is refused; the fragment still pending
// before it stands, so its retransmission gets the same verdict, and once
// the sender gives up on the bad fragment the good one completes.
func TestInspectDNP3FragmentRefusedKeepsPending(t *testing.T) {
	te := newAppEngine(t, "enforce", "tcp", "20000", `    dnp3: {objects: ["12:1"]}`)
	s := newSessionTo(t, te, 20000)
	bad := dnp3Fragment(0xc4, 10, 1, 5, dnp3Operate(3, 20, analogOut...), 249)
	good := dnp3Fragment(0xc4, 10, 1, 7, dnp3Operate(4, 30), 249)
	if v := s.req(bad[0]); !v.Accept {
		t.Fatal("first segment refused")
	}
	for i := range 2 {
		if v := s.req(cat(bad[1], good[0])); v.Accept {
			t.Fatalf("try %d: the end of a refused fragment with the start of the next accepted", i)
		}
	}
	if l := te.appLines(); len(l) != 1 || l[0].app.Violates != proto.FailObject {
		t.Errorf("lines %+v", l)
	}
	// The master starts over with the good fragment alone.
	if v := s.req(cat(good[0], good[1])); !v.Accept {
		t.Fatal("good fragment refused after the bad one")
	}
	// And a good fragment completed in the same packet as the next
	// begins: the next one is gathered across the packet's settle.
	next := dnp3Fragment(0xc4, 10, 1, 9, dnp3Operate(5, 25), 249)
	if v := s.req(cat(next[0])); !v.Accept {
		t.Fatal("next first segment refused")
	}
	again := dnp3Fragment(0xc4, 10, 1, 11, dnp3Operate(6, 22, analogOut...), 249)
	if v := s.req(cat(next[1], again[0])); !v.Accept {
		t.Fatal("end of one fragment and start of another refused")
	}
	if v := s.req(again[1]); v.Accept {
		t.Error("the analog output at the end of a fragment begun behind another accepted")
	}
	if n := te.requests("hmi-reads"); n != 2 {
		t.Errorf("requests %d, want 2", n)
	}
	checkLargeBuffers(t, te.Worker(0))
}

// TestInspectDNP3FragmentAcrossReload: a reload that makes the condition
// list objects while a fragment is pending: its first segment was not
// kept, so the fragment cannot be judged whole.
func TestInspectDNP3FragmentAcrossReload(t *testing.T) {
	src := func(cond string) string {
		return strings.NewReplacer("%MODE%", "enforce", "%PROTO%", "tcp", "%PORT%", "20000", "%COND%", cond).Replace(appPolicy)
	}
	te := newAppEngineSrc(t, src(`    dnp3: {functions: [direct_operate]}`))
	s := newSessionTo(t, te, 20000)
	frag := dnp3Fragment(0xc4, 10, 1, 5, dnp3Operate(3, 20, analogOut...), 249)
	if v := s.req(frag[0]); !v.Accept {
		t.Fatal("first segment refused")
	}
	r := &inforce.Reloader{Store: te.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Load: func(string) (*rules.Policy, error) {
			return rules.Parse("app.yaml", []byte(src(`    dnp3: {functions: [direct_operate], objects: ["12:1"]}`)))
		}}
	if res := r.Reload("test"); !res.Changed {
		t.Fatalf("reload: %+v", res)
	}
	if v := s.req(frag[1]); v.Accept {
		t.Error("the analog output accepted: the fragment was judged without its first segment")
	}
	if got := lineSummaries(te.appLines()); fmt.Sprint(got) != "[!unparsed-dnp3 object-headers-not-all-decoded]" {
		t.Errorf("lines %q", got)
	}
}

// TestInspectDNP3FragmentsUDP: over UDP, a fragment's segments come one
// per datagram; the flow keeps the fragment between them.
func TestInspectDNP3FragmentsUDP(t *testing.T) {
	udp := func(p []byte) []byte {
		return tpkt{src: hmi, dst: plc, proto: 17, sport: 20000, dport: 20000, payload: p}.bytes()
	}
	te := newAppEngine(t, "enforce", "udp", "20000", `    dnp3: {objects: ["12:1"]}`)
	w := te.Worker(0)
	good := dnp3Fragment(0xc4, 10, 1, 5, dnp3Operate(3, 30), 249)
	bad := dnp3Fragment(0xc4, 10, 1, 7, dnp3Operate(4, 20, analogOut...), 249)
	if !w.Decide(udp(good[0])) || !w.Decide(udp(good[1])) {
		t.Fatal("good fragment over UDP refused")
	}
	if !w.Decide(udp(bad[0])) {
		t.Fatal("first segment of the bad fragment refused")
	}
	if w.Decide(udp(bad[1])) {
		t.Error("analog output over UDP accepted")
	}
	if w.Decide(udp(good[1])) {
		t.Error("a stray segment over UDP accepted")
	}
	if got := lineSummaries(te.appLines()); fmt.Sprint(got) != "[!app-violation objects !unparsed-dnp3 segment-out-of-sequence]" {
		t.Errorf("lines %q", got)
	}
	if n := te.requests("hmi-reads"); n != 1 {
		t.Errorf("requests %d", n)
	}
	checkLargeBuffers(t, w)
}

// s7PDU is an S7 header of type rosctr (ack and ack-data get the error
// fields) with reference 1, followed by param and data.
func s7PDU(rosctr byte, param, data []byte) []byte { return s7test.Header(rosctr, 1, param, data) }

// s7Pieces cuts pdu into COTP DT TPDUs at the offsets cuts, the last one
// marked end of TSDU; each is a TPKT.
func s7Pieces(pdu []byte, cuts ...int) [][]byte {
	var out [][]byte
	bounds := append(append([]int{0}, cuts...), len(pdu))
	for i := 0; i+1 < len(bounds); i++ {
		out = append(out, s7test.TPKT(s7test.DT(i+2 == len(bounds), pdu[bounds[i]:bounds[i+1]])))
	}
	return out
}

// s7WriteVar writes n bytes to DB1 from byte 0.
func s7WriteVar(n int) []byte {
	data := cat([]byte{0, 4, byte(n * 8 >> 8), byte(n * 8)}, make([]byte, n))
	return s7PDU(1, cat([]byte{5, 1}, s7test.Item(1, 0, n)), data)
}

// s7ReadVar reads 10 bytes of DB1.
var s7ReadVar = s7PDU(1, cat([]byte{4, 1}, s7test.Item(1, 0, 10)), nil)

// s7Setup is setup communication asking for (job) or granting (ack-data)
// an S7 PDU size.
func s7Setup(rosctr byte, size uint16) []byte { return s7PDU(rosctr, s7test.SetupParam(size), nil) }

// TestInspectS7Reassembly: an S7 PDU split over COTP DT TPDUs is judged
// by its first piece when that shows the function or group, and whole
// when the last piece arrives.
func TestInspectS7Reassembly(t *testing.T) {
	const (
		readOnlyS7 = `    s7: {functions: [setup_communication, read_var]}`
		writeOK    = `    s7: {functions: [setup_communication, read_var, write_var], userdata_groups: [cpu_functions]}`
	)
	write := s7WriteVar(100)
	wr3 := s7Pieces(write, 40, 90)
	wrTiny := s7Pieces(write, 5, 60) // the first piece ends inside the header
	bad := cat(write, []byte{0})     // one byte more than the header declares
	badPieces := s7Pieces(bad, 40)
	userdata := s7PDU(7, []byte{0, 1, 0x12, 4, 0x11, 0x44, 1, 0}, make([]byte, 30)) // request, CPU functions
	udPieces := s7Pieces(userdata, 20)
	blockUD := s7PDU(7, []byte{0, 1, 0x12, 4, 0x11, 0x43, 1, 0}, make([]byte, 30)) // request, block functions
	blockPieces := s7Pieces(blockUD, 20)
	plus := s7Pieces(cat([]byte{0x72, 1, 0, 40}, make([]byte, 40)), 20)
	big := s7WriteVar(400) // 428 bytes
	bigPieces := s7Pieces(big, 200, 400)
	huge := s7WriteVar(2100)
	hugePieces := s7Pieces(huge, 1500)

	pass := passing
	setup := []scriptStep{{data: cat(s7Pieces(s7Setup(1, 960))...), accept: true},
		{data: cat(s7Pieces(s7Setup(3, 240))...), accept: true, rsp: true}}
	for _, tc := range []script{
		{"allowed in three pieces", "enforce", writeOK, pass(wr3...), 1, nil},
		{"refused by its first piece", "enforce", readOnlyS7, []scriptStep{{data: wr3[0]}}, 0, []string{"!app-violation functions"}},
		{"refused when whole: first piece too short", "enforce", readOnlyS7,
			[]scriptStep{{data: wrTiny[0], accept: true}, {data: wrTiny[1], accept: true}, {data: wrTiny[2]}, {data: wrTiny[2]}},
			0, []string{"!app-violation functions"}},
		{"allowed when whole: first piece too short", "enforce", writeOK, pass(wrTiny...), 1, nil},
		{"all pieces in one TCP segment", "enforce", writeOK, pass(cat(wr3...)), 1, nil},
		{"all pieces in one TCP segment, refused", "enforce", readOnlyS7, []scriptStep{{data: cat(wr3...)}}, 0,
			[]string{"!app-violation functions"}},
		{"pieces cut across TCP segments", "enforce", writeOK,
			pass(wr3[0][:10], cat(wr3[0][10:], wr3[1][:3]), cat(wr3[1][3:], wr3[2][:30]), wr3[2][30:]), 1, nil},
		{"malformed when whole", "enforce", writeOK, []scriptStep{{data: badPieces[0], accept: true}, {data: badPieces[1]}}, 0,
			[]string{"!malformed-s7 s7-length"}},
		{"userdata group judged by the first piece", "enforce", writeOK, pass(udPieces...), 1, nil},
		{"userdata group refused by the first piece", "enforce", writeOK, []scriptStep{{data: blockPieces[0]}}, 0,
			[]string{"!app-violation userdata_groups"}},
		{"s7comm-plus", "enforce", writeOK, []scriptStep{{data: plus[0]}}, 0, []string{"!unparsed-s7 s7plus"}},
		{"within the negotiated size", "enforce", writeOK, append(append([]scriptStep{}, setup[:1]...), pass(bigPieces...)...), 2, nil},
		{"beyond the negotiated size", "enforce", writeOK,
			append(append([]scriptStep{}, setup...), scriptStep{data: bigPieces[0], accept: true}, scriptStep{data: bigPieces[1]}),
			1, []string{"!unparsed-s7 pdu-larger-than-negotiated"}},
		{"beyond the reassembly buffer", "enforce", writeOK,
			[]scriptStep{{data: hugePieces[0], accept: true}, {data: hugePieces[1]}}, 0,
			[]string{"!unparsed-s7 pdu-larger-than-reassembly-buffer"}},
		{"monitor: one line for a refused PDU", "monitor", readOnlyS7, pass(wr3...), 0, []string{"app-violation functions"}},
		{"monitor: refused when whole", "monitor", readOnlyS7, pass(wrTiny...), 0, []string{"app-violation functions"}},
		{"response error split over pieces", "enforce", readOnlyS7,
			append(pass(s7Pieces(s7ReadVar)...), scriptStep{data: cat(s7Pieces(s7PDU(3, []byte{4, 1}, []byte{0x0a, 0, 0, 0}), 6)...), accept: true, rsp: true}),
			1, nil},
		{"erroneous response split over pieces", "enforce", readOnlyS7,
			append(pass(s7Pieces(s7ReadVar)...), scriptStep{data: cat(s7Pieces(append(s7PDU(3, []byte{4, 1}, nil)[:10], 0x81, 4, 4, 1), 6)...), accept: true, rsp: true}),
			1, []string{"app-exception "}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.play(t, 102) })
	}

	// The line of a PDU refused whole has its fields and the offset of its
	// first piece.
	te := newAppEngine(t, "enforce", "tcp", "102", readOnlyS7)
	s := newSessionTo(t, te, 102)
	s.req(cat(s7Pieces(s7ReadVar)...))
	s.req(wrTiny[0])
	s.req(wrTiny[1])
	s.req(wrTiny[2])
	if l := te.appLines(); len(l) != 1 || appInt(&l[0].app, "function_code") != 5 || appStr(&l[0].app, "rosctr") != "job" ||
		l[0].app.Offset != uint32(len(s7ReadVar)+7) {
		t.Errorf("line %+v", l)
	}
}

// TestInspectAcrossReloads: a session keeps working when its rule loses
// its condition and gets it back, and inspection resumes.
func TestInspectAcrossReloads(t *testing.T) {
	src := func(cond string) string {
		return strings.NewReplacer("%MODE%", "enforce", "%PROTO%", "tcp", "%PORT%", "502", "%COND%", cond).Replace(appPolicy)
	}
	te := newAppEngineSrc(t, src(readOnly))
	reload := func(s string) {
		t.Helper()
		r := &inforce.Reloader{Store: te.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Load: func(string) (*rules.Policy, error) { return rules.Parse("app.yaml", []byte(s)) }}
		if res := r.Reload("test"); !res.Changed {
			t.Fatalf("reload: %+v", res)
		}
	}
	s := newSession(t, te)
	if v := s.req(modbustest.Request(1, 1, 3, 0, 1)); !v.Accept {
		t.Fatal("read refused")
	}
	reload(src("    description: no condition for a while"))
	if v := s.req(modbustest.Request(2, 1, 6, 0, 1)); !v.Accept {
		t.Fatal("write refused without a condition")
	}
	reload(src(readOnly))
	// The stream moved on without inspection: it starts over at the next
	// segment, as a picked-up flow does.
	if v := s.req(modbustest.Request(3, 1, 3, 0, 1)); !v.Accept {
		t.Error("a read after the condition came back refused")
	}
	if v := s.req(modbustest.Request(4, 1, 6, 0, 1)); v.Accept {
		t.Error("a write accepted after the condition came back")
	}
}

func TestStreamSlotsRecycled(t *testing.T) {
	te := newAppEngine(t, "enforce", "tcp", "502", readOnly)
	w := te.Worker(0)
	for i := range 3 {
		sp := uint16(41000 + i)
		w.Decide(seg(hmi, plc, sp, 502, fSYN, 1, 0, nil))
	}
	if used, _, _ := w.insp.Slots(); used != 3 {
		t.Fatalf("%d slots for 3 inspected flows", used)
	}
	// Flows end (idle handshakes); their slots come back and are reused.
	te.clock += int64(60e9)
	te.Conntrack().Sweep(te.clock)
	if _, n, _ := w.insp.Slots(); n != 3 {
		t.Fatalf("%d slots freed, want 3", n)
	}
	w.Decide(seg(hmi, plc, 42000, 502, fSYN, 1, 0, nil))
	if used, free, _ := w.insp.Slots(); used != 3 || free != 2 {
		t.Errorf("slot not reused: used %d free %d", used, free)
	}
	// A flow of a rule without a condition takes none.
	w.Decide(tpkt{src: hmi, dst: plc, proto: 1, icmpType: 8, icmpID: 3}.bytes())
	if used, free, _ := w.insp.Slots(); used != 3 || free != 2 {
		t.Errorf("an ICMP flow took a slot")
	}
}

func TestInspectNoAllocs(t *testing.T) {
	te := newAppEngine(t, "enforce", "tcp", "502", readOnly)
	newSession(t, te).checkNoAllocs(modbustest.Request(1, 1, 3, 0, 10), modbustest.Request(1, 1, 6, 0, 1))
}

// checkNoAllocs checks that the session's worker judges 1000 requests
// that pass (pass, one after the other) and a refused one (refuse, after
// them) without allocating.
func (s *session) checkNoAllocs(pass, refuse []byte) {
	t, w := s.t, s.te.Worker(0)
	const n = 1001 // AllocsPerRun's warm-up and 1000 runs
	pkts := make([][]byte, n)
	for i := range pkts {
		pkts[i] = seg(hmi, plc, s.sport, s.dport, fACK|fPSH, s.cseq+uint32(len(pass)*i), s.sseq, pass)
	}
	i := 0
	if a := testing.AllocsPerRun(n-1, func() {
		if !w.Decide(pkts[i]) {
			t.Fatal("request refused")
		}
		i++
	}); a != 0 {
		t.Errorf("%.1f allocations per inspected packet", a)
	}
	refused := seg(hmi, plc, s.sport, s.dport, fACK|fPSH, s.cseq+uint32(len(pass)*n), s.sseq, refuse)
	if a := testing.AllocsPerRun(100, func() {
		if w.Decide(refused) {
			t.Fatal("refused request passed")
		}
	}); a != 0 {
		t.Errorf("%.1f allocations per refused packet", a)
	}
}

// benchPDUs are one request of each protocol, as a client sends it.
func benchPDUs() map[string][]byte {
	get, _ := eniptest.GetAttr(0x01, 1, 1, 0) // identity 1/1
	return map[string][]byte{
		"modbus": modbustest.Request(1, 1, 3, 0, 10),
		"dnp3":   dnp3Frame(0xc4, 10, 1, []byte{0xc0, 0x01, 0x3c, 0x02, 0x06}),
		"s7":     s7test.Data(s7PDU(1, cat([]byte{4, 1}, s7test.Item(1, 0, 1)), nil)), // read var DB1.DBB0
		"enip":   eniptest.RR(0, 0, get),
		"opcua":  opcuatest.Chan{ID: 9, Token: 14}.Request(opcua.Read, 5, 5, make([]byte, 40)),
		"iec104": iec104test.Command(0, 0, iec104.C_IC_NA_1, iec104.CauseAct, 1, 0),
	}
}

// BenchmarkInspect is the per-packet cost of an established flow whose
// rule has a protocol condition, one request per segment (and, for
// modbus-split and the reassembled requests, each request in two or
// three segments), against the same flow without a condition.
func BenchmarkInspect(b *testing.B) {
	pdus := benchPDUs()
	// Requests the stream or application layer reassembles: a DNP3
	// fragment of two segments, an S7 write in three COTP pieces, a 3 KB
	// CIP request in three TCP segments (in a large buffer).
	dnpFrag := dnp3Fragment(0xc4, 10, 1, 0, dnp3Operate(3, 20, analogOut...), 249)
	s7Frag := s7Pieces(s7WriteVar(100), 40, 90)
	enipBig := enipSetAttr(0x0e, 3000)
	pdus["dnp3-fragment"] = cat(dnpFrag...)
	pdus["s7-pieces"] = cat(s7Frag...)
	pdus["enip-large"] = enipBig
	cuts := map[string][]int{
		"dnp3-fragment": {len(dnpFrag[0])},
		"s7-pieces":     {len(s7Frag[0]), len(s7Frag[0]) + len(s7Frag[1])},
		"enip-large":    {1000, 2000},
	}
	for _, tc := range []struct {
		name, port, cond, pdu string
		split                 bool
	}{
		{"no-condition", "502", `    description: no condition`, "modbus", false},
		{"modbus", "502", readOnly, "modbus", false},
		{"modbus-split", "502", readOnly, "modbus", true},
		{"dnp3", "20000", `    dnp3: {functions: [read], sources: [1], objects: ["60"]}`, "dnp3", false},
		{"enip-cip", "44818", "    enip: {commands: [send_rr_data]}\n    cip: {services: [get_attribute_single], classes: [identity]}", "enip", false},
		{"s7", "102", `    s7: {functions: [setup_communication, read_var]}`, "s7", false},
		{"opcua", "4840", opcuaHMI, "opcua", false},
		{"iec104", "2404", `    iec104: {type_ids: [C_IC_NA_1, C_CS_NA_1], common_addresses: [1]}`, "iec104", false},
		{"dnp3-fragment", "20000", `    dnp3: {functions: [direct_operate], objects: ["12:1", "41"]}`, "dnp3-fragment", true},
		{"s7-pieces", "102", `    s7: {functions: [setup_communication, write_var]}`, "s7-pieces", true},
		{"enip-large", "44818", "    cip: {services: [get_attribute_single]}", "enip-large", true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			te := newAppEngine(b, "enforce", "tcp", tc.port, tc.cond)
			w := te.Worker(0)
			port, _ := strconv.Atoi(tc.port)
			dport := uint16(port)
			// Two rings of the same requests from two initial sequence
			// numbers: the stream starts over by a new connection's
			// handshake (a SYN of the same number would be a retransmission).
			isns := [2]uint32{0, 1 << 30}
			open := func(r int) {
				w.Decide(seg(hmi, plc, 40000, dport, fSYN, isns[r], 0, nil))
				w.Decide(seg(plc, hmi, dport, 40000, fSYN|fACK, 0, isns[r]+1, nil))
			}
			const ring = 4096
			pdu := pdus[tc.pdu]
			var rings [2][][]byte
			for r, isn := range isns {
				seq := isn + 1
				for len(rings[r]) < ring {
					if tc.split {
						c, ok := cuts[tc.pdu]
						if !ok {
							c = []int{len(pdu) / 2}
						}
						bounds := append(append([]int{0}, c...), len(pdu))
						for k := 0; k+1 < len(bounds); k++ {
							rings[r] = append(rings[r], seg(hmi, plc, 40000, dport, fACK|fPSH, seq+uint32(bounds[k]), 1, pdu[bounds[k]:bounds[k+1]]))
						}
					} else {
						rings[r] = append(rings[r], seg(hmi, plc, 40000, dport, fACK|fPSH, seq, 1, pdu))
					}
					seq += uint32(len(pdu))
				}
			}
			open(0)
			for _, p := range rings[0][:8] {
				if !w.Decide(p) {
					b.Fatalf("%s request refused: %+v", tc.name, te.appLines())
				}
			}
			cur := 1
			open(cur)
			pkts := rings[cur]
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i == len(pkts) { // start the stream over
					b.StopTimer()
					cur ^= 1
					open(cur)
					pkts, i = rings[cur], 0
					b.StartTimer()
				}
				w.Decide(pkts[i])
				i++
			}
			b.StopTimer()
			if c := te.Counters(); c.Dropped != 0 {
				b.Fatalf("%d of %d packets refused: %+v", c.Dropped, c.Packets, te.appLines())
			}
		})
	}
}

// checkLargeBuffers checks the worker's large buffers (inspect.Follower.Check).
func checkLargeBuffers(t testing.TB, w *Worker) {
	t.Helper()
	if err := w.insp.Check(); err != nil {
		t.Error(err)
	}
}

// enipSetAttr is a SendRRData carrying set_attribute_single to the
// identity object with n bytes of value (a 48 + n byte PDU).
func enipSetAttr(service byte, n int) []byte {
	return eniptest.RR(0, 0, cat([]byte{service, 3, 0x20, 0x01, 0x24, 0x01, 0x30, 0x01}, make([]byte, n)))
}

// TestInspectLargePDUs: PDUs beyond the flow's own buffer are gathered in
// a large buffer borrowed from the worker while they are pending, given
// back once they are whole; beyond inspect.PDUMax, or with every large buffer
// lent, a request is unparsed.
func TestInspectLargePDUs(t *testing.T) {
	const cond = "    cip: {services: [get_attribute_single]}"
	get, set := enipSetAttr(0x0e, 3000), enipSetAttr(0x10, 3000)
	s7big := s7Pieces(s7WriteVar(1500))[0] // one TPKT of 1535 bytes
	for _, tc := range []struct {
		name, port, cond string
		pdu              []byte
		cuts             []int
		accept           []bool
		lines            []string
	}{
		{"enip request in three segments", "44818", cond, get, []int{1000, 2000}, []bool{true, true, true}, nil},
		{"enip refused when whole", "44818", cond, set, []int{1000, 2000}, []bool{true, true, false}, []string{"!app-violation services"}},
		{"enip in one segment", "44818", cond, get, nil, []bool{true}, nil},
		{"enip beyond inspect.PDUMax", "44818", cond, enipSetAttr(0x0e, 5000), []int{1000, 2000}, []bool{false},
			[]string{"!unparsed-enip pdu-larger-than-stream-buffer"}},
		{"s7 TPKT beyond inspect.StreamBuf", "102", `    s7: {functions: [read_var]}`, s7big, []int{1400}, []bool{true, false},
			[]string{"!app-violation functions"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			te := newAppEngine(t, "enforce", "tcp", tc.port, tc.cond)
			port, _ := strconv.Atoi(tc.port)
			s := newSessionTo(t, te, uint16(port))
			bounds := append(append([]int{0}, tc.cuts...), len(tc.pdu))
			for i, want := range tc.accept {
				if v := s.req(tc.pdu[bounds[i]:bounds[i+1]]); v.Accept != want {
					t.Errorf("segment %d accepted %v", i, v.Accept)
				}
			}
			if got := lineSummaries(te.appLines()); fmt.Sprint(got) != fmt.Sprint(tc.lines) {
				t.Errorf("lines %q, want %q", got, tc.lines)
			}
			checkLargeBuffers(t, te.Worker(0))
		})
	}

	// Two requests after a big one, whole and in pieces: the stream stays
	// in step, and a retransmission of the big one's tail is checked
	// against the kept bytes.
	te := newAppEngine(t, "enforce", "tcp", "44818", cond)
	s := newSessionTo(t, te, 44818)
	small := enipSetAttr(0x0e, 10)
	for i, b := range [][]byte{get[:1500], get[1500:], cat(small, small[:20]), small[20:]} {
		if v := s.req(b); !v.Accept {
			t.Fatalf("piece %d refused", i)
		}
	}
	w := te.Worker(0)
	if !w.Decide(seg(hmi, plc, s.sport, s.dport, fACK|fPSH, s.cseq-uint32(2*len(small)+1000), s.sseq, get[len(get)-1000:])) {
		t.Error("retransmission of the big request's tail refused")
	}
	if n := te.requests("hmi-reads"); n != 3 {
		t.Errorf("requests %d, want 3", n)
	}
	checkLargeBuffers(t, w)

	// Every large buffer lent: the next big request is unparsed; once a
	// flow holding one ends, its buffer is taken back.
	te = newAppEngine(t, "enforce", "tcp", "44818", cond)
	w = te.Worker(0)
	for i := range inspect.MaxLarge + 1 {
		sp := uint16(30000 + i)
		w.Decide(seg(hmi, plc, sp, 44818, fSYN, 1000, 0, nil))
		w.Decide(seg(plc, hmi, 44818, sp, fSYN|fACK, 5000, 1001, nil))
		v := w.DecideVerdict(seg(hmi, plc, sp, 44818, fACK|fPSH, 1001, 5001, get[:2000]))
		if v.Accept != (i < inspect.MaxLarge) {
			t.Fatalf("flow %d: accepted %v", i, v.Accept)
		}
	}
	if l := te.appLines(); len(l) != 1 || l[0].app.Detail != "no-large-buffer-free" {
		t.Errorf("lines %+v", l)
	}
	checkLargeBuffers(t, w)
	te.clock += int64(25 * 3600e9) // beyond the established timeout
	te.Conntrack().Sweep(te.clock)
	if _, free, spare := w.insp.Slots(); free != inspect.MaxLarge+1 || spare != 0 {
		t.Fatalf("%d slots free, %d large buffers spare before a borrow", free, spare)
	}
	sp := uint16(40000)
	w.Decide(seg(hmi, plc, sp, 44818, fSYN, 1000, 0, nil))
	w.Decide(seg(plc, hmi, 44818, sp, fSYN|fACK, 5000, 1001, nil))
	if !w.Decide(seg(hmi, plc, sp, 44818, fACK|fPSH, 1001, 5001, get[:2000])) {
		t.Errorf("a big request refused after the flows holding the large buffers ended: %q", lineSummaries(te.appLines()))
	}
	checkLargeBuffers(t, w)
}

// TestInspectReassemblyNoAllocs: gathering a PDU, in the flow's buffer or
// a large one, and reassembling DNP3 fragments and S7 PDUs does not
// allocate once the worker's large buffers exist.
func TestInspectReassemblyNoAllocs(t *testing.T) {
	dnp := dnp3Operate(3, 20, analogOut...)
	enip := enipSetAttr(0x0e, 3000)
	for _, tc := range []struct {
		name, port, cond string
		unit             func(i int) [][]byte // the segments of request i
	}{
		{"dnp3-fragment", "20000", `    dnp3: {objects: ["12:1", "41"]}`, func(i int) [][]byte {
			return dnp3Fragment(0xc4, 10, 1, uint8(2*i), dnp, 249)
		}},
		{"s7-pieces", "102", `    s7: {functions: [write_var]}`, func(int) [][]byte { return s7Pieces(s7WriteVar(100), 5, 60) }},
		{"enip-large", "44818", "    cip: {services: [get_attribute_single]}", func(int) [][]byte {
			return [][]byte{enip[:1400], enip[1400:2800], enip[2800:]}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			te := newAppEngine(t, "enforce", "tcp", tc.port, tc.cond)
			port, _ := strconv.Atoi(tc.port)
			s := newSessionTo(t, te, uint16(port))
			w := te.Worker(0)
			const n = 201
			var pkts [][]byte
			seq := s.cseq
			for i := range n {
				for _, b := range tc.unit(i) {
					pkts = append(pkts, seg(hmi, plc, s.sport, s.dport, fACK|fPSH, seq, s.sseq, b))
					seq += uint32(len(b))
				}
			}
			per := len(pkts) / n
			i := 0
			if a := testing.AllocsPerRun(n-1, func() {
				for range per {
					if !w.Decide(pkts[i]) {
						t.Fatalf("packet %d refused: %q", i, lineSummaries(te.appLines()))
					}
					i++
				}
			}); a != 0 {
				t.Errorf("%.1f allocations per request", a)
			}
			if r := te.requests("hmi-reads"); r != n {
				t.Errorf("requests %d, want %d", r, n)
			}
		})
	}
}

// TestInspectCoverageManyPDUs: a segment carrying more requests than the
// follower keeps for one Observer.Cover has every one covered.
func TestInspectCoverageManyPDUs(t *testing.T) {
	te := newAppEngine(t, "enforce", "tcp", "502", readOnly)
	s := newSession(t, te)
	var data []byte
	for i := range 21 {
		data = append(data, modbustest.Request(uint16(i), 1, 3, 0, 1)...)
	}
	if v := s.req(data); !v.Accept {
		t.Fatal("21 reads refused")
	}
	for _, rc := range te.Coverage(0) {
		if rc.Name != "hmi-reads" {
			continue
		}
		if len(rc.Tuples) != 1 || rc.Tuples[0].Requests != 21 || rc.Tuples[0].Functions["modbus read_holding_registers"] != 21 {
			t.Fatalf("coverage %+v", rc.Tuples)
		}
		return
	}
	t.Fatal("no coverage of hmi-reads")
}
