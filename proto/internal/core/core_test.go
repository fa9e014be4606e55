package core

import (
	"fmt"
	"testing"
)

func TestRanges(t *testing.T) {
	merged := MergeRanges([]Range{{10, 20}, {1, 2}, {21, 30}, {3, 3}, {40, 50}, {45, 46}})
	if got := fmt.Sprint(merged); got != "[1-3 10-30 40-50]" {
		t.Errorf("merged %s", got)
	}
	if MergedOrNil(nil) != nil || len(MergeRanges(nil)) != 0 {
		t.Error("no ranges merged into some")
	}
	for _, tc := range []struct {
		lo, n uint16
		want  bool
	}{
		{1, 3, true}, {2, 3, false}, {10, 21, true}, {10, 22, false}, {50, 1, true}, {51, 1, false}, {40, 0, true},
	} {
		if got := Within(merged, tc.lo, tc.n); got != tc.want {
			t.Errorf("Within(%d, %d) = %v", tc.lo, tc.n, got)
		}
	}
	if FormatRanges(nil) != "any" || FormatRanges(merged[:1]) != "1-3" || FormatRanges(merged) != "[1-3, 10-30, 40-50]" {
		t.Errorf("formatted %q %q", FormatRanges(merged[:1]), FormatRanges(merged))
	}
}

func TestTextLine(t *testing.T) {
	if got := TextLine("modbus", "functions", "read_coils,3", "preset", "", "unit_ids", "1"); got != "modbus: functions read_coils,3; unit_ids 1" {
		t.Errorf("line %q", got)
	}
	if got := TextLine("s7", "functions", ""); got != "s7: {}" {
		t.Errorf("empty line %q", got)
	}
}

// malformedJudge records what Malformed reports.
type malformedJudge struct {
	Judge
	ev  Event
	err string
}

func (j *malformedJudge) Malformed(err, _ string, _ uint32) *Event { j.err = err; return &j.ev }

func TestMalformed(t *testing.T) {
	j := &malformedJudge{}
	if e, n, st := Malformed(j, 0, "bad-length", 7); e != &j.ev || n != 0 || st != Lost || j.err != "bad-length" {
		t.Errorf("unframed: %v %d %v %q", e, n, st, j.err)
	}
	if _, n, st := Malformed(j, 12, "bad-pdu", 7); n != 12 || st != OK {
		t.Errorf("framed: %d %v", n, st)
	}
}

func TestSeenList(t *testing.T) {
	s := Seen{Funcs: map[string]map[string]uint64{"s7": {"write_var": 1, "read_var": 3}}}
	if got := fmt.Sprint(s.List("s7"), s.List("dnp3")); got != "[read_var write_var] []" {
		t.Errorf("lists %s", got)
	}
}
