package modbustest

import (
	"testing"

	"github.com/conduit-ot/conduit/proto/internal/pdu"
	"github.com/conduit-ot/conduit/proto/modbus"
)

// TestBuildersParse checks that the parser accepts what the builders make
// and sees the fields they were given.
func TestBuildersParse(t *testing.T) {
	read := func(tid uint16, unit, fc uint8, addr, qty uint16) modbus.PDU {
		return modbus.PDU{TransactionID: tid, Length: 6, UnitID: unit, Function: fc, ReadAddr: addr, ReadQty: qty, HasRead: true}
	}
	coilsReq, coilsResp := Read(7, 1, 1, 0, 16, 9)
	holdReq, holdResp := Read(8, 2, 3, 100, 10, 0)
	wrReq, wrResp := WriteRegister(9, 3, 40, 0x1234)
	wr := modbus.PDU{TransactionID: 9, Length: 6, UnitID: 3, Function: 6, WriteAddr: 40, WriteQty: 1, HasWrite: true}
	for _, tc := range []struct {
		name string
		b    []byte
		dir  pdu.Dir
		want modbus.PDU
	}{
		{"read coils", coilsReq, pdu.Request, read(7, 1, 1, 0, 16)},
		{"read coils response", coilsResp, pdu.Response, modbus.PDU{TransactionID: 7, Length: 5, UnitID: 1, Function: 1}},
		{"read holding registers", holdReq, pdu.Request, read(8, 2, 3, 100, 10)},
		{"read holding registers response", holdResp, pdu.Response, modbus.PDU{TransactionID: 8, Length: 23, UnitID: 2, Function: 3}},
		{"write single register", wrReq, pdu.Request, wr},
		{"write single register response", wrResp, pdu.Response, wr},
	} {
		var p modbus.PDU
		if n, err := modbus.Parse(tc.b, tc.dir, &p); err != pdu.OK || n != len(tc.b) || p != tc.want {
			t.Errorf("%s: Parse = %d, %q, %+v; want %d, OK, %+v", tc.name, n, err, p, len(tc.b), tc.want)
		}
	}
	if _, resp := Read(1, 1, 3, 0, 2, 0x10); string(resp[9:]) != "\x10\x11\x12\x13" {
		t.Errorf("response registers % x, want 10 11 12 13", resp[9:])
	}
}
