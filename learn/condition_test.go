package learn

import (
	"bytes"
	"github.com/conduit-ot/conduit/proto"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/capture/synth"
	"github.com/conduit-ot/conduit/proto/dnp3"
	"github.com/conduit-ot/conduit/proto/dnp3/dnp3test"
	"github.com/conduit-ot/conduit/proto/enip"
	"github.com/conduit-ot/conduit/proto/modbus"
	"github.com/conduit-ot/conduit/proto/s7"
	"github.com/conduit-ot/conduit/proto/s7/s7test"
	"github.com/conduit-ot/conduit/rules"
)

// Modbus/TCP requests (MBAP, unit 1).
var (
	mbRead     = []byte{0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 10} // read_holding_registers
	mbWrite    = []byte{0, 2, 0, 0, 0, 6, 1, 6, 0, 40, 0, 7} // write_single_register
	mbDevID    = []byte{0, 3, 0, 0, 0, 5, 1, 43, 14, 1, 0}   // read_device_identification
	mbCANopen  = []byte{0, 4, 0, 0, 0, 4, 1, 43, 13, 0}      // 43 with another MEI type
	mbUnit7    = []byte{0, 5, 0, 0, 0, 6, 7, 4, 0, 0, 0, 2}  // read_input_registers, unit 7
	mbBadProto = []byte{0, 6, 0, 9, 0, 6, 1, 3, 0, 0, 0, 10} // protocol id 9
	mbBadResp  = []byte{0, 1, 0, 0, 0, 1, 1}                 // a response with a length below 2
)

// s7ReadVar is read_var of one item (DB1.DBB0, 4 bytes) in TPKT and COTP DT.
var s7ReadVar = s7test.Data(s7test.Header(s7.ROSCTRJob, 1, append([]byte{s7.FuncReadVar, 1}, s7test.Item(1, 0, 4)...), nil))

// dnp3Frame builds a link frame from the master (DIR, PRM, unconfirmed
// user data) to outstation 10, with correct CRCs.
func dnp3Frame(ud ...byte) []byte { return dnp3test.Frame(dnp3test.MasterData, 10, 1, ud) }

// tpkt wraps S7 bytes in TPKT and a COTP DT TPDU (eot: the last piece).
func tpkt(pdu []byte, eot bool) []byte { return s7test.TPKT(s7test.DT(eot, pdu)) }

// mb is a segment of the Modbus client 10.0.0.1:50000 (or, reply, of the
// server) at stream offset off: the SYN took sequence number 99.
func mb(off uint32, payload []byte, reply bool) tp {
	p := tp{proto: tcp, src: "10.0.0.1", dst: "10.0.0.2", sport: 50000, dport: 502, flags: fA | fP, payload: payload, seq: 100 + off}
	if reply {
		p.src, p.dst, p.sport, p.dport, p.seq = p.dst, p.src, p.dport, p.sport, 700+off
	}
	return p
}

// mbSyn and mbSynAck open the Modbus connection: the client's SYN took
// sequence number 99, the server's 699.
var (
	mbSyn    = tp{proto: tcp, src: "10.0.0.1", dst: "10.0.0.2", sport: 50000, dport: 502, flags: fS, seq: 99}
	mbSynAck = tp{proto: tcp, src: "10.0.0.2", dst: "10.0.0.1", sport: 502, dport: 50000, flags: fS | fA, seq: 699, ack: 100}
)

