package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/rules"
)

const readyPolicy = `mode: monitor
queue: {num: 30, count: 1}
` + opsZones + `rules:
  - {name: hmi-polls-plc, from: supervisory, to: control, proto: tcp, dport: 502, modbus: {preset: read_only}}
  - {name: ntp, from: control, to: supervisory, proto: udp, dport: 123, idle_timeout: 900ms}
  - {name: cleanup-sup-ctl, from: supervisory, to: control, action: deny, cleanup: true}
  - {name: cleanup-ctl-sup, from: control, to: supervisory, action: deny, cleanup: true}
  - {name: cleanup, from: any, to: any, action: deny, cleanup: true}
default: deny
`

type readyRun struct {
	code int
	rep  readyReport
	text string
}

func (r *opsRig) ready(t *testing.T, args ...string) readyRun {
	t.Helper()
	out, errOut, code := r.run(t, runReady, append(args, "--json")...)
	var rr readyRun
	rr.code = code
	if err := json.Unmarshal([]byte(out), &rr.rep); err != nil {
		t.Fatalf("ready --json: %v: %q %q", err, out, errOut)
	}
	rr.text, _, _ = r.run(t, runReady, args...)
	return rr
}

// failing lists the criteria that failed.
func (rr readyRun) failing() string {
	var f []string
	for _, c := range rr.rep.Criteria {
		if !c.Pass {
			f = append(f, c.Name)
		}
	}
	return strings.Join(f, ",")
}

// TestReadyCriteria: each criterion failing alone, then all passing; the
// scoped cleanup rules give each conduit its own quiet-for.
func TestReadyCriteria(t *testing.T) {
	// The window: long enough that the checks right after a flow run
	// inside it under load, short enough for a test.
	const quiet, past = "2s", 2200 * time.Millisecond
	const sc = "supervisory->control"
	poll := func(r *opsRig, port uint16) {
		r.o.eng.Worker(0).Decide(opsPacket(6, "10.20.0.11", "10.10.0.10", port, 502, 100, 0, 0x02, nil))
	}

	t.Run("cannot tell", func(t *testing.T) {
		r := newOpsRigWith(t, readyPolicy)
		if rr := r.ready(t, "--quiet", quiet); rr.code != 2 || rr.rep.Verdict != "cannot tell" {
			t.Errorf("no data: %+v", rr)
		}
		var o, e strings.Builder
		if code := runReady([]string{"--socket", filepath.Join(t.TempDir(), "none.sock")}, &o, &e); code != 2 {
			t.Errorf("no daemon: exit %d %s", code, e.String())
		}
		if _, errOut, code := r.run(t, runReady, "--conduit", "supervisory->contrl"); code != 2 || !strings.Contains(errOut, `no zone "contrl"`) {
			t.Errorf("unknown zone: %d %q", code, errOut)
		}
	})

	t.Run("observed fails alone", func(t *testing.T) {
		r := newOpsRigWith(t, readyPolicy)
		poll(r, 40000)
		if rr := r.ready(t, "--conduit", sc, "--quiet", "1h"); rr.code != 1 || rr.failing() != "observed" {
			t.Errorf("%+v\n%s", rr.rep, rr.text)
		}
	})

	t.Run("cleanup fails alone, per conduit", func(t *testing.T) {
		r := newOpsRigWith(t, readyPolicy)
		poll(r, 40000)
		r.o.eng.Worker(0).Decide(opsPacket(17, "10.10.0.10", "10.20.0.10", 123, 123, 0, 0, 0, []byte("ntp")))
		time.Sleep(past)
		if rr := r.ready(t, "--conduit", sc, "--quiet", quiet); rr.code != 0 || !rr.rep.Ready || rr.failing() != "" {
			t.Fatalf("all should pass: %+v\n%s", rr.rep, rr.text)
		}
		// An unknown flow on supervisory -> control: its cleanup rule is
		// no longer quiet; control -> supervisory's still is.
		r.o.eng.Worker(0).Decide(opsPacket(6, "10.20.0.11", "10.10.0.10", 40001, 503, 100, 0, 0x02, nil))
		rr := r.ready(t, "--conduit", sc, "--quiet", quiet)
		if rr.code != 1 || rr.failing() != "cleanup_quiet" || !strings.Contains(rr.rep.Criteria[0].Figure, "cleanup-sup-ctl") {
			t.Errorf("%+v\n%s", rr.rep, rr.text)
		}
		if !strings.Contains(rr.text, "conduit supervisory -> control: not ready for enforce") || !strings.Contains(rr.text, "FAIL  cleanup_quiet") {
			t.Errorf("text:\n%s", rr.text)
		}
		if rr := r.ready(t, "--conduit", "control->supervisory", "--quiet", quiet); rr.code != 0 {
			t.Errorf("control -> supervisory: %+v\n%s", rr.rep, rr.text)
		}
		if rr := r.ready(t, "--quiet", quiet); rr.code != 1 || rr.failing() != "cleanup_quiet" {
			t.Errorf("the box: %+v", rr.rep)
		}
	})

	t.Run("would-drop fails alone", func(t *testing.T) {
		r := newOpsRigWith(t, readyPolicy)
		poll(r, 40000)
		time.Sleep(past)
		w := r.o.eng.Worker(0)
		write := []byte{0, 1, 0, 0, 0, 6, 1, 6, 0, 1, 0, 3} // write_single_register
		w.Decide(opsPacket(6, "10.20.0.12", "10.10.0.11", 41000, 502, 1000, 0, 0x02, nil))
		w.Decide(opsPacket(6, "10.10.0.11", "10.20.0.12", 502, 41000, 5000, 1001, 0x12, nil))
		w.Decide(opsPacket(6, "10.20.0.12", "10.10.0.11", 41000, 502, 1001, 5001, 0x10, nil))
		w.Decide(opsPacket(6, "10.20.0.12", "10.10.0.11", 41000, 502, 1001, 5001, 0x18, write))
		rr := r.ready(t, "--conduit", sc, "--quiet", quiet)
		if rr.code != 1 || rr.failing() != "no_would_drops" || !strings.Contains(rr.rep.Criteria[1].Figure, "hmi-polls-plc") {
			t.Errorf("%+v\n%s", rr.rep, rr.text)
		}
	})

	t.Run("timeouts fail alone", func(t *testing.T) {
		r := newOpsRigWith(t, readyPolicy)
		w := r.o.eng.Worker(0)
		ntp := opsPacket(17, "10.10.0.10", "10.20.0.10", 123, 123, 0, 0, 0, []byte("ntp"))
		w.Decide(ntp)
		time.Sleep(350 * time.Millisecond) // a third of the 900ms idle_timeout and more
		w.Decide(ntp)
		// A window the 350ms of observation fill.
		rr := r.ready(t, "--conduit", "control->supervisory", "--quiet", "300ms")
		if rr.code != 1 || rr.failing() != "timeouts" || !strings.Contains(rr.rep.Criteria[2].Figure, "ntp: udp 10.10.0.10:123 -> 10.20.0.10:123") {
			t.Errorf("%+v\n%s", rr.rep, rr.text)
		}
	})
}

