package modes

import "testing"

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		mode Mode
		deny bool
		want Outcome
	}{
		{ModePassthrough, false, Outcome{Accept: true}},
		{ModePassthrough, true, Outcome{Accept: true}},
		{ModeMonitor, false, Outcome{Accept: true}},
		{ModeMonitor, true, Outcome{Accept: true, WouldDrop: true}},
		{ModeEnforce, false, Outcome{Accept: true}},
		{ModeEnforce, true, Outcome{WouldDrop: true}},
	} {
		if got := Apply(tc.mode, tc.deny); got != tc.want {
			t.Errorf("Apply(%v, deny %v) = %+v, want %+v", tc.mode, tc.deny, got, tc.want)
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
