package enip_test

import (
	"testing"

	"github.com/conduit-ot/conduit/proto"
	"github.com/conduit-ot/conduit/proto/enip"
	"github.com/conduit-ot/conduit/proto/internal/condtest"
)

// The condition as the policy decoder builds it, judging requests.

func TestENIPCondition(t *testing.T) {
	r := condtest.Rule(t, "tcp", "44818", `    enip: {commands: [register_session, send_rr_data, send_unit_data]}
    cip: {services: [get_attribute_single, read_tag, forward_open, 0x4d], classes: [identity, symbol, "0x6c-0x6d", connection_manager]}
`)
	c, _ := r.App.Cond.(*enip.Cond)
	if r.App.Proto != proto.ENIP || !c.HasENIP || !c.HasCIP {
		t.Fatalf("condition %+v", r.App)
	}
	if c.CheckCommand(enip.CmdSendUnitData) != proto.Pass || c.CheckCommand(enip.CmdListIdentity) != proto.FailCommand {
		t.Error("commands judged wrongly")
	}
	for _, tc := range []struct {
		name string
		msg  enip.Msg
		want proto.Failure
	}{
		{"common service on a listed class", enip.Msg{Service: 0x0e, Class: 0x01}, proto.Pass},
		{"read tag on the symbol class", enip.Msg{Service: 0x4c, Class: enip.ClassSymbol}, proto.Pass},
		// 0x4c on the template class is read_template, not read_tag.
		{"0x4c on the template class", enip.Msg{Service: 0x4c, Class: 0x6c}, proto.FailService},
		{"0x4d by number: any class", enip.Msg{Service: 0x4d, Class: 0x6d}, proto.Pass},
		{"forward open on the connection manager", enip.Msg{Service: 0x54, Class: enip.ClassConnectionManager}, proto.Pass},
		{"0x54 elsewhere", enip.Msg{Service: 0x54, Class: 0x01}, proto.FailService},
		{"stop", enip.Msg{Service: 0x07, Class: 0x01}, proto.FailService},
		{"class not listed", enip.Msg{Service: 0x0e, Class: 0xf5}, proto.FailClass},
		{"class beyond 16 bits", enip.Msg{Service: 0x0e, Class: 0x10001}, proto.FailClass},
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
	c = condtest.Cond[*enip.Cond](t, "tcp", "44818", "    cip: {services: [read_tag]}\n")
	if c.HasENIP || c.CheckCommand(enip.CmdListIdentity) != proto.Pass {
		t.Error("a cip condition constrained the encapsulation commands")
	}
}

func TestChecksDoNotAllocate(t *testing.T) {
	e := condtest.Cond[*enip.Cond](t, "tcp", "44818", "    enip: {commands: [send_rr_data]}\n    cip: {services: [read_tag], classes: [symbol]}\n")
	msg := &enip.Msg{Service: 0x4c, Class: enip.ClassSymbol}
	if n := testing.AllocsPerRun(1000, func() { _, _ = e.CheckCommand(enip.CmdSendRRData), e.CheckCIP(msg) }); n != 0 {
		t.Errorf("%.1f allocations per round of checks", n)
	}
}
