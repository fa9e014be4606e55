package iec104_test

import (
	"slices"
	"testing"

	. "github.com/conduit-ot/conduit/proto/iec104"
)

func TestTypeNames(t *testing.T) {
	// The codes the brief and the standard's tables give, spot-checked
	// against Wireshark's iec104 dissector value strings.
	for _, tc := range []struct {
		name string
		code uint8
	}{
		{"M_SP_NA_1", 1}, {"M_DP_NA_1", 3}, {"M_ME_NA_1", 9}, {"M_ME_NB_1", 11}, {"M_ME_NC_1", 13},
		{"M_SP_TB_1", 30}, {"M_EP_TF_1", 40}, {"C_SC_NA_1", 45}, {"C_DC_NA_1", 46}, {"C_RC_NA_1", 47},
		{"C_SE_NA_1", 48}, {"C_SE_NC_1", 50}, {"C_BO_NA_1", 51}, {"C_SC_TA_1", 58}, {"C_BO_TA_1", 64},
		{"M_EI_NA_1", 70}, {"S_CH_NA_1", 81}, {"S_UF_NA_1", 95}, {"C_IC_NA_1", 100}, {"C_CI_NA_1", 101},
		{"C_RD_NA_1", 102}, {"C_CS_NA_1", 103}, {"C_RP_NA_1", 105}, {"C_TS_TA_1", 107}, {"P_ME_NA_1", 110},
		{"P_AC_NA_1", 113}, {"F_FR_NA_1", 120}, {"F_SG_NA_1", 125}, {"F_SC_NB_1", 127},
	} {
		if got := TypeName(tc.code); got != tc.name {
			t.Errorf("TypeName(%d) = %q, want %q", tc.code, got, tc.name)
		}
		for _, spelled := range []string{tc.name, lower(tc.name)} {
			if code, ok := TypeCode(spelled); !ok || code != tc.code {
				t.Errorf("TypeCode(%q) = %d, %v; want %d", spelled, code, ok, tc.code)
			}
		}
	}
	for _, code := range []uint8{0, 22, 44, 52, 65, 71, 89, 108, 114, 128, 255} {
		if n := TypeName(code); n != "" {
			t.Errorf("TypeName(%d) = %q, want empty: reserved or private", code, n)
		}
	}
	for _, name := range []string{"", "C_SC_NA", "C_SC_NA_2", "45"} {
		if _, ok := TypeCode(name); ok {
			t.Errorf("TypeCode(%q) found", name)
		}
	}
	names := TypeNames()
	if len(names) != 82 || names[0] != "M_SP_NA_1" || names[len(names)-1] != "F_SC_NB_1" {
		t.Errorf("TypeNames: %d names, %q..%q", len(names), names[0], names[len(names)-1])
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func TestCauseNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cause uint8
	}{
		{"per", 1}, {"back", 2}, {"spont", 3}, {"init", 4}, {"req", 5}, {"act", 6}, {"actcon", 7},
		{"deact", 8}, {"deactcon", 9}, {"actterm", 10}, {"retrem", 11}, {"retloc", 12}, {"file", 13},
		{"inrogen", 20}, {"inro1", 21}, {"inro16", 36}, {"reqcogen", 37}, {"reqco1", 38}, {"reqco4", 41},
		{"unknown_type", 44}, {"unknown_cause", 45}, {"unknown_common_address", 46}, {"unknown_ioa", 47},
	} {
		if got := CauseName(tc.cause); got != tc.name {
			t.Errorf("CauseName(%d) = %q, want %q", tc.cause, got, tc.name)
		}
		if c, ok := CauseCode(tc.name); !ok || c != tc.cause {
			t.Errorf("CauseCode(%q) = %d, %v", tc.name, c, ok)
		}
	}
	// Wireshark's spellings, any case.
	for name, cause := range map[string]uint8{"Per/Cyc": 1, "ActCon": 7, "ACTTERM": 10, "UkTypeId": 44,
		"UkCauseTx": 45, "UkComAdrASDU": 46, "UkIOA": 47, "Inrogen": 20} {
		if c, ok := CauseCode(name); !ok || c != cause {
			t.Errorf("CauseCode(%q) = %d, %v; want %d", name, c, ok, cause)
		}
	}
	if CauseName(0x40|CauseAct) != "act" || CauseName(0) != "" || CauseName(17) != "" || CauseName(48) != "" {
		t.Error("cause names: P/N bit not ignored, or a reserved cause named")
	}
	for _, name := range []string{"", "activation", "inro17", "6"} {
		if _, ok := CauseCode(name); ok {
			t.Errorf("CauseCode(%q) found", name)
		}
	}
	if names := CauseNames(); !slices.IsSorted(names) || !slices.Contains(names, "actcon") || len(names) != 42 {
		t.Errorf("CauseNames = %v", names)
	}
}

func TestFormatAndUFunc(t *testing.T) {
	if FormatI.String() != "i" || FormatS.String() != "s" || FormatU.String() != "u" || FormatNone.String() != "" {
		t.Error("format letters")
	}
	want := map[UFunc]string{StartDTAct: "startdt_act", StartDTCon: "startdt_con", StopDTAct: "stopdt_act",
		StopDTCon: "stopdt_con", TestFRAct: "testfr_act", TestFRCon: "testfr_con", 0: "", 0x0c: ""}
	for u, name := range want {
		if u.String() != name {
			t.Errorf("UFunc(%#x) = %q, want %q", uint8(u), u.String(), name)
		}
	}
}

func TestControl(t *testing.T) {
	// The range edges of IEC 60870-5-101 table 8 and a few named types.
	for code, want := range map[uint8]bool{1: false, 44: false, 45: true, 69: true, 70: false, 99: false,
		100: true, 119: true, 127: true, 128: false, 255: false,
		M_ME_NC_1: false, C_CS_NA_1: true, P_AC_NA_1: true, F_SG_NA_1: true} {
		if Control(code) != want {
			t.Errorf("Control(%d) = %v, want %v", code, !want, want)
		}
	}
}
