package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestArgs(t *testing.T) {
	tests := []struct {
		args []string
		code int
		err  string
	}{
		{nil, 2, "usage"},
		{[]string{"bogus"}, 2, "unknown command"},
		{[]string{"up"}, 2, "-prefix is required"},
		{[]string{"down"}, 2, "-prefix is required"},
		{[]string{"cleanup"}, 2, "-pattern is required"},
		{[]string{"up", "-prefix"}, 2, "flag needs an argument"},
		{[]string{"env", "-prefix", "x", "extra"}, 2, "unexpected arguments"},
		{[]string{"cleanup", "-pattern", "["}, 1, "bad pattern"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if code := run(tt.args, &out, &errb); code != tt.code || !strings.Contains(errb.String(), tt.err) {
			t.Errorf("run(%q) = %d, stderr %q; want %d containing %q", tt.args, code, errb.String(), tt.code, tt.err)
		}
	}
}

func TestEnv(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"env", "-prefix", "bn1"}, &out, &errb); code != 0 {
		t.Fatalf("env: exit %d: %s", code, errb.String())
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.ContainsAny(v, " \t'\"$") {
			t.Fatalf("line %q is not a plain KEY=value", line)
		}
		got[k] = v
	}
	want := map[string]string{
		"PREFIX": "bn1", "FW": "bn1fw", "BRIDGE": "br0",
		"SUP": "bn1sup", "CTL": "bn1ctl", "OPS": "bn1ops", "ENT": "bn1ent",
		"SUP_IP": "10.20.0.10", "CTL_IP": "10.10.0.10", "OPS_IP": "10.30.0.10", "ENT_IP": "10.40.0.10",
		"CTL_IP6": "fd00:10::10", "EWS_IP": "10.30.0.11",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}
