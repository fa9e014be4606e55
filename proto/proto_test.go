package proto

import "testing"

func TestTable(t *testing.T) {
	tests := []struct {
		l4   uint8
		port uint16
		want ID
	}{
		{TCP, 502, Modbus},
		{UDP, 502, None}, // Modbus/TCP only
		{TCP, 20000, DNP3},
		{UDP, 20000, DNP3},
		{TCP, 44818, ENIP},
		{UDP, 44818, ENIP},
		{TCP, 102, S7},
		{UDP, 102, None},
		{TCP, 80, None},
	}
	for _, tt := range tests {
		if got := ByPort(tt.l4, tt.port); got != tt.want {
			t.Errorf("ByPort(%d, %d) = %v, want %v", tt.l4, tt.port, got, tt.want)
		}
	}
	keys := map[string]ID{"modbus": Modbus, "dnp3": DNP3, "enip": ENIP, "cip": ENIP, "s7": S7, "http": None, "": None}
	for k, want := range keys {
		if got := ByKey(k); got != want {
			t.Errorf("ByKey(%q) = %v, want %v", k, got, want)
		}
	}
	for _, id := range All() {
		if id.String() != Table[id].Key || Table[id].Port == 0 || len(Table[id].Keys) == 0 || len(Table[id].Transports) == 0 {
			t.Errorf("table entry %d incomplete: %+v", id, Table[id])
		}
	}
	if len(All()) != int(Count)-1 {
		t.Errorf("All() has %d protocols, the table %d", len(All()), Count-1)
	}
	if got := ID(200).String(); got != "app(200)" {
		t.Errorf("ID(200).String() = %q", got)
	}
}
