package rules

import (
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/proto/dnp3"
	"github.com/conduit-ot/conduit/proto/enip"
	"github.com/conduit-ot/conduit/proto/modbus"
)

const appZones = `
zones:
  sup: {level: 2, cidrs: [10.20.0.0/24]}
  ctl: {level: 1, cidrs: [10.10.0.0/24]}
`

// appRule parses a policy whose one rule carries cond (YAML lines of the
// rule after proto/dport) and returns the rule.
func appRule(t *testing.T, proto, dport, cond string) *Rule {
	t.Helper()
	src := appZones + "rules:\n  - name: r\n    from: sup\n    to: ctl\n    proto: " + proto + "\n    dport: " + dport + "\n" + cond
	p := mustParse(t, src)
	return &p.Rules[0]
}

func TestModbusCondition(t *testing.T) {
	r := appRule(t, "tcp", "502", `    modbus:
      functions: [read_holding_registers, 16, read_device_identification]
      unit_ids: [1, "10-12"]
      addresses: {read: ["0-99"], write: ["100-119", "200"]}
`)
	c, _ := r.App.Cond.(*modbus.Cond)
	if r.App.Proto != AppModbus || c == nil {
		t.Fatalf("condition %+v", r.App)
	}
	read := func(fn, unit uint8, addr, qty uint16) *modbus.PDU {
		return &modbus.PDU{Function: fn, UnitID: unit, HasRead: true, ReadAddr: addr, ReadQty: qty}
	}
	write := func(fn, unit uint8, addr, qty uint16) *modbus.PDU {
		return &modbus.PDU{Function: fn, UnitID: unit, HasWrite: true, WriteAddr: addr, WriteQty: qty}
	}
	for _, tc := range []struct {
		name string
		pdu  *modbus.PDU
		want Failure
	}{
		{"read inside", read(3, 1, 0, 100), Pass},
		{"read past the range", read(3, 1, 90, 11), FailReadAddress},
		{"read at the last address", read(3, 11, 99, 1), Pass},
		{"unit out of the list", read(3, 2, 0, 1), FailUnitID},
		{"unit at a range end", read(3, 12, 0, 1), Pass},
		{"function not listed", read(1, 1, 0, 1), FailFunction},
		{"write inside", write(16, 1, 100, 20), Pass},
		{"write spanning two ranges", write(16, 1, 119, 2), FailWriteAddress},
		{"write of the single address", write(16, 1, 200, 1), Pass},
		{"write single register not listed", write(6, 1, 100, 1), FailFunction},
		{"device identification by name: MEI 14", &modbus.PDU{Function: 43, MEIType: 14, UnitID: 1}, Pass},
		{"device identification by name: not CANopen", &modbus.PDU{Function: 43, MEIType: 13, UnitID: 1}, FailFunction},
	} {
		if got := c.Check(tc.pdu); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}

	// 43 by number: any MEI type. Presets add up with functions.
	c = appRule(t, "tcp", "502", "    modbus: {functions: [43, 8], preset: read_only}\n").App.Cond.(*modbus.Cond)
	for fn, want := range map[uint8]Failure{43: Pass, 8: Pass, 3: Pass, 24: Pass, 5: FailFunction, 16: FailFunction, 23: FailFunction} {
		if got := c.Check(&modbus.PDU{Function: fn, MEIType: 13}); got != want {
			t.Errorf("functions [43, 8] + read_only, function %d: %v, want %v", fn, got, want)
		}
	}
	c = appRule(t, "tcp", "502", "    modbus: {preset: read_write, addresses: [\"0-9\"]}\n").App.Cond.(*modbus.Cond)
	for _, tc := range []struct {
		pdu  *modbus.PDU
		want Failure
	}{
		{write(6, 0, 9, 1), Pass}, {write(15, 0, 0, 10), Pass}, {write(15, 0, 5, 10), FailWriteAddress},
		{read(4, 0, 10, 1), FailReadAddress}, {&modbus.PDU{Function: 8}, FailFunction},
		{&modbus.PDU{Function: 43, MEIType: 13}, FailFunction}, {&modbus.PDU{Function: 43, MEIType: 14}, Pass},
	} {
		if got := c.Check(tc.pdu); got != tc.want {
			t.Errorf("read_write, addresses 0-9, %+v: %v, want %v", tc.pdu, got, tc.want)
		}
	}
	// The empty condition asks only for well-formed Modbus.
	c = appRule(t, "tcp", "502", "    modbus: {}\n").App.Cond.(*modbus.Cond)
	if got := c.Check(write(22, 200, 65000, 1)); got != Pass {
		t.Errorf("modbus: {} refused a request: %v", got)
	}
}

