package modbus

import (
	"testing"
)

// The policy (this package's condition) takes its names from here, so
// the two cannot drift; rules' TestAppVocabulary writes every name into a
// policy.

func TestNames(t *testing.T) {
	if FunctionName(0x83) != "read_holding_registers" {
		t.Errorf("exception bit not ignored: %q", FunctionName(0x83))
	}
	for _, code := range []uint8{0, 9, 42, 90, 127} {
		if n := FunctionName(code); n != "" {
			t.Errorf("FunctionName(%d) = %q, want empty", code, n)
		}
	}
	for _, name := range []string{"", "nope", "READ_COILS"} {
		if _, ok := FunctionCode(name); ok {
			t.Errorf("FunctionCode(%q) found", name)
		}
	}
	if ExceptionName(2) != "illegal_data_address" || ExceptionName(11) != "gateway_target_failed_to_respond" ||
		ExceptionName(7) != "" || ExceptionName(200) != "" {
		t.Error("exception names")
	}
}
