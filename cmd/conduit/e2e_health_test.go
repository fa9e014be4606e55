package main

// End-to-end test of learn --diff's health comparison: the HMI's Modbus
// polling is captured on the bridge before conduit goes inline and after,
// and after insertion the path toward the PLC loses everything for three
// seconds (netem), as a box that stalls would. The diff must name the
// stall with its figures, where it used to say nothing changed.

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/internal/plant"
)

// capturing runs tcpdump on the HMI's bridge port until the returned stop
// is called. Not on br0: a promiscuous bridge device keeps bridged packets
// from conduit's forward hook on this kernel.
func (r *rig) capturing(path string) (stop func()) {
	r.T.Helper()
	c := r.StartCapture("listening", "tcpdump", "-i", "vsup", "-U", "-n", "-s", "256", "-w", path, "tcp")
	return func() { _ = c.Stop() }
}

func TestE2EDiffNamesStall(t *testing.T) {
	e2e.Need(t, "tcpdump")
	r := newModbusRig(t)
	before, after := filepath.Join(r.Dir, "before.pcap"), filepath.Join(r.Dir, "after.pcap")
	poll := func(n int, during func(i int)) {
		t.Helper()
		c := r.hmiClient(20 * time.Second) // waits out the stall
		for i := range n {
			if during != nil {
				during(i)
			}
			mustRead(t, c, fmt.Sprintf("poll %d", i))
			time.Sleep(200 * time.Millisecond)
		}
		c.Close()
	}

	stop := r.capturing(before)
	poll(15, nil)
	stop()

	// Insertion: conduit inline in monitor, and a stall on the way to the PLC.
	r.StartWith(e2e.Policy{Mode: "monitor", FailOpen: true, Queue: 84, Extra: mbRule("")})
	stop = r.capturing(after)
	// The stall: the bridge drops what goes to the PLC for three seconds.
	poll(15, func(i int) {
		if i == 5 {
			r.Stall(r.P.Host(plant.Control).IPv4, 3*time.Second)
		}
	})
	stop()

	code, out, errOut := evRun(t, runLearn, "--diff", before, after)
	if code != 3 {
		t.Fatalf("exit %d, want 3 (changed):\n%s%s", code, out, errOut)
	}
	var line string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "changed") && strings.Contains(l, fmt.Sprintf("/%d", mbPort)) {
			line = l
		}
	}
	for _, want := range []string{"stall: a ", "silence in flow 10.20.0.10:", "then a retransmission", "retransmissions 0.0 -> "} {
		if !strings.Contains(line, want) {
			t.Errorf("the Modbus service's line lacks %q:\n%s", want, out)
		}
	}
	t.Logf("%s", out)
}