func TestDNP3Condition(t *testing.T) {
	r := appRule(t, "tcp", "20000", `    dnp3: {functions: [read, direct_operate], sources: [1], destinations: ["10-11"], objects: ["12:1", "60"]}
`)
	c, _ := r.App.Cond.(*dnp3.Cond)
	frame := func(src, dst uint16) *dnp3.Frame { return &dnp3.Frame{Source: src, Destination: dst} }
	if c.CheckLink(frame(1, 10)) != Pass || c.CheckLink(frame(2, 10)) != FailSource || c.CheckLink(frame(1, 12)) != FailDestination {
		t.Error("link addresses judged wrongly")
	}
	app := func(fn uint8, complete bool, objs ...[2]uint8) *dnp3.App {
		a := &dnp3.App{Function: fn, ObjectsComplete: complete, NumObjects: len(objs)}
		for i, o := range objs {
			a.Objects[i] = dnp3.ObjectHeader{Group: o[0], Variation: o[1]}
		}
		return a
	}
	for _, tc := range []struct {
		name string
		app  *dnp3.App
		want Failure
		bad  int
	}{
		{"class poll", app(1, true, [2]uint8{60, 2}, [2]uint8{60, 3}), Pass, -1},
		{"CROB", app(5, true, [2]uint8{12, 1}), Pass, -1},
		{"analog output not listed", app(5, true, [2]uint8{12, 1}, [2]uint8{41, 2}), FailObject, 1},
		{"variation not listed", app(5, true, [2]uint8{12, 2}), FailObject, 0},
		{"cold restart", app(13, true), FailFunction, -1},
		{"objects not all decoded", app(1, false, [2]uint8{60, 1}), FailIncomplete, -1},
	} {
		if got, bad := c.CheckApp(tc.app); got != tc.want || bad != tc.bad {
			t.Errorf("%s: %v at %d, want %v at %d", tc.name, got, bad, tc.want, tc.bad)
		}
	}
	// Without objects, an incomplete object list does not matter.
	c = appRule(t, "udp", "20000", "    dnp3: {functions: [read]}\n").App.Cond.(*dnp3.Cond)
	if got, _ := c.CheckApp(app(1, false)); got != Pass {
		t.Errorf("functions only, incomplete objects: %v", got)
	}
}

