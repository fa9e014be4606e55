package modes

import "github.com/conduit-ot/conduit/rules"

// Outcome is what a mode makes of a policy decision.
type Outcome struct {
	Accept    bool // the packet passes
	WouldDrop bool // enforce would drop it (the policy denies it)
}

// Apply turns the policy's action into a verdict under mode m.
//
//   - passthrough: accept; rules are not evaluated, so nothing would drop.
//   - monitor: accept; report what enforce would have dropped.
//   - enforce: accept exactly what the policy allows.
func Apply(m rules.Mode, a rules.Action) Outcome {
	deny := a == rules.ActionDeny
	switch m {
	case rules.ModePassthrough:
		return Outcome{Accept: true}
	case rules.ModeMonitor:
		return Outcome{Accept: true, WouldDrop: deny}
	default: // enforce, and any mode we do not know: fail towards the policy
		return Outcome{Accept: !deny, WouldDrop: deny}
	}
}

// Evaluates reports whether rules are evaluated in mode m.
func Evaluates(m rules.Mode) bool { return m != rules.ModePassthrough }
