package engine

import (
	"bytes"
	"encoding/binary"
	"io"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/modes"
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
	te := &testEngine{store: modes.NewStore(p), clock: 1_000_000_000}
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

// mbReq is a Modbus/TCP request ADU: function, address, quantity or value.
func mbReq(tid uint16, unit, fn uint8, a, b uint16) []byte {
	adu := make([]byte, 12)
	binary.BigEndian.PutUint16(adu[0:], tid)
	binary.BigEndian.PutUint16(adu[4:], 6)
	adu[6], adu[7] = unit, fn
	binary.BigEndian.PutUint16(adu[8:], a)
	binary.BigEndian.PutUint16(adu[10:], b)
	return adu
}

// mbReadRsp is a read holding registers response with n registers.
func mbReadRsp(tid uint16, unit uint8, n int) []byte {
	adu := make([]byte, 9+2*n)
	binary.BigEndian.PutUint16(adu[0:], tid)
	binary.BigEndian.PutUint16(adu[4:], uint16(3+2*n))
	adu[6], adu[7], adu[8] = unit, 3, byte(2*n)
	return adu
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
	r1, r2 := mbReq(1, 1, 3, 0, 10), mbReq(2, 1, 3, 10, 10)

	// Two ADUs in one segment: both judged, both counted.
	if v := s.req(cat(r1, r2)); !v.Accept {
		t.Fatal("two reads in one segment refused")
	}
	if n := te.requests("hmi-reads"); n != 2 {
		t.Errorf("requests = %d after two reads, want 2", n)
	}
	// An ADU split over three segments, the last one carrying the start
	// of the next ADU: judged when whole.
	r3, r4 := mbReq(3, 1, 3, 20, 5), mbReq(4, 1, 3, 30, 5)
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
	if len(lines) != 1 || lines[0].reason != ReasonException || lines[0].app.exc != 2 || lines[0].app.fn != 3 ||
		lines[0].app.side != rspSide || !lines[0].accept {
		t.Fatalf("exception response: lines %+v", lines)
	}
	if lines[0].app.offset != uint32(len(mbReadRsp(1, 1, 10))) {
		t.Errorf("exception offset %d", lines[0].app.offset)
	}

	// A write split in two: the first piece passes (not yet judged), the
	// second completes a refused request and is dropped.
	wr := mbReq(5, 1, 6, 100, 7)
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
		l.app.violates != rules.FailFunction || l.app.fn != 6 || l.app.waddr != 100 || l.app.wqty != 1 ||
		l.app.offset != uint32(len(r1)+len(r2)+len(r3)+len(r4)) || l.src.String() != hmi || l.dport != 502 {
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
	bad := mbReq(1, 1, 6, 1, 1)
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
	if l := te2.appLines(); len(l) != 1 || l[0].reason != ReasonStreamGap || l[0].app.offset != 112 {
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
	adu := append(mbReq(7, 1, 16, 200, 2), 4, 0, 1, 0, 2)
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
	wr := mbReq(1, 1, 16, 0, 0) // write multiple registers, quantity 0: malformed
	if v := s.req(mbReq(1, 1, 6, 5, 1)); !v.Accept {
		t.Fatal("monitor dropped a write")
	}
	if v := s.req(mbReq(2, 2, 3, 0, 1)); !v.Accept {
		t.Fatal("monitor dropped a read of unit 2")
	}
	if v := s.req(mbReq(3, 1, 3, 0, 1)); !v.Accept {
		t.Fatal("monitor dropped a read")
	}
	lines := te.appLines()
	if len(lines) != 2 || !lines[0].wouldDrop || !lines[0].accept || lines[0].app.violates != rules.FailFunction ||
		lines[1].app.violates != rules.FailUnitID {
		t.Fatalf("monitor lines %+v", lines)
	}
	if n := te.requests("hmi-reads"); n != 1 {
		t.Errorf("requests = %d, want 1 (the violations do not count)", n)
	}
	_ = wr

	// on_unparsed: allow passes a malformed ADU in enforce and keeps going.
	te = newAppEngine(t, "enforce", "tcp", "502", readOnly+"\n    on_unparsed: allow")
	s = newSession(t, te)
	junk := []byte{0, 1, 0, 7, 0, 6, 1, 3, 0, 0, 0, 1} // protocol id 7
	if v := s.req(junk); !v.Accept {
		t.Fatal("on_unparsed allow dropped a malformed ADU")
	}
	if v := s.req(mbReq(2, 1, 3, 0, 1)); !v.Accept {
		t.Fatal("a read after the malformed ADU refused")
	}
	if v := s.req(mbReq(3, 1, 5, 0, 0xff00)); v.Accept {
		t.Fatal("a write after the malformed ADU accepted: inspection did not resume")
	}
	lines = te.appLines()
	if len(lines) != 2 || lines[0].reason != "malformed-modbus" || !lines[0].accept || lines[0].app.err != "bad-protocol-id" ||
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
		if !w.Decide(seg(c, sv, 40000, 502, fACK|fPSH, 1001, 5001, mbReq(1, 1, 3, 0, 1))) ||
			!w.Decide(seg(sv, c, 502, 40000, fACK|fPSH, 5001, 1013, mbReadRsp(1, 1, 1))) {
			t.Fatal("read refused")
		}
		// The client acknowledged the 11-byte response: its next expected
		// server byte is 5012.
		v := w.DecideVerdict(seg(c, sv, 40000, 502, fACK|fPSH, 1013, 5012, mbReq(2, 1, 6, 1, 1)))
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
		if len(lines) != 1 || lines[0].reason != ReasonViolation {
			t.Errorf("lines %+v", lines)
		}
	}
	// A retransmission before the server answered becomes the FIN again.
	te := newAppEngine(t, "enforce", "tcp", "502", readOnly+"\n    on_violation: reset")
	s := newSession(t, te)
	if v := s.req(mbReq(1, 1, 5, 0, 0xff00)); v.Packet == nil {
		t.Fatal("no reset")
	}
	v := te.Worker(0).DecideVerdict(seg(hmi, plc, 40000, 502, fACK|fPSH, s.cseq, s.sseq, mbReq(1, 1, 5, 0, 0xff00)))
	if p := checkSegment(t, v.Packet, hmi, plc, 40000, 502); p.TCPFlags&packet.TCPFin == 0 || p.Seq != s.cseq {
		t.Errorf("retransmission during the reset: %s seq %d", packet.FlagString(p.TCPFlags), p.Seq)
	}
	// A gap is never a reason to reset: the sender will fill it.
	te = newAppEngine(t, "enforce", "tcp", "502", readOnly+"\n    on_violation: reset")
	s = newSession(t, te)
	if v := te.Worker(0).DecideVerdict(seg(hmi, plc, 40000, 502, fACK|fPSH, s.cseq+12, s.sseq, mbReq(2, 1, 3, 0, 1))); v.Accept || v.Packet != nil {
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
	if !w.Decide(seg(hmi, plc, 40000, 502, fACK|fPSH, 77, 9, mbReq(1, 1, 3, 0, 1))) {
		t.Fatal("picked-up read refused")
	}
	if w.Decide(seg(hmi, plc, 40000, 502, fACK|fPSH, 89, 9, mbReq(2, 1, 16, 0, 1))) {
		t.Fatal("picked-up write accepted")
	}
	// Bytes from before the pickup cannot be checked against anything.
	if w.Decide(seg(hmi, plc, 40000, 502, fACK|fPSH, 65, 9, mbReq(0, 1, 3, 0, 1))) {
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
	if len(lines) != 2 || lines[0].app.fn != 13 || lines[0].app.violates != rules.FailFunction ||
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
	user := append([]byte{th}, app...)
	h := []byte{0x05, 0x64, byte(5 + len(user)), ctrl, byte(dst), byte(dst >> 8), byte(src), byte(src >> 8)}
	out := append(h, crc(h)...)
	for len(user) > 0 {
		n := min(16, len(user))
		out = append(out, user[:n]...)
		out = append(out, crc(user[:n])...)
		user = user[n:]
	}
	return out
}

func crc(b []byte) []byte {
	var c uint16
	for _, x := range b {
		c ^= uint16(x)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ 0xa6bc
			} else {
				c >>= 1
			}
		}
	}
	c = ^c
	return []byte{byte(c), byte(c >> 8)}
}

// TestInspectDNP3Segments: a request split over transport segments is
// judged by its first segment; a later segment without one is unparsed.
func TestInspectDNP3Segments(t *testing.T) {
	// Write of a time and date (50:1, 6-byte value), cut after the object
	// header: FIR then FIN.
	first := []byte{0xc3, 0x02, 0x32, 0x01, 0x07, 0x01}
	rest := []byte{0, 0, 0, 0, 0, 0}
	for _, tc := range []struct {
		cond          string
		first, second bool // accepted
		requests      uint64
		reason        string
	}{
		{`    dnp3: {functions: [write]}`, true, true, 1, ""},
		{`    dnp3: {functions: [read]}`, false, false, 0, ReasonViolation},
		// The objects of a split request cannot all be seen at once.
		{`    dnp3: {objects: ["50:1"]}`, false, false, 0, "unparsed-dnp3"},
	} {
		te := newAppEngine(t, "enforce", "tcp", "20000", tc.cond)
		s := newSessionTo(t, te, 20000)
		if v := s.req(dnp3Segment(0xc4, 10, 1, 0x40|5, first)); v.Accept != tc.first {
			t.Errorf("%s: first segment accepted %v", tc.cond, v.Accept)
		}
		if v := s.req(dnp3Segment(0xc4, 10, 1, 0x80|6, rest)); v.Accept != tc.second {
			t.Errorf("%s: last segment accepted %v", tc.cond, v.Accept)
		}
		if n := te.requests("hmi-reads"); n != tc.requests {
			t.Errorf("%s: requests %d", tc.cond, n)
		}
		if l := te.appLines(); tc.reason != "" && (len(l) == 0 || l[0].reason != tc.reason) {
			t.Errorf("%s: lines %+v", tc.cond, l)
		}
	}
	// A later segment with no first segment before it.
	te := newAppEngine(t, "enforce", "tcp", "20000", `    dnp3: {functions: [write]}`)
	s := newSessionTo(t, te, 20000)
	if v := s.req(dnp3Segment(0xc4, 10, 1, 0x80|6, rest)); v.Accept {
		t.Error("a lone last segment accepted")
	}
	if l := te.appLines(); len(l) != 1 || l[0].app.detail != "segment-without-its-first" {
		t.Errorf("lines %+v", l)
	}
}

func TestInspectS7Fragments(t *testing.T) {
	te := newAppEngine(t, "enforce", "tcp", "102", `    s7: {functions: [setup_communication, read_var]}`)
	s := newSessionTo(t, te, 102)
	// Hand-made S7: a job header and a parameter beginning with the
	// function, split over two COTP DT TPDUs.
	job := func(fn byte, eot bool, data []byte) []byte {
		cotp := []byte{2, 0xf0, 0}
		if eot {
			cotp[2] = 0x80
		}
		b := append([]byte{3, 0, 0, 0}, cotp...)
		b = append(b, data...)
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		return b
	}
	hdr := func(fn byte, plen, dlen int) []byte {
		h := []byte{0x32, 1, 0, 0, 0, 1, byte(plen >> 8), byte(plen), byte(dlen >> 8), byte(dlen), fn}
		return h
	}
	// write var (0x05) in two pieces: refused by its first piece.
	first := job(5, false, append(hdr(5, 14, 10), 1, 0x12, 10, 0x10))
	if v := s.req(first); v.Accept {
		t.Error("first piece of a write var accepted")
	}
	lines := te.appLines()
	if len(lines) != 1 || lines[0].app.fn != 5 || lines[0].app.violates != rules.FailFunction {
		t.Errorf("lines %+v", lines)
	}
	// read var (0x04) in two pieces: the first judged, the second passes.
	if v := s.req(job(4, false, append(hdr(4, 14, 0), 1, 0x12, 10, 0x10))); !v.Accept {
		t.Error("first piece of a read var refused")
	}
	if v := s.req(job(0, true, []byte{2, 0, 1, 0, 0, 0x84, 0, 0, 0, 0})); !v.Accept {
		t.Error("last piece of a read var refused")
	}
	if n := te.requests("hmi-reads"); n != 1 {
		t.Errorf("requests = %d, want 1", n)
	}
	// S7comm-plus cannot be judged.
	plus := job(0, true, []byte{0x72, 1, 0, 4, 0x31, 0, 0, 0})
	if v := s.req(plus); v.Accept {
		t.Error("S7comm-plus accepted under an s7 condition")
	}
	if l := te.appLines(); len(l) != 1 || l[0].reason != "unparsed-s7" || l[0].app.detail != "s7comm-plus" {
		t.Errorf("s7plus lines %+v", l)
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
		r := &modes.Reloader{Store: te.store, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Load: func(string) (*rules.Policy, error) { return rules.Parse("app.yaml", []byte(s)) }}
		if res := r.Reload("test"); !res.Changed {
			t.Fatalf("reload: %+v", res)
		}
	}
	s := newSession(t, te)
	if v := s.req(mbReq(1, 1, 3, 0, 1)); !v.Accept {
		t.Fatal("read refused")
	}
	reload(src("    description: no condition for a while"))
	if v := s.req(mbReq(2, 1, 6, 0, 1)); !v.Accept {
		t.Fatal("write refused without a condition")
	}
	reload(src(readOnly))
	// The stream moved on without inspection: it starts over at the next
	// segment, as a picked-up flow does.
	if v := s.req(mbReq(3, 1, 3, 0, 1)); !v.Accept {
		t.Error("a read after the condition came back refused")
	}
	if v := s.req(mbReq(4, 1, 6, 0, 1)); v.Accept {
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
	if w.streams.used != 3 {
		t.Fatalf("%d slots for 3 inspected flows", w.streams.used)
	}
	// Flows end (idle handshakes); their slots come back and are reused.
	te.clock += int64(60e9)
	te.Conntrack().Sweep(te.clock)
	if n := len(w.streams.free); n != 3 {
		t.Fatalf("%d slots freed, want 3", n)
	}
	w.Decide(seg(hmi, plc, 42000, 502, fSYN, 1, 0, nil))
	if w.streams.used != 3 || len(w.streams.free) != 2 {
		t.Errorf("slot not reused: used %d free %d", w.streams.used, len(w.streams.free))
	}
	// A flow of a rule without a condition takes none.
	w.Decide(tpkt{src: hmi, dst: plc, proto: 1, icmpType: 8, icmpID: 3}.bytes())
	if w.streams.used != 3 || len(w.streams.free) != 2 {
		t.Errorf("an ICMP flow took a slot")
	}
}

func TestInspectNoAllocs(t *testing.T) {
	te := newAppEngine(t, "enforce", "tcp", "502", readOnly)
	s := newSession(t, te)
	w := te.Worker(0)
	const n = 1001 // AllocsPerRun's warm-up and 1000 runs
	pkts := make([][]byte, n)
	for i := range pkts {
		pkts[i] = seg(hmi, plc, s.sport, 502, fACK|fPSH, s.cseq+uint32(12*i), s.sseq, mbReq(uint16(i), 1, 3, 0, 10))
	}
	i := 0
	if a := testing.AllocsPerRun(n-1, func() {
		if !w.Decide(pkts[i]) {
			t.Fatal("read refused")
		}
		i++
	}); a != 0 {
		t.Errorf("%.1f allocations per inspected packet", a)
	}
	refused := seg(hmi, plc, s.sport, 502, fACK|fPSH, s.cseq+uint32(12*n), s.sseq, mbReq(1, 1, 6, 0, 1))
	if a := testing.AllocsPerRun(100, func() { w.Decide(refused) }); a != 0 {
		t.Errorf("%.1f allocations per refused packet", a)
	}
}

// benchPDUs are one request of each protocol, as a client sends it.
func benchPDUs() map[string][]byte {
	s7Read := []byte{3, 0, 0, 31, 2, 0xf0, 0x80, // TPKT, COTP DT
		0x32, 1, 0, 0, 0, 1, 0, 14, 0, 0, // job header: parameter 14 bytes, no data
		4, 1, 0x12, 10, 0x10, 2, 0, 1, 0, 1, 0x84, 0, 0, 0} // read var DB1.DBB0
	enipGet := []byte{0x6f, 0, 24, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // SendRRData
		0, 0, 0, 0, 5, 0, 2, 0, 0, 0, 0, 0, 0xb2, 0, 8, 0, // CPF: null address, unconnected data
		0x0e, 3, 0x20, 0x01, 0x24, 0x01, 0x30, 0x01} // get_attribute_single identity 1/1
	return map[string][]byte{
		"modbus": mbReq(1, 1, 3, 0, 10),
		"dnp3":   dnp3Frame(0xc4, 10, 1, []byte{0xc0, 0x01, 0x3c, 0x02, 0x06}),
		"s7":     s7Read,
		"enip":   enipGet,
	}
}

// BenchmarkInspect is the per-packet cost of an established flow whose
// rule has a protocol condition, one request per segment (and, for
// modbus-split, each request in two segments), against the same flow
// without a condition.
func BenchmarkInspect(b *testing.B) {
	pdus := benchPDUs()
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
	} {
		b.Run(tc.name, func(b *testing.B) {
			te := newAppEngine(b, "enforce", "tcp", tc.port, tc.cond)
			w := te.Worker(0)
			port, _ := strconv.Atoi(tc.port)
			dport := uint16(port)
			syn := seg(hmi, plc, 40000, dport, fSYN, 0, 0, nil)
			w.Decide(syn)
			const ring = 4096
			pdu := pdus[tc.pdu]
			var pkts [][]byte
			seq := uint32(1)
			for i := 0; len(pkts) < ring; i++ {
				if tc.split {
					h := len(pdu) / 2
					pkts = append(pkts, seg(hmi, plc, 40000, dport, fACK|fPSH, seq, 1, pdu[:h]),
						seg(hmi, plc, 40000, dport, fACK|fPSH, seq+uint32(h), 1, pdu[h:]))
				} else {
					pkts = append(pkts, seg(hmi, plc, 40000, dport, fACK|fPSH, seq, 1, pdu))
				}
				seq += uint32(len(pdu))
			}
			for _, p := range pkts[:8] {
				if !w.Decide(p) {
					b.Fatalf("%s request refused: %+v", tc.name, te.appLines())
				}
			}
			w.Decide(syn)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if i == len(pkts) { // start the stream over: a fresh SYN
					b.StopTimer()
					w.Decide(syn)
					i = 0
					b.StartTimer()
				}
				w.Decide(pkts[i])
				i++
			}
		})
	}
}
