package modes

import "strconv"

// Mode is how decisions are applied: see Apply.
type Mode uint8

const (
	ModePassthrough Mode = iota
	ModeMonitor
	ModeEnforce
)

var modeNames = [...]string{"passthrough", "monitor", "enforce"}

// String returns the word used in the policy file.
func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// ParseMode parses a policy-file mode word.
func ParseMode(s string) (Mode, bool) {
	for i, n := range modeNames {
		if s == n {
			return Mode(i), true
		}
	}
	return 0, false
}
