package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/conduit-ot/conduit/engine/tap"
	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/rules"
)

func TestObserveUsage(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "c.sock")
	pol := tempFile(t, "p.yaml", "mode: enforce\nlog: {file: \"-\"}\ncontrol: {socket: \""+sock+"\"}\n"+
		"zones:\n  a: {level: 2, cidrs: [10.20.0.0/24]}\nrules:\n  - {name: r, from: a, to: a}\n")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-c", pol}, 2, "usage: conduit observe"},
		{[]string{"-c", pol, "-i", "eth1", "extra"}, 2, "usage: conduit observe"},
		{[]string{"-c", pol, "-i", "eth1", "--workers", "0"}, 2, "--workers"},
		{[]string{"-c", filepath.Join(t.TempDir(), "missing.yaml"), "-i", "eth1"}, 1, "missing.yaml"},
	} {
		var out, errb bytes.Buffer
		if code := runObserve(c.args, &out, &errb); code != c.code || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errb.String(), c.code, c.want)
		}
	}
	if os.Geteuid() == 0 {
		// An interface that does not exist: the sensor says which.
		var out, errb bytes.Buffer
		code := runObserve([]string{"-c", pol, "-i", "nosuchif0", "--state", "", "--matrix-state", ""}, &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), `"nosuchif0"`) {
			t.Errorf("missing interface: exit %d, stderr %q", code, errb.String())
		}
	}
}

func TestStringList(t *testing.T) {
	var l stringList
	l.Set("eth1, eth2")
	l.Set("eth3")
	l.Set(",")
	if got := l.String(); got != "eth1,eth2,eth3" {
		t.Errorf("%q", got)
	}
}

// TestObserveReloadStaysPassive: a reload of the sensor's policy file is
// judged passively too.
func TestObserveReloadStaysPassive(t *testing.T) {
	pol := tempFile(t, "p.yaml", "mode: enforce\nzones:\n  a: {level: 2, cidrs: [10.20.0.0/24]}\nrules:\n  - {name: r, from: a, to: a}\n")
	p, err := rules.Load(pol)
	if err != nil {
		t.Fatal(err)
	}
	o := &ops{passive: true, store: inforce.NewStore(p.Passive())}
	q, err := o.loadPolicy(pol)
	if err != nil || !q.IsPassive() || q.Mode != rules.ModeMonitor || q.PolicyMode(0, 0) != rules.ModeEnforce {
		t.Errorf("reloaded: %v, passive %v, mode %v", err, q != nil && q.IsPassive(), q.Mode)
	}
	o = &ops{store: inforce.NewStore(p)}
	if q, _ := o.loadPolicy(pol); q.IsPassive() || q.Mode != rules.ModeEnforce {
		t.Errorf("conduit run's reload made passive")
	}
}

func TestRingCollector(t *testing.T) {
	c := ringCollector{
		stats: func() []tap.IfaceStats {
			return []tap.IfaceStats{{Name: "eth1", Packets: 10, Drops: 2}, {Name: "eth2", Packets: 5}}
		},
		frames: func() tap.Counters { return tap.Counters{Frames: 13, IP: 12, NonIP: 1} },
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "," + l.GetValue()
			}
			got[key] = m.GetCounter().GetValue()
		}
	}
	want := map[string]float64{
		"conduit_observe_ring_packets_total,eth1": 10, "conduit_observe_ring_packets_total,eth2": 5,
		"conduit_observe_ring_drops_total,eth1": 2, "conduit_observe_ring_drops_total,eth2": 0,
		"conduit_observe_frames_total,ip": 12, "conduit_observe_frames_total,non_ip": 1,
	}
	if len(got) != len(want) {
		t.Errorf("metrics %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
