package rules

// Passive returns a copy of p for a sensor that sees copies of the traffic
// (conduit observe): whatever p enforces, the copy monitors, because the
// sensor's verdicts reach nothing and the real network carries every packet
// on. Judging the copies as enforce would track the flows enforce drops
// as if they had stopped; monitoring them keeps the matrix true to the
// wire, and the verdict lines still say what enforce would drop ("would").
// PolicyMode tells the mode the file sets.
func (p *Policy) Passive() *Policy {
	if p.passive != nil {
		return p
	}
	cp := *p
	cp.passive = p
	if cp.Mode == ModeEnforce {
		cp.Mode = ModeMonitor
	}
	cp.modes = make(map[uint32]Mode, len(p.modes))
	for k, m := range p.modes {
		if m == ModeEnforce {
			m = ModeMonitor
		}
		cp.modes[k] = m
	}
	return &cp
}

// IsPassive reports a copy made by Passive.
func (p *Policy) IsPassive() bool { return p.passive != nil }

// PolicyMode is the mode the policy file gives the zone pair from→to: the
// same as ModeFor, except on a Passive copy, where it is the file's
// (enforce where the copy monitors).
func (p *Policy) PolicyMode(from, to ZoneID) Mode {
	if p.passive != nil {
		return p.passive.ModeFor(from, to)
	}
	return p.ModeFor(from, to)
}
