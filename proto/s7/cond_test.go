package s7_test

import (
	"testing"

	"github.com/conduit-ot/conduit/proto"
	"github.com/conduit-ot/conduit/proto/internal/condtest"
	"github.com/conduit-ot/conduit/proto/s7"
)

// The condition as the policy decoder builds it, judging requests.

func TestS7Condition(t *testing.T) {
	c := condtest.Cond[*s7.Cond](t, "tcp", "102", "    s7: {functions: [setup_communication, read_var, pi_service], userdata_groups: [cpu_functions, 7]}\n")
	for _, tc := range []struct {
		job   bool
		code  uint8
		want  proto.Failure
		about string
	}{
		{true, 0xf0, proto.Pass, "setup"}, {true, 0x04, proto.Pass, "read var"}, {true, 0x28, proto.Pass, "PI service by its alias"},
		{true, 0x05, proto.FailFunction, "write var"}, {true, 0x29, proto.FailFunction, "PLC stop"},
		{false, 4, proto.Pass, "cpu functions"}, {false, 7, proto.Pass, "time functions by number"},
		{false, 1, proto.FailUserdataGroup, "programmer commands"},
	} {
		got := c.CheckUserdata(tc.code)
		if tc.job {
			got = c.CheckJob(tc.code)
		}
		if got != tc.want {
			t.Errorf("%s: %v, want %v", tc.about, got, tc.want)
		}
	}
	// Functions alone refuse userdata; the empty condition refuses nothing.
	c = condtest.Cond[*s7.Cond](t, "tcp", "102", "    s7: {functions: [setup_communication, read_var]}\n")
	if c.CheckUserdata(4) != proto.FailUserdataGroup {
		t.Error("functions without userdata_groups let a userdata request through")
	}
	c = condtest.Cond[*s7.Cond](t, "tcp", "102", "    s7: {}\n")
	if c.CheckJob(0x29) != proto.Pass || c.CheckUserdata(1) != proto.Pass {
		t.Error("s7: {} refused a request")
	}
}

func TestChecksDoNotAllocate(t *testing.T) {
	s := condtest.Cond[*s7.Cond](t, "tcp", "102", "    s7: {functions: [read_var], userdata_groups: [cpu_functions]}\n")
	if n := testing.AllocsPerRun(1000, func() { _, _ = s.CheckJob(4), s.CheckUserdata(4) }); n != 0 {
		t.Errorf("%.1f allocations per round of checks", n)
	}
}