// TestReadyOffline: the same criteria over captures, with learn's timeout
// advice: the plant's two too-short timeouts keep supervisory -> control
// from being ready, while engineering -> operations is.
func TestReadyOffline(t *testing.T) {
	pol, pcap := filepath.Join(evidence, "plant.yaml"), filepath.Join(evidence, "plant.pcap")
	code, out, _ := evRun(t, runReady, "-c", pol, pcap, "--quiet", "1h", "--conduit", "supervisory->control", "--json")
	var rep readyReport
	json.Unmarshal([]byte(out), &rep)
	if code != 1 || len(rep.Criteria) != 4 || rep.Criteria[2].Pass || !strings.Contains(rep.Criteria[2].Figure, "hmi-polls-modbus: tcp 10.20.0.14:") {
		t.Errorf("supervisory -> control: %d %+v", code, rep)
	}
	if code, out, _ := evRun(t, runReady, "-c", pol, pcap, "--quiet", "1h", "--conduit", "engineering->operations"); code != 0 || !strings.Contains(out, "ready for enforce") {
		t.Errorf("engineering -> operations: %d\n%s", code, out)
	}
	if code, _, _ := evRun(t, runReady, "-c", pol, pcap, "--quiet", "4h", "--conduit", "engineering->operations"); code != 1 {
		t.Errorf("a 4h window (3h observed, the cleanup quiet 3h): exit %d", code)
	}
}

// FuzzParseConduit: any --conduit value is a pair of the policy's zones
// or an error, never a panic.
func FuzzParseConduit(f *testing.F) {
	pol, err := rules.Parse("t.yaml", []byte(readyPolicy))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"supervisory->control", " control -> supervisory ", "->", "a->b->c", "control", "контроль->control"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		from, to, err := parseConduit(pol, s)
		if err == nil && (from < 1 || int(from) > len(pol.Zones) || to < 1 || int(to) > len(pol.Zones)) {
			t.Errorf("%q: zones %d, %d", s, from, to)
		}
		if err == nil && !strings.Contains(strings.ReplaceAll(s, " ", ""), pol.Zones[from-1].Name+"->"+pol.Zones[to-1].Name) {
			t.Errorf("%q parsed as %s -> %s", s, pol.Zones[from-1].Name, pol.Zones[to-1].Name)
		}
	})
}
