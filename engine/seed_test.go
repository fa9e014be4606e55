package engine

import (
	"net/netip"
	"testing"

	"github.com/conduit-ot/conduit/engine/ctnl"
)

// TestSeed: the kernel's established sessions are tracked before their
// next packet, in the orientation a rule allows, so with pickup off they
// keep running across a restart; a session enforce denies, or one not yet
// established, is left to its next packet.
func TestSeed(t *testing.T) {
	te := newTestEngine(t, pol{mode: "enforce", pickup: "false"})
	a := netip.MustParseAddr
	res := te.Seed([]ctnl.Entry{
		{Proto: 6, Src: a(hmi), Dst: a(plc), SrcPort: 40000, DstPort: 502, Established: true},
		// The kernel saw this one first from the PLC (mid-stream): reversed.
		{Proto: 6, Src: a(plc), Dst: a(hmi), SrcPort: 502, DstPort: 40001, Established: true},
		{Proto: 6, Src: a(hist), Dst: a(plc), SrcPort: 40002, DstPort: 503, Established: true},
		{Proto: 6, Src: a(hmi), Dst: a(plc), SrcPort: 40003, DstPort: 502, Established: false},
		{Proto: 17, Src: a(plc), Dst: a(hist), SrcPort: 5000, DstPort: 123, Established: true},
	})
	if res != (SeedResult{Seeded: 3, Denied: 1, Skipped: 1}) {
		t.Errorf("Seed = %+v", res)
	}
	evs := te.verdicts()
	if len(evs) != 3 {
		t.Fatalf("%d verdict lines, want 3: %+v", len(evs), evs)
	}
	for _, ev := range evs {
		if ev.reason != ReasonSeeded || !ev.accept {
			t.Errorf("line %+v", ev)
		}
	}
	if ev := evs[1]; ev.src.String() != hmi || ev.dport != 502 || ruleName(ev.pol, ev.rule) != "hmi-polls-plcs" {
		t.Errorf("reversed session logged as %s:%d -> %s:%d rule %s", ev.src, ev.sport, ev.dst, ev.dport, ruleName(ev.pol, ev.rule))
	}
	w := te.Worker(0)
	for _, c := range []struct {
		pkt  []byte
		want bool
	}{
		{tcp(hmi, plc, 40000, 502, fACK|fPSH), true},
		{tcp(plc, hmi, 502, 40000, fACK), true},
		{tcp(hmi, plc, 40001, 502, fACK|fPSH), true},
		{tcp(hist, plc, 40002, 503, fACK), false}, // denied: no-flow with pickup off
		{tcp(hmi, plc, 40003, 502, fACK), false},  // not established when seeded: no-flow
		{tpkt{src: plc, dst: hist, proto: 17, sport: 5000, dport: 123}.bytes(), true},
	} {
		if got := w.Decide(c.pkt); got != c.want {
			t.Errorf("packet %x…: accept %v, want %v", c.pkt[12:20], got, c.want)
		}
	}
	if n := len(te.verdicts()); n != 2 {
		t.Errorf("%d verdict lines after seeding, want 2 (the no-flow drops)", n)
	}
}
