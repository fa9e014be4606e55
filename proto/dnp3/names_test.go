package dnp3

import (
	"testing"
)

// The policy (this package's condition) takes its names from here, so
// the two cannot drift; rules' TestAppVocabulary writes every name into a
// policy.

func TestNames(t *testing.T) {
	for _, code := range []uint8{34, 128, 132, 255} {
		if n := FunctionName(code); n != "" {
			t.Errorf("FunctionName(%d) = %q, want empty", code, n)
		}
	}
	for _, name := range []string{"", "nope", "Read"} {
		if _, ok := FunctionCode(name); ok {
			t.Errorf("FunctionCode(%q) found", name)
		}
	}
	if IsResponse(FuncAuthenticateErr) || !IsResponse(FuncResponse) || !IsResponse(FuncAuthenticateResp) || IsResponse(132) {
		t.Error("IsResponse")
	}
	for ctrl, want := range map[uint8]string{0xc9: "request_link_status", 0x0b: "link_status", 0x1b: "link_status", 0xc4: "unconfirmed_user_data",
		0x00: "ack", 0x40: "reset_link_states", 0x45: "", 0x02: "", 0x4f: "", 0x0e: "link_not_functioning"} {
		if got := LinkFunctionName(ctrl); got != want {
			t.Errorf("LinkFunctionName(%#x) = %q, want %q", ctrl, got, want)
		}
	}
}
