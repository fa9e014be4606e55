package rules

import "testing"

func TestPassiveMonitorsWhatEnforces(t *testing.T) {
	p, err := Parse("passive.yaml", []byte(`
mode: enforce
zones:
  a: {level: 2, cidrs: [10.20.0.0/24]}
  b: {level: 1, cidrs: [10.10.0.0/24]}
conduits:
  - {from: a, to: b, mode: passthrough}
  - {from: b, to: a, mode: enforce}
rules:
  - {name: r, from: a, to: b, proto: tcp, dport: 502}
`))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.ZoneByName("a")
	b, _ := p.ZoneByName("b")
	q := p.Passive()
	if !q.IsPassive() || p.IsPassive() || q.Passive() != q {
		t.Fatal("Passive: want a passive copy, the original untouched")
	}
	for _, c := range []struct {
		from, to             ZoneID
		file, passive, named Mode
	}{
		{a, b, ModePassthrough, ModePassthrough, ModePassthrough},
		{b, a, ModeEnforce, ModeMonitor, ModeEnforce},
		{a, a, ModeEnforce, ModeMonitor, ModeEnforce},
	} {
		if m := p.ModeFor(c.from, c.to); m != c.file {
			t.Errorf("%d->%d: file mode %v, want %v", c.from, c.to, m, c.file)
		}
		if m := q.ModeFor(c.from, c.to); m != c.passive {
			t.Errorf("%d->%d: passive mode %v, want %v", c.from, c.to, m, c.passive)
		}
		if m := q.PolicyMode(c.from, c.to); m != c.named {
			t.Errorf("%d->%d: policy mode %v, want %v", c.from, c.to, m, c.named)
		}
	}
	if q.Mode != ModeMonitor || p.Mode != ModeEnforce {
		t.Errorf("global modes %v (passive) %v (file)", q.Mode, p.Mode)
	}
}
