package modes

// Outcome is what a mode makes of a policy decision.
type Outcome struct {
	Accept    bool // the packet passes
	WouldDrop bool // enforce would drop it (the policy denies it)
}

// Apply turns the policy's decision (deny or not) into a verdict under
// mode m.
//
//   - passthrough: accept; rules are not evaluated, so nothing would drop.
//   - monitor: accept; report what enforce would have dropped.
//   - enforce: accept exactly what the policy allows.
func Apply(m Mode, deny bool) Outcome {
	switch m {
	case ModePassthrough:
		return Outcome{Accept: true}
	case ModeMonitor:
		return Outcome{Accept: true, WouldDrop: deny}
	default: // enforce, and any mode we do not know: fail towards the policy
		return Outcome{Accept: !deny, WouldDrop: deny}
	}
}

// Evaluates reports whether rules are evaluated in mode m.
func Evaluates(m Mode) bool { return m != ModePassthrough }
