package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/internal/e2e"
)

func TestArgs(t *testing.T) {
	want := e2e.Usage(t, run)
	want(2, "usage")
	want(2, "unknown command", "bogus")
	want(2, "-prefix is required", "up")
	want(2, "-prefix is required", "down")
	want(2, "-pattern is required", "cleanup")
	want(2, "flag needs an argument", "up", "-prefix")
	want(2, "unexpected arguments", "env", "-prefix", "x", "extra")
	want(1, "bad pattern", "cleanup", "-pattern", "[")
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
