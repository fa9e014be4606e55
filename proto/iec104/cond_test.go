package iec104_test

import (
	"encoding/json"
	"strings"
	"testing"

	. "github.com/conduit-ot/conduit/proto/iec104"
	"github.com/conduit-ot/conduit/proto/iec104/iec104test"
	"github.com/conduit-ot/conduit/proto/internal/condtest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// condOf decodes cond (a line "iec104: ...") on tcp/2404 through the
// policy decoder.
func condOf(t *testing.T, cond string) *Cond {
	t.Helper()
	return condtest.Cond[*Cond](t, "tcp", "2404", "    "+cond+"\n")
}

func TestCondDecode(t *testing.T) {
	for _, tc := range []struct {
		cond, str, text, json string
	}{
		{"iec104: {}", "iec104: {}", "iec104: {}", "{}"},
		{"iec104: {type_ids: [C_IC_NA_1, c_cs_na_1, 100, 0x2e]}",
			"iec104: {type_ids: [C_IC_NA_1, C_CS_NA_1, C_IC_NA_1, C_DC_NA_1]}",
			"iec104: type_ids C_IC_NA_1,C_CS_NA_1,C_IC_NA_1,C_DC_NA_1",
			`{"type_ids":["C_IC_NA_1","C_CS_NA_1","C_IC_NA_1","C_DC_NA_1"]}`},
		{"iec104: {type_ids: C_SC_NA_1, causes: [act, Deact, 6], common_addresses: [1, 10-20]}",
			"iec104: {type_ids: C_SC_NA_1, causes: [act, deact, act], common_addresses: [1, 10-20]}",
			"iec104: type_ids C_SC_NA_1; causes act,deact,act; common_addresses 1,10-20",
			`{"type_ids":["C_SC_NA_1"],"causes":["act","deact","act"],"common_addresses":["1","10-20"]}`},
		{"iec104: {type_ids: [200], causes: [ActCon, 50], common_addresses: 65535}",
			"iec104: {type_ids: 200, causes: [actcon, 50], common_addresses: 65535}",
			"iec104: type_ids 200; causes actcon,50; common_addresses 65535",
			`{"type_ids":["200"],"causes":["actcon","50"],"common_addresses":["65535"]}`},
	} {
		c := condOf(t, tc.cond)
		if got := c.String(); got != tc.str {
			t.Errorf("%s: String %q, want %q", tc.cond, got, tc.str)
		}
		d := c.Describe()
		j, _ := json.Marshal(d[0].JSON)
		if len(d) != 1 || d[0].Key != "iec104" || d[0].Text != tc.text || string(j) != tc.json {
			t.Errorf("%s: Describe %+v %s, want %q %s", tc.cond, d, j, tc.text, tc.json)
		}
		// What String writes decodes to the same condition.
		if again := condOf(t, c.String()); again.String() != c.String() {
			t.Errorf("%s: %q decodes to %q", tc.cond, c.String(), again.String())
		}
	}
}

func TestCondErrors(t *testing.T) {
	for _, tc := range []struct{ cond, want string }{
		{"iec104: {type_ids: [C_SC_NA_2]}", `t.yaml:11:25: rule r: iec104.type_ids: unknown iec104 type id "C_SC_NA_2" (did you mean "C_SC_NA_1"?); valid names: M_SP_NA_1, M_SP_TA_1,`},
		{"iec104: {type_ids: [C_SC_NA_2]}", `(or a number 1-255)`},
		{"iec104: {type_ids: [0]}", `t.yaml:11:25: rule r: iec104.type_ids: 0 is out of range 1-255`},
		{"iec104: {type_ids: [256]}", `iec104.type_ids: 256 is out of range 1-255`},
		{"iec104: {causes: [activation]}", `iec104.causes: unknown iec104 cause "activation"`},
		{"iec104: {causes: [64]}", `t.yaml:11:23: rule r: iec104.causes: 64 is out of range 1-63`},
		{"iec104: {common_addresses: [70000]}", `iec104.common_addresses`},
		{"iec104: {types: [C_IC_NA_1]}", `t.yaml:11:14: rule r: unknown key "types" (expected one of: type_ids, causes, common_addresses)`},
		{"iec104: [C_IC_NA_1]", `iec104`},
	} {
		_, err := condtest.Parse("tcp", "2404", "    "+tc.cond+"\n")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q in it", tc.cond, err, tc.want)
		}
	}
	// On a transport IEC 104 does not run on.
	if _, err := condtest.Parse("udp", "2404", "    iec104: {}\n"); err == nil || !strings.Contains(err.Error(), "iec104") {
		t.Errorf("iec104 on udp: %v", err)
	}
}

func TestCondCheck(t *testing.T) {
	// A SCADA master may interrogate and synchronise clocks, of stations
	// 1-9, but not command.
	c := condOf(t, "iec104: {type_ids: [C_IC_NA_1, C_CS_NA_1], causes: [act, deact], common_addresses: [1-9]}")
	for _, tc := range []struct {
		name string
		b    []byte
		want string // the failure's name, "" for pass
	}{
		{"startdt", iec104test.U(StartDTAct), ""},
		{"testfr con", iec104test.U(TestFRCon), ""},
		{"s frame", iec104test.S(4), ""},
		{"interrogation", iec104test.Command(0, 0, C_IC_NA_1, CauseAct, 3, 0), ""},
		{"clock sync", iec104test.Command(1, 0, C_CS_NA_1, CauseAct, 9, 0), ""},
		{"interrogation deactivated", iec104test.Command(1, 0, C_IC_NA_1, CauseDeact, 1, 0), ""},
		{"single command", iec104test.Command(2, 0, C_SC_NA_1, CauseAct, 3, 4500), "type_ids"},
		{"double command", iec104test.Command(2, 0, C_DC_NA_1, CauseAct, 3, 4500), "type_ids"},
		{"interrogation as spont", iec104test.Command(3, 0, C_IC_NA_1, CauseSpont, 3, 0), "causes"},
		{"other station", iec104test.Command(3, 0, C_IC_NA_1, CauseAct, 10, 0), "common_addresses"},
		{"broadcast", iec104test.Command(3, 0, C_IC_NA_1, CauseAct, 0xffff, 0), "common_addresses"},
	} {
		var a APDU
		if _, err := Parse(tc.b, &a); err != pdu.OK {
			t.Fatalf("%s: %q", tc.name, err)
		}
		got := c.Check(&a).String()
		if got != tc.want {
			t.Errorf("%s: Check = %q, want %q", tc.name, got, tc.want)
		}
	}
	// The empty condition passes every well-formed APDU.
	all := condOf(t, "iec104: {}")
	var a APDU
	Parse(iec104test.Command(0, 0, C_SC_NA_1, CauseAct, 1, 1), &a)
	if f := all.Check(&a); f.String() != "" {
		t.Errorf("iec104: {} refuses a single command: %s", f)
	}
}

func TestCondLint(t *testing.T) {
	if w := condOf(t, "iec104: {type_ids: [C_IC_NA_1, C_SC_NA_1]}").Lint(); len(w) != 0 {
		t.Errorf("commands linted: %v", w)
	}
	w := condOf(t, "iec104: {type_ids: [C_IC_NA_1, M_ME_NC_1, M_EI_NA_1]}").Lint()
	if len(w) != 1 || !strings.Contains(w[0], "M_ME_NC_1,M_EI_NA_1") {
		t.Errorf("monitor-direction types: %v", w)
	}
}