// TestLearnInspectsLikeTheEngine: learn records the requests the engine's
// inspection judges (split requests whole, retransmissions once) and
// counts what it cannot judge.
func TestLearnInspectsLikeTheEngine(t *testing.T) {
	cases := []struct {
		name     string
		pkts     []tp
		funcs    map[string]uint64
		unparsed map[string]uint64
	}{
		{"request split over two segments", []tp{mbSyn, mbSynAck, mb(0, mbRead[:5], false), mb(5, mbRead[5:], false)},
			map[string]uint64{"modbus read_holding_registers": 1}, nil},
		{"two requests in one segment", []tp{mbSyn, mbSynAck, mb(0, slices.Concat(mbRead, mbWrite), false)},
			map[string]uint64{"modbus read_holding_registers": 1, "modbus write_single_register": 1}, nil},
		{"a retransmission counts once", []tp{mbSyn, mbSynAck, mb(0, mbRead, false), mb(0, mbRead, false)},
			map[string]uint64{"modbus read_holding_registers": 1}, nil},
		{"a retransmission that differs is a gap, judged anew", []tp{mbSyn, mbSynAck, mb(0, mbRead, false), mb(0, mbWrite, false)},
			map[string]uint64{"modbus read_holding_registers": 1, "modbus write_single_register": 1}, map[string]uint64{"stream-gap": 1}},
		{"bytes missing from the capture", []tp{mbSyn, mbSynAck, mb(0, mbRead, false), mb(24, mbWrite, false)},
			map[string]uint64{"modbus read_holding_registers": 1, "modbus write_single_register": 1}, map[string]uint64{"stream-gap": 1}},
		{"picked up mid-stream on a PDU boundary", []tp{mb(4000, mbRead, false)},
			map[string]uint64{"modbus read_holding_registers": 1}, nil},
		{"picked up by the server's segment, in the client's direction", []tp{mb(0, []byte{0, 1, 0, 0, 0, 5, 1, 3, 2, 0, 0}, true), mb(0, mbRead, false)},
			map[string]uint64{"modbus read_holding_registers": 1}, nil},
		// The draft's rule refuses the server's first datagram in enforce
		// (it is not the rule's direction): nothing of it is judged.
		{"udp flow first seen from its server", []tp{
			{proto: udp, src: "10.0.0.2", dst: "10.0.0.1", sport: 20000, dport: 40000, payload: []byte{1, 2, 3}},
			{proto: udp, src: "10.0.0.1", dst: "10.0.0.2", sport: 40000, dport: 20000, payload: dnp3Frame(0xc0, 0xc0, 0x01, 0x3c, 0x02, 0x06)}},
			map[string]uint64{"dnp3 read": 1}, nil},
		{"malformed request and response", []tp{mbSyn, mbSynAck, mb(0, mbBadProto, false), mb(0, mbBadResp, true)},
			nil, map[string]uint64{"malformed-modbus (bad-protocol-id)": 1, "malformed-modbus (bad-length)": 1}},
		{"device identification by MEI type", []tp{mbSyn, mbSynAck, mb(0, mbDevID, false), mb(11, mbCANopen, false)},
			map[string]uint64{"modbus read_device_identification": 1, "modbus 43": 1}, nil},
		{"a response is not a request", []tp{mbSyn, mbSynAck, mb(0, []byte{0, 1, 0, 0, 0, 5, 1, 3, 2, 0, 0}, true)}, nil, nil},
		{"s7 job split over two COTP pieces, counted whole", []tp{
			{proto: tcp, src: "10.0.0.1", dst: "10.0.0.2", sport: 50000, dport: 102, flags: fA | fP, payload: tpkt(s7ReadVar[7:19], false), seq: 100},
			{proto: tcp, src: "10.0.0.1", dst: "10.0.0.2", sport: 50000, dport: 102, flags: fA | fP, payload: tpkt(s7ReadVar[19:], true), seq: 119}},
			map[string]uint64{"s7 read_var": 1}, nil},
		{"dnp3 request over two transport segments, counted at FIN", []tp{
			{proto: tcp, src: "10.0.0.1", dst: "10.0.0.2", sport: 50000, dport: 20000, flags: fA | fP, payload: slices.Concat(
				dnp3Frame(0x40, 0xc0, 0x01, 0x3c, 0x02, 0x06), dnp3Frame(0x81, 0x3c, 0x03, 0x06))}},
			map[string]uint64{"dnp3 read": 1}, nil},
		{"dnp3 segment without its first", []tp{
			{proto: tcp, src: "10.0.0.1", dst: "10.0.0.2", sport: 50000, dport: 20000, flags: fA | fP, payload: dnp3Frame(0x81, 0x3c, 0x03, 0x06)}},
			nil, map[string]uint64{"unparsed-dnp3 (segment-without-its-first)": 1}},
		{"s7 job", []tp{{proto: tcp, src: "10.0.0.1", dst: "10.0.0.2", sport: 50000, dport: 102, flags: fA | fP, payload: s7ReadVar}},
			map[string]uint64{"s7 read_var": 1}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := learnAll(tc.pkts)
			var s *Service
			for _, x := range m.Services() {
				s = x
			}
			if !maps.Equal(s.Functions, tc.funcs) || !maps.Equal(s.Unparsed, tc.unparsed) {
				t.Errorf("functions %v, unparsed %v; want %v, %v", s.Functions, s.Unparsed, tc.funcs, tc.unparsed)
			}
		})
	}
}

