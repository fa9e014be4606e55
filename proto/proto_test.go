package proto

import (
	"strings"
	"testing"
)

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

// Every protocol of the table is implemented, owns the kinds it lists and
// names its requests; kinds and failures keep their saved numbers.
func TestTableImplementations(t *testing.T) {
	for _, id := range All() {
		info := &Table[id]
		if info.Protocol == nil || len(info.Kinds) == 0 {
			t.Errorf("%v: no implementation or no request kinds", id)
			continue
		}
		if info.NewInspector() == nil {
			t.Errorf("%v: no inspector", id)
		}
		for _, k := range info.Kinds {
			owner, ki := KindOf(k.Kind)
			if owner != id || ki.Name != k.Name || k.Kind.String() != k.Name {
				t.Errorf("kind %d: owner %v %q, want %v %q", k.Kind, owner, ki.Name, id, k.Name)
			}
		}
		voc := info.Vocabulary()
		for key := range voc {
			if k, _, _ := strings.Cut(key, "."); ByKey(k) != id {
				t.Errorf("%v: vocabulary key %q is not one of its condition keys", id, key)
			}
		}
	}
	// Saved in the state file (coverage): never renumbered.
	for name, want := range map[string]Kind{"modbus": 1, "dnp3": 2, "enip": 3, "cip": 4, "s7": 5, "s7-userdata": 6} {
		found := false
		for k := range 256 {
			if _, ki := KindOf(Kind(k)); ki.Name == name {
				found = Kind(k) == want
			}
		}
		if !found {
			t.Errorf("kind %q is not %d", name, want)
		}
	}
	if Unparsed.String() != "unparsed" || Kind(200).String() != "kind(200)" {
		t.Errorf("kind names %q %q", Unparsed.String(), Kind(200).String())
	}
	if id, _ := KindOf(Unparsed); id != None || RequestName(&Judged{Kind: Unparsed}) != "" {
		t.Error("Unparsed has an owner or a name")
	}
	for f, want := range map[Failure]string{Pass: "", FailFunction: "functions", FailIncomplete: "incomplete", 99: "failure(99)"} {
		if f.String() != want {
			t.Errorf("failure %d = %q, want %q", f, f.String(), want)
		}
	}
}

// RequestName gives the vocabulary's word, or the number where it has none.
func TestRequestName(t *testing.T) {
	kind := func(name string) Kind {
		for k := range 256 {
			if _, ki := KindOf(Kind(k)); ki.Name == name {
				return Kind(k)
			}
		}
		t.Fatalf("no kind %q", name)
		return 0
	}
	for _, tc := range []struct {
		r    Judged
		want string
	}{
		{Judged{Kind: kind("modbus"), Code: 3}, "read_holding_registers"},
		{Judged{Kind: kind("modbus"), Code: 43, MEI: 14}, "read_device_identification"},
		{Judged{Kind: kind("modbus"), Code: 43, MEI: 13}, "43"},
		{Judged{Kind: kind("modbus"), Code: 100}, "100"},
		{Judged{Kind: kind("dnp3"), Code: 1}, "read"},
		{Judged{Kind: kind("enip"), Code: 0x65}, "register_session"},
		{Judged{Kind: kind("cip"), Code: 0x4c, Class: 0x6b}, "read_tag"},
		{Judged{Kind: kind("s7"), Code: 4}, "read_var"},
		{Judged{Kind: kind("s7-userdata"), Code: 4}, "cpu_functions"},
	} {
		if got := RequestName(&tc.r); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.r, got, tc.want)
		}
	}
}