func TestENIPCondition(t *testing.T) {
	r := appRule(t, "tcp", "44818", `    enip: {commands: [register_session, send_rr_data, send_unit_data]}
    cip: {services: [get_attribute_single, read_tag, forward_open, 0x4d], classes: [identity, symbol, "0x6c-0x6d", connection_manager]}
`)
	c, _ := r.App.Cond.(*enip.Cond)
	if r.App.Proto != AppENIP || !c.HasENIP || !c.HasCIP {
		t.Fatalf("condition %+v", r.App)
	}
	if c.CheckCommand(enip.CmdSendUnitData) != Pass || c.CheckCommand(enip.CmdListIdentity) != FailCommand {
		t.Error("commands judged wrongly")
	}
	for _, tc := range []struct {
		name string
		msg  enip.Msg
		want Failure
	}{
		{"common service on a listed class", enip.Msg{Service: 0x0e, Class: 0x01}, Pass},
		{"read tag on the symbol class", enip.Msg{Service: 0x4c, Class: enip.ClassSymbol}, Pass},
		// 0x4c on the template class is read_template, not read_tag.
		{"0x4c on the template class", enip.Msg{Service: 0x4c, Class: 0x6c}, FailService},
		{"0x4d by number: any class", enip.Msg{Service: 0x4d, Class: 0x6d}, Pass},
		{"forward open on the connection manager", enip.Msg{Service: 0x54, Class: enip.ClassConnectionManager}, Pass},
		{"0x54 elsewhere", enip.Msg{Service: 0x54, Class: 0x01}, FailService},
		{"stop", enip.Msg{Service: 0x07, Class: 0x01}, FailService},
		{"class not listed", enip.Msg{Service: 0x0e, Class: 0xf5}, FailClass},
		{"class beyond 16 bits", enip.Msg{Service: 0x0e, Class: 0x10001}, FailClass},
	} {
		if got := c.CheckCIP(&tc.msg); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if !enip.Envelope(&enip.Msg{Service: 0x0a, Class: 0x02}) || !enip.Envelope(&enip.Msg{Service: 0x52, Class: 0x06}) ||
		enip.Envelope(&enip.Msg{Service: 0x52, Class: enip.ClassSymbol}) {
		t.Error("envelopes: 0x0a anywhere and 0x52 on the connection manager only")
	}
	// cip alone leaves the encapsulation commands free.
	c = appRule(t, "tcp", "44818", "    cip: {services: [read_tag]}\n").App.Cond.(*enip.Cond)
	if c.HasENIP || c.CheckCommand(enip.CmdListIdentity) != Pass {
		t.Error("a cip condition constrained the encapsulation commands")
	}
}

func TestS7Condition(t *testing.T) {
	c := appRule(t, "tcp", "102", "    s7: {functions: [setup_communication, read_var, pi_service], userdata_groups: [cpu_functions, 7]}\n").App.S7
	for _, tc := range []struct {
		job   bool
		code  uint8
		want  Failure
		about string
	}{
		{true, 0xf0, Pass, "setup"}, {true, 0x04, Pass, "read var"}, {true, 0x28, Pass, "PI service by its alias"},
		{true, 0x05, FailFunction, "write var"}, {true, 0x29, FailFunction, "PLC stop"},
		{false, 4, Pass, "cpu functions"}, {false, 7, Pass, "time functions by number"},
		{false, 1, FailUserdataGroup, "programmer commands"},
	} {
		got := c.CheckUserdata(tc.code)
		if tc.job {
			got = c.CheckJob(tc.code)
		}
		if got != tc.want {
			t.Errorf("%s: %v, want %v", tc.about, got, tc.want)
		}
	}
	// Functions alone refuse userdata; the empty condition refuses nothing.
	c = appRule(t, "tcp", "102", "    s7: {functions: [setup_communication, read_var]}\n").App.S7
	if c.CheckUserdata(4) != FailUserdataGroup {
		t.Error("functions without userdata_groups let a userdata request through")
	}
	c = appRule(t, "tcp", "102", "    s7: {}\n").App.S7
	if c.CheckJob(0x29) != Pass || c.CheckUserdata(1) != Pass {
		t.Error("s7: {} refused a request")
	}
}

// TestAppVocabulary writes every valid name of every field into a rule:
// the policy must parse, and each name must land on a code.
func TestAppVocabulary(t *testing.T) {
	voc := AppVocabulary()
	list := func(k string) string { return "[" + strings.Join(voc[k], ", ") + "]" }
	for _, tc := range []struct{ proto, port, cond string }{
		{"tcp", "502", "modbus: {functions: " + list("modbus.functions") + "}"},
		{"tcp", "20000", "dnp3: {functions: " + list("dnp3.functions") + "}"},
		{"tcp", "44818", "enip: {commands: " + list("enip.commands") + "}\n    cip: {services: " + list("cip.services") + ", classes: " + list("cip.classes") + "}"},
		{"tcp", "102", "s7: {functions: " + list("s7.functions") + ", userdata_groups: " + list("s7.userdata_groups") + "}"},
	} {
		r := appRule(t, tc.proto, tc.port, "    "+tc.cond+"\n")
		if r.App == nil || r.App.String() == "" {
			t.Errorf("%s: no condition", tc.cond)
		}
	}
	for k, names := range voc {
		if len(names) == 0 {
			t.Errorf("%s: empty vocabulary", k)
		}
	}
}

func TestAppKeysDefaults(t *testing.T) {
	rule := func(extra string) string {
		return "    modbus: {preset: read_only}\n" + extra
	}
	r := appRule(t, "tcp", "502", rule(""))
	if r.OnUnparsed != UnparsedDeny || r.OnViolation != ViolationDrop {
		t.Errorf("defaults: on_unparsed %v on_violation %v, want deny and drop", r.OnUnparsed, r.OnViolation)
	}
	p := mustParse(t, "on_unparsed: allow\non_violation: reset\n"+appZones+`rules:
  - {name: a, from: sup, to: ctl, proto: tcp, dport: 502, modbus: {}}
  - {name: b, from: sup, to: ctl, proto: tcp, dport: 503, modbus: {}, on_unparsed: deny, on_violation: drop}
`)
	if a := p.Rules[0]; a.OnUnparsed != UnparsedAllow || a.OnViolation != ViolationReset {
		t.Errorf("rule a does not inherit the policy's keys: %v %v", a.OnUnparsed, a.OnViolation)
	}
	if b := p.Rules[1]; b.OnUnparsed != UnparsedDeny || b.OnViolation != ViolationDrop {
		t.Errorf("rule b does not override them: %v %v", b.OnUnparsed, b.OnViolation)
	}
	if s := p.Rules[1].App.String(); s != "modbus: {}" {
		t.Errorf("String() = %q", s)
	}
}

func TestAppWarnings(t *testing.T) {
	p := mustParse(t, appZones+`rules:
  - {name: s7-read, from: sup, to: ctl, proto: tcp, dport: 102, s7: {functions: [read_var]}}
  - {name: dnp3-udp, from: sup, to: ctl, proto: udp, dport: 20000, dnp3: {}, on_violation: reset}
  - {name: modbus-read, from: sup, to: ctl, proto: tcp, dport: 502, modbus: {preset: read_only}}
  - {name: modbus-write, from: sup, to: ctl, proto: tcp, dport: 502, modbus: {preset: read_write}}
`)
	want := []string{
		"s7 functions lack setup_communication",
		"on_violation reset needs TCP",
		"rule modbus-write can never match: rule modbus-read (line 8) above it matches everything it does (flows are matched by addresses and ports; modbus-read's modbus condition",
	}
	var got []string
	for _, w := range p.Warnings {
		got = append(got, w.Msg)
	}
	all := strings.Join(got, "\n")
	for _, w := range want {
		if !strings.Contains(all, w) {
			t.Errorf("no warning %q in:\n%s", w, all)
		}
	}
}

func TestAppChecksDoNotAllocate(t *testing.T) {
	m := appRule(t, "tcp", "502", "    modbus: {preset: read_only, unit_ids: [1], addresses: {read: [\"0-99\"]}}\n").App.Cond.(*modbus.Cond)
	d := appRule(t, "tcp", "20000", "    dnp3: {functions: [read], sources: [1], objects: [\"60\", \"12:1\"]}\n").App.Cond.(*dnp3.Cond)
	e := appRule(t, "tcp", "44818", "    enip: {commands: [send_rr_data]}\n    cip: {services: [read_tag], classes: [symbol]}\n").App.Cond.(*enip.Cond)
	s := appRule(t, "tcp", "102", "    s7: {functions: [read_var], userdata_groups: [cpu_functions]}\n").App.S7
	mp := &modbus.PDU{Function: 3, UnitID: 1, HasRead: true, ReadQty: 10}
	fr := &dnp3.Frame{Source: 1, Destination: 10}
	ap := &dnp3.App{Function: 1, ObjectsComplete: true, NumObjects: 2}
	ap.Objects[0] = dnp3.ObjectHeader{Group: 60, Variation: 2}
	ap.Objects[1] = dnp3.ObjectHeader{Group: 12, Variation: 1}
	msg := &enip.Msg{Service: 0x4c, Class: enip.ClassSymbol}
	n := testing.AllocsPerRun(1000, func() {
		_ = m.Check(mp)
		_ = d.CheckLink(fr)
		_, _ = d.CheckApp(ap)
		_ = e.CheckCommand(enip.CmdSendRRData)
		_ = e.CheckCIP(msg)
		_ = s.CheckJob(4)
		_ = s.CheckUserdata(4)
	})
	if n != 0 {
		t.Errorf("%.1f allocations per round of checks", n)
	}
}
