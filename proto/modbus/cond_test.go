package modbus_test

import (
	"testing"

	"github.com/conduit-ot/conduit/proto"
	"github.com/conduit-ot/conduit/proto/internal/condtest"
	"github.com/conduit-ot/conduit/proto/modbus"
)

// The condition as the policy decoder builds it, judging requests.

func TestModbusCondition(t *testing.T) {
	r := condtest.Rule(t, "tcp", "502", `    modbus:
      functions: [read_holding_registers, 16, read_device_identification]
      unit_ids: [1, "10-12"]
      addresses: {read: ["0-99"], write: ["100-119", "200"]}
`)
	c, _ := r.App.Cond.(*modbus.Cond)
	if r.App.Proto != proto.Modbus || c == nil {
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
		want proto.Failure
	}{
		{"read inside", read(3, 1, 0, 100), proto.Pass},
		{"read past the range", read(3, 1, 90, 11), proto.FailReadAddress},
		{"read at the last address", read(3, 11, 99, 1), proto.Pass},
		{"unit out of the list", read(3, 2, 0, 1), proto.FailUnitID},
		{"unit at a range end", read(3, 12, 0, 1), proto.Pass},
		{"function not listed", read(1, 1, 0, 1), proto.FailFunction},
		{"write inside", write(16, 1, 100, 20), proto.Pass},
		{"write spanning two ranges", write(16, 1, 119, 2), proto.FailWriteAddress},
		{"write of the single address", write(16, 1, 200, 1), proto.Pass},
		{"write single register not listed", write(6, 1, 100, 1), proto.FailFunction},
		{"device identification by name: MEI 14", &modbus.PDU{Function: 43, MEIType: 14, UnitID: 1}, proto.Pass},
		{"device identification by name: not CANopen", &modbus.PDU{Function: 43, MEIType: 13, UnitID: 1}, proto.FailFunction},
	} {
		if got := c.Check(tc.pdu); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}

	// 43 by number: any MEI type. Presets add up with functions.
	c = condtest.Cond[*modbus.Cond](t, "tcp", "502", "    modbus: {functions: [43, 8], preset: read_only}\n")
	for fn, want := range map[uint8]proto.Failure{43: proto.Pass, 8: proto.Pass, 3: proto.Pass, 24: proto.Pass, 5: proto.FailFunction, 16: proto.FailFunction, 23: proto.FailFunction} {
		if got := c.Check(&modbus.PDU{Function: fn, MEIType: 13}); got != want {
			t.Errorf("functions [43, 8] + read_only, function %d: %v, want %v", fn, got, want)
		}
	}
	c = condtest.Cond[*modbus.Cond](t, "tcp", "502", "    modbus: {preset: read_write, addresses: [\"0-9\"]}\n")
	for _, tc := range []struct {
		pdu  *modbus.PDU
		want proto.Failure
	}{
		{write(6, 0, 9, 1), proto.Pass}, {write(15, 0, 0, 10), proto.Pass}, {write(15, 0, 5, 10), proto.FailWriteAddress},
		{read(4, 0, 10, 1), proto.FailReadAddress}, {&modbus.PDU{Function: 8}, proto.FailFunction},
		{&modbus.PDU{Function: 43, MEIType: 13}, proto.FailFunction}, {&modbus.PDU{Function: 43, MEIType: 14}, proto.Pass},
	} {
		if got := c.Check(tc.pdu); got != tc.want {
			t.Errorf("read_write, addresses 0-9, %+v: %v, want %v", tc.pdu, got, tc.want)
		}
	}
	// The empty condition asks only for well-formed Modbus.
	c = condtest.Cond[*modbus.Cond](t, "tcp", "502", "    modbus: {}\n")
	if got := c.Check(write(22, 200, 65000, 1)); got != proto.Pass {
		t.Errorf("modbus: {} refused a request: %v", got)
	}
}

func TestChecksDoNotAllocate(t *testing.T) {
	m := condtest.Cond[*modbus.Cond](t, "tcp", "502", "    modbus: {preset: read_only, unit_ids: [1], addresses: {read: [\"0-99\"]}}\n")
	mp := &modbus.PDU{Function: 3, UnitID: 1, HasRead: true, ReadQty: 10}
	if n := testing.AllocsPerRun(1000, func() { _ = m.Check(mp) }); n != 0 {
		t.Errorf("%.1f allocations per check", n)
	}
}
