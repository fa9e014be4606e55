package dnp3_test

import (
	"testing"

	"github.com/conduit-ot/conduit/proto"
	"github.com/conduit-ot/conduit/proto/dnp3"
	"github.com/conduit-ot/conduit/proto/internal/condtest"
)

// The condition as the policy decoder builds it, judging requests.

func TestDNP3Condition(t *testing.T) {
	r := condtest.Rule(t, "tcp", "20000", `    dnp3: {functions: [read, direct_operate], sources: [1], destinations: ["10-11"], objects: ["12:1", "60"]}
`)
	c, _ := r.App.Cond.(*dnp3.Cond)
	frame := func(src, dst uint16) *dnp3.Frame { return &dnp3.Frame{Source: src, Destination: dst} }
	if c.CheckLink(frame(1, 10)) != proto.Pass || c.CheckLink(frame(2, 10)) != proto.FailSource || c.CheckLink(frame(1, 12)) != proto.FailDestination {
		t.Error("link addresses judged wrongly")
	}
	app := func(fn uint8, complete bool, objs ...[2]uint8) *dnp3.App {
		a := &dnp3.App{Function: fn, ObjectsComplete: complete, NumObjects: len(objs)}
		for i, o := range objs {
			a.Objects[i] = dnp3.ObjectHeader{Group: o[0], Variation: o[1]}
		}
		return a
	}
	for _, tc := range []struct {
		name string
		app  *dnp3.App
		want proto.Failure
		bad  int
	}{
		{"class poll", app(1, true, [2]uint8{60, 2}, [2]uint8{60, 3}), proto.Pass, -1},
		{"CROB", app(5, true, [2]uint8{12, 1}), proto.Pass, -1},
		{"analog output not listed", app(5, true, [2]uint8{12, 1}, [2]uint8{41, 2}), proto.FailObject, 1},
		{"variation not listed", app(5, true, [2]uint8{12, 2}), proto.FailObject, 0},
		{"cold restart", app(13, true), proto.FailFunction, -1},
		{"objects not all decoded", app(1, false, [2]uint8{60, 1}), proto.FailIncomplete, -1},
	} {
		if got, bad := c.CheckApp(tc.app); got != tc.want || bad != tc.bad {
			t.Errorf("%s: %v at %d, want %v at %d", tc.name, got, bad, tc.want, tc.bad)
		}
	}
	// Without objects, an incomplete object list does not matter.
	c = condtest.Cond[*dnp3.Cond](t, "udp", "20000", "    dnp3: {functions: [read]}\n")
	if got, _ := c.CheckApp(app(1, false)); got != proto.Pass {
		t.Errorf("functions only, incomplete objects: %v", got)
	}
}

func TestChecksDoNotAllocate(t *testing.T) {
	d := condtest.Cond[*dnp3.Cond](t, "tcp", "20000", "    dnp3: {functions: [read], sources: [1], objects: [\"60\", \"12:1\"]}\n")
	fr := &dnp3.Frame{Source: 1, Destination: 10}
	ap := &dnp3.App{Function: 1, ObjectsComplete: true, NumObjects: 2}
	ap.Objects[0] = dnp3.ObjectHeader{Group: 60, Variation: 2}
	ap.Objects[1] = dnp3.ObjectHeader{Group: 12, Variation: 1}
	if n := testing.AllocsPerRun(1000, func() { _ = d.CheckLink(fr); _, _ = d.CheckApp(ap) }); n != 0 {
		t.Errorf("%.1f allocations per round of checks", n)
	}
}
