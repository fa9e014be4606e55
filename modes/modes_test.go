package modes

import "testing"

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		mode            Mode
		deny            bool
		accept, wouldDr bool
	}{
		{ModePassthrough, false, true, false},
		{ModePassthrough, true, true, false},
		{ModeMonitor, false, true, false},
		{ModeMonitor, true, true, true},
		{ModeEnforce, false, true, false},
		{ModeEnforce, true, false, true},
	} {
		got := Apply(tc.mode, tc.deny)
		if got.Accept != tc.accept || got.WouldDrop != tc.wouldDr {
			t.Errorf("Apply(%v, deny %v) = %+v, want accept %v wouldDrop %v", tc.mode, tc.deny, got, tc.accept, tc.wouldDr)
		}
	}
	if Evaluates(ModePassthrough) || !Evaluates(ModeMonitor) || !Evaluates(ModeEnforce) {
		t.Error("only passthrough skips rule evaluation")
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{ModePassthrough, ModeMonitor, ModeEnforce} {
		if got, ok := ParseMode(m.String()); !ok || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, ok)
		}
	}
	if _, ok := ParseMode("learn"); ok {
		t.Error("ParseMode accepted an unknown word")
	}
	if got := Mode(7).String(); got != "mode(7)" {
		t.Errorf("Mode(7).String() = %q", got)
	}
}