// answered is pkts with the server's SYN-ACK after each client SYN, as a
// capture of both directions has it: inspection reads a direction's data
// once its SYN is answered.
func answered(pkts []tp) []tp {
	var out []tp
	for _, p := range pkts {
		out = append(out, p)
		if p.proto == tcp && p.flags == fS {
			out = append(out, tp{at: p.at, proto: tcp, src: p.dst, dst: p.src, sport: p.dport, dport: p.sport, flags: fS | fA, seq: 699, ack: p.seq + 1})
		}
	}
	return out
}

// rulesFor returns the draft's rules (without the cleanup rule) by dport.
func rulesFor(t *testing.T, p *rules.Policy) map[string]*rules.Rule {
	out := map[string]*rules.Rule{}
	for i := range p.Rules {
		r := &p.Rules[i]
		if !r.Cleanup {
			out[r.From.String()+">"+rules.FormatPorts(r.DPorts)] = r
		}
	}
	return out
}

// TestDraftConditionChoices: what a rule's condition says, or why it has none.
func TestDraftConditionChoices(t *testing.T) {
	const srv = "10.0.0.2"
	seg := func(client string, cport, port uint16, off uint32, payload []byte) tp {
		return tp{proto: tcp, src: client, dst: srv, sport: cport, dport: port, flags: fA | fP, payload: payload, seq: 100 + off}
	}
	syn := func(client string, cport, port uint16) tp {
		return tp{proto: tcp, src: client, dst: srv, sport: cport, dport: port, flags: fS, seq: 99}
	}
	cases := []struct {
		name  string
		pkts  []tp
		check func(t *testing.T, rs map[string]*rules.Rule, y string)
	}{
		{"a client that only read gets the preset", []tp{syn("10.0.0.1", 1, 502), seg("10.0.0.1", 1, 502, 0, mbRead), seg("10.0.0.1", 1, 502, 12, mbUnit7), seg("10.0.0.1", 1, 502, 24, mbDevID)},
			func(t *testing.T, rs map[string]*rules.Rule, y string) {
				c := modbusOf(rs["10.0.0.1>502"].App)
				if c.Preset != "read_only" || len(c.Functions) != 0 || rules.FormatPorts(c.UnitIDs) != "[1, 7]" {
					t.Errorf("condition %s", c)
				}
			}},
		{"a client that wrote gets the functions seen", []tp{syn("10.0.0.1", 1, 502), seg("10.0.0.1", 1, 502, 0, mbRead), seg("10.0.0.1", 1, 502, 12, mbWrite)},
			func(t *testing.T, rs map[string]*rules.Rule, y string) {
				c := rs["10.0.0.1>502"].App
				if c.String() != "modbus: {functions: [read_holding_registers, write_single_register], unit_ids: 1}" || rs["10.0.0.1>502"].OnUnparsed != rules.UnparsedDeny {
					t.Errorf("condition %s", c)
				}
			}},
		{"a client that only connected does not keep the condition off", []tp{syn("10.0.0.1", 1, 502), seg("10.0.0.1", 1, 502, 0, mbRead), syn("10.0.0.3", 1, 502)},
			func(t *testing.T, rs map[string]*rules.Rule, y string) {
				if r := rs["[10.0.0.1, 10.0.0.3]>502"]; r == nil || r.App == nil || modbusOf(r.App).Preset != "read_only" {
					t.Errorf("rules %v", rs)
				}
			}},
		{"another protocol on the port: no condition", []tp{syn("10.0.0.1", 1, 502), seg("10.0.0.1", 1, 502, 0, mbRead), syn("10.0.0.3", 1, 502), seg("10.0.0.3", 1, 502, 0, []byte("GET / HTTP/1.0\r\n\r\n"))},
			func(t *testing.T, rs map[string]*rules.Rule, y string) {
				// Each client gets what it did: the reader its reads, the
				// other protocol no condition (never the reader).
				if r := rs["10.0.0.1>502"]; r == nil || r.App == nil || modbusOf(r.App).Preset != "read_only" {
					t.Errorf("rules %v", rs)
				}
				if r := rs["10.0.0.3>502"]; r == nil || r.App != nil {
					t.Errorf("rules %v", rs)
				}
				if !strings.Contains(y, "#   no modbus condition: 10.0.0.3 -> 10.0.0.2 sent 1 packet that modbus cannot judge (malformed-modbus (bad-protocol-id) 1)") {
					t.Errorf("no reason given\n%s", y)
				}
			}},
		{"traffic that cannot be judged beside requests: on_unparsed allow", []tp{syn("10.0.0.1", 1, 502), seg("10.0.0.1", 1, 502, 0, mbRead), seg("10.0.0.1", 1, 502, 100, mbRead)},
			func(t *testing.T, rs map[string]*rules.Rule, y string) {
				if r := rs["10.0.0.1>502"]; r.App == nil || r.OnUnparsed != rules.UnparsedAllow {
					t.Errorf("rule %+v", r)
				}
				if !strings.Contains(y, "#   1 modbus packet could not be judged (stream-gap 1):\n  #     on_unparsed: allow lets") {
					t.Errorf("no reason given\n%s", y)
				}
			}},
		{"a rule with a condition takes no other port", []tp{syn("10.0.0.1", 1, 502), seg("10.0.0.1", 1, 502, 0, mbRead), syn("10.0.0.1", 2, 80), syn("10.0.0.1", 3, 102)},
			func(t *testing.T, rs map[string]*rules.Rule, y string) {
				if len(rs) != 2 || rs["10.0.0.1>502"].App == nil || rs["10.0.0.1>[80, 102]"] == nil || rs["10.0.0.1>[80, 102]"].App != nil {
					t.Errorf("rules %v\n%s", rs, y)
				}
				if !strings.Contains(y, "#   no s7 requests seen: no condition") {
					t.Errorf("no reason given\n%s", y)
				}
			}},
		{"s7: setup_communication is added", []tp{{proto: tcp, src: "10.0.0.1", dst: srv, sport: 1, dport: 102, flags: fA | fP, payload: s7ReadVar}},
			func(t *testing.T, rs map[string]*rules.Rule, y string) {
				c := rs["10.0.0.1>102"].App
				if c.String() != "s7: {functions: [read_var, setup_communication]}" || !strings.Contains(y, "#   s7: setup_communication added") {
					t.Errorf("condition %s\n%s", c, y)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, y := parseDraft(t, learnAll(answered(tc.pkts)), DraftConfig{})
			if len(p.Warnings) != 0 {
				t.Errorf("warnings %v", p.Warnings)
			}
			tc.check(t, rulesFor(t, p), y)
		})
	}
}

// TestDraftNoConditions: --no-conditions writes port-only rules, the
// conditions as comments, and merges ports as before.
func TestDraftNoConditions(t *testing.T) {
	m := learnAll([]tp{mbSyn, mbSynAck, mb(0, mbRead, false), mb(12, mbBadProto, false),
		{proto: tcp, src: "10.0.0.1", dst: "10.0.0.2", sport: 50001, dport: 80, flags: fS}})
	p, y := parseDraft(t, m, DraftConfig{NoConditions: true})
	rs := rulesFor(t, p)
	if r := rs["10.0.0.1>[80, 502]"]; len(rs) != 1 || r == nil || r.App != nil || r.OnUnparsed != rules.UnparsedDeny {
		t.Errorf("rules %v\n%s", rs, y)
	}
	draftHas(t, y, "  #   condition allowing only these: modbus: {preset: read_only, unit_ids: [1]} with on_unparsed: allow\n", "(--no-conditions)")
}

// TestDraftConditionsFromPlant: on a generated plant, every industrial
// rule carries a condition that allows each request its services made
// (names and numbers as the policy reads them) and refuses others: the
// HMIs only read (preset read_only), the SCADA server writes.
func TestDraftConditionsFromPlant(t *testing.T) {
	var buf bytes.Buffer
	if _, err := synth.Write(&buf, synth.Config{Seed: 5, Duration: time.Hour, PollScale: 20}); err != nil {
		t.Fatal(err)
	}
	m := learnCapture(t, "plant", &buf)
	// Hosts on both sides: the PLCs only HMIs poll get rules of their own.
	p, y := parseDraft(t, m, DraftConfig{HostsPerSide: 20})
	if len(p.Warnings) != 0 {
		t.Errorf("warnings %v", p.Warnings)
	}
	byApp := map[rules.AppProto]int{}
	for _, r := range p.Rules {
		if r.App != nil {
			byApp[r.App.Proto]++
		}
	}
	if byApp[proto.Modbus] < 2 || byApp[proto.DNP3] == 0 || byApp[proto.S7] == 0 || byApp[proto.ENIP] == 0 {
		t.Errorf("rules with conditions by protocol %v\n%s", byApp, y)
	}
	readOnly, writer := 0, 0
	for _, s := range m.Services() {
		if appOf(s.Proto, s.Port) == rules.AppNone || len(s.Functions) == 0 {
			continue
		}
		q := rules.Query{Src: s.Client, Dst: s.Server, Proto: s.Proto, SrcPort: 40000, DstPort: s.Port}
		q.SrcZone, q.DstZone = p.Zone(q.Src), p.Zone(q.Dst)
		rule := &p.Rules[p.Match(&q)]
		if rule.App == nil {
			t.Errorf("%s -> %s:%d: rule %s has no condition", s.Client, s.Server, s.Port, rule.Name)
			continue
		}
		for f := range s.Functions {
			if fl := admits(t, rule.App, s, f); fl != proto.Pass {
				t.Errorf("%s -> %s:%d: rule %s (%s) refuses %s: %s", s.Client, s.Server, s.Port, rule.Name, rule.App, f, fl)
			}
		}
		c, _ := rule.App.Cond.(*modbus.Cond)
		switch {
		case c == nil:
		case s.Client.String() == "10.20.0.10":
			writer++
			if c.Preset != "" || !slices.Contains(c.Functions, modbus.WriteSingleRegister) {
				t.Errorf("SCADA rule %s: %s", rule.Name, c)
			}
		case !strings.Contains(rule.From.String(), "10.20.0.10"):
			// An HMI's rule that the SCADA server does not share.
			readOnly++
			if c.Preset != "read_only" || len(c.Functions) != 0 || c.Check(&modbus.PDU{Function: modbus.WriteSingleRegister, UnitID: 1}) != proto.FailFunction {
				t.Errorf("HMI rule %s: %s", rule.Name, c)
			}
		}
	}
	if readOnly == 0 || writer == 0 {
		t.Errorf("%d read-only HMI services, %d SCADA writers\n%s", readOnly, writer, y)
	}
	if !strings.Contains(y, "modbus requests (read-only): ") || !strings.Contains(y, "#   modbus: only reads seen: preset read_only") {
		t.Errorf("read-only evidence missing\n%s", y)
	}
}

// admits judges one recorded request type (a Function string) of s with
// the rule's compiled condition, as the engine would.
func admits(t *testing.T, c *rules.AppCond, s *Service, fn string) proto.Failure {
	t.Helper()
	kind, name, _ := strings.Cut(fn, " ")
	code := func(lookup func(string) (int, bool)) int {
		if n, err := strconv.Atoi(name); err == nil {
			return n
		}
		n, ok := lookup(name)
		if !ok {
			t.Fatalf("%s: no such name", fn)
		}
		return n
	}
	switch kind {
	case "modbus":
		p := modbus.PDU{Function: uint8(code(func(n string) (int, bool) { c, ok := modbus.FunctionCode(n); return int(c), ok })), MEIType: modbus.MEICANopen}
		if name == "read_device_identification" {
			p.MEIType = modbus.MEIReadDeviceIdentification
		}
		for u := range 256 {
			if s.units.Has(uint8(u)) {
				p.UnitID = uint8(u)
				if f := c.Cond.(*modbus.Cond).Check(&p); f != proto.Pass {
					return f
				}
			}
		}
		return proto.Pass
	case "dnp3":
		f, _ := c.Cond.(*dnp3.Cond).CheckApp(&dnp3.App{Function: uint8(code(func(n string) (int, bool) { c, ok := dnp3.FunctionCode(n); return int(c), ok }))})
		return f
	case "enip":
		return c.Cond.(*enip.Cond).CheckCommand(uint16(code(func(n string) (int, bool) { c, ok := enip.CommandCode(n); return int(c), ok })))
	case "cip":
		svc, class, ok := enip.ServiceCode(name)
		if !ok {
			svc, class = uint8(code(nil)), 1
		}
		return c.Cond.(*enip.Cond).CheckCIP(&enip.Msg{Service: svc, Class: class})
	case "s7":
		return c.Cond.(*s7.Cond).CheckJob(uint8(code(func(n string) (int, bool) { c, ok := s7.FunctionCode(n); return int(c), ok })))
	case "s7-userdata":
		return c.Cond.(*s7.Cond).CheckUserdata(uint8(code(func(n string) (int, bool) { c, ok := s7.GroupCode(n); return int(c), ok })))
	}
	t.Fatalf("unknown request %q", fn)
	return proto.Pass
}

// FuzzLearnInspect feeds arbitrary segments of every industrial port, in
// both directions, at arbitrary stream offsets, through learn's engine:
// it must not panic, and whatever the engine reports must make a draft
// that parses.
func FuzzLearnInspect(f *testing.F) {
	f.Add(slices.Concat(mbRead, mbWrite), uint8(5), uint8(0))
	f.Add(s7ReadVar, uint8(9), uint8(1))
	f.Add(mbBadProto, uint8(3), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, cut, shape uint8) {
		var pkts []tp
		for i, port := range []uint16{502, 102, 20000, 44818} {
			pkts = append(pkts, tp{proto: tcp, src: "10.0.0.1", dst: "10.0.0.2", sport: 50000, dport: port, flags: fS, seq: 99})
			off := uint32(0)
			for j, rest := 0, data; len(rest) > 0; j++ {
				n := min(len(rest), 1+int(cut)%(len(rest)))
				p := tp{proto: tcp, src: "10.0.0.1", dst: "10.0.0.2", sport: 50000, dport: port, flags: fA | fP, payload: rest[:n], seq: 100 + off}
				if (int(shape)>>(j%8))&1 == 1 {
					p.src, p.dst, p.sport, p.dport = p.dst, p.src, p.dport, p.sport
				}
				if shape&0x80 != 0 && j%3 == 2 {
					p.seq -= uint32(n / 2) // overlap what passed
				}
				pkts = append(pkts, p)
				off += uint32(n)
				rest = rest[n:]
			}
			pkts = append(pkts, tp{proto: udp, src: "10.0.0.1", dst: "10.0.0.3", sport: 40000 + uint16(i), dport: port, payload: data})
		}
		y, _ := Draft(learnAll(pkts), DraftConfig{})
		if _, err := rules.Parse("fuzz.yaml", y); err != nil {
			t.Fatalf("%v\n%s", err, y)
		}
	})
}

// modbusOf is a rule's Modbus condition, nil for none.
func modbusOf(a *rules.AppCond) *modbus.Cond {
	if a == nil {
		return nil
	}
	c, _ := a.Cond.(*modbus.Cond)
	return c
}
