package main

// The batched packet path under load, end to end: two floods share one
// queue, one allowed and one denied, so the daemon's reads hold both and a
// run of accepts is released with one batch verdict between single drops.

import (
	"fmt"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/internal/plant"
)

const batchPolicy = `mode: enforce
queue: {num: 90, count: 1, fail_open: false}
log: {file: "-"}
control: {socket: %q}
zones:
  enterprise:  {level: 4, cidrs: [10.40.0.0/16]}
  supervisory: {level: 2, cidrs: [10.20.0.0/24]}
  control:     {level: 1, cidrs: [10.10.0.0/24]}
rules:
  - {name: deny-enterprise-to-plant, from: enterprise, to: [supervisory, control], action: deny}
  # Below the deny rule, so the enterprise flood is the engine's to drop:
  # an allow rule could match it, and the kernel pre-filter queues it.
  - {name: hmi-io-flood, from: [supervisory, enterprise], to: control, proto: udp, dport: 9000}
default: deny
`

// TestE2EBatchedVerdicts: under a mixed flood every packet gets exactly one
// verdict (the kernel's queue ends empty and its id count matches the
// packets conduit read), not one denied datagram reaches the PLC, the
// allowed ones do, and reads and verdicts really were batched.
func TestE2EBatchedVerdicts(t *testing.T) {
	r := newRig(t)
	sock := r.Socket()
	e2e.WriteFile(t, r.Path, fmt.Sprintf(batchPolicy, sock))
	d := r.StartDaemon("")

	sup, ent := r.P.Host(plant.Supervisory).IPv4.String(), r.P.Host(plant.Enterprise).IPv4.String()
	sink := r.UDPSink(9000, 60*time.Second, 2*time.Second)
	var floods []*e2e.Flood
	for _, host := range []string{plant.Supervisory, plant.Enterprise} {
		floods = append(floods, r.StartFlood(host, sink.Addr, 2*time.Second, "-batch", "8"))
	}
	var sent []uint64 // by flood: the HMI's, the enterprise's
	for i, f := range floods {
		n, err := f.Wait()
		if err != nil {
			t.Fatalf("flood %d: %v", i, err)
		}
		sent = append(sent, n)
	}
	got := sink.Wait()
	if got.Sources[ent] != 0 {
		t.Errorf("%d denied datagrams from the enterprise reached the PLC", got.Sources[ent])
	}
	if got.Sources[sup] == 0 || got.Sources[sup] > sent[0] {
		t.Errorf("the PLC got %d of the HMI's %d allowed datagrams", got.Sources[sup], sent[0])
	}

	// Every packet read got its verdict: nothing is left waiting, and the
	// kernel numbered exactly the packets conduit read plus those it could
	// not hand over.
	var st statusReport
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.opsJSON(sock, &st, "status")
		q := st.Queues[0]
		if q.Kernel != nil && q.Kernel.Waiting == 0 && q.Packets+q.Kernel.UserDropped == q.Kernel.IDSequence {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue never settled: conduit read %d packets, kernel %+v", q.Packets, q.Kernel)
		}
		time.Sleep(100 * time.Millisecond)
	}
	q := st.Queues[0]
	t.Logf("sink %v of %d sent; queue: %d packets in %d reads, %d verdict messages, %d dropped, kernel %+v",
		got.Sources, sent[0], q.Packets, q.Reads, q.VerdictMessages, q.Dropped, *q.Kernel)
	if q.Reads == 0 || float64(q.Packets)/float64(q.Reads) < 1.5 {
		t.Errorf("%d packets in %d reads: the flood was not read in batches", q.Packets, q.Reads)
	}
	if q.VerdictMessages >= q.Packets {
		t.Errorf("%d verdict messages for %d packets: no run of accepts was batched", q.VerdictMessages, q.Packets)
	}
	if q.Dropped == 0 || q.Accepted == 0 {
		t.Errorf("accepted %d, dropped %d: the flood did not mix verdicts", q.Accepted, q.Dropped)
	}
	// The denied flood is one flow, logged once with the rule that denied it.
	l := d.Wait(0, "the enterprise flood's verdict", func(l e2e.Line) bool {
		return l.Event() == "verdict" && l.Str("src") == ent && l.Num("dport") == 9000
	})
	if l.Str("verdict") != "drop" || l.Str("rule") != "deny-enterprise-to-plant" {
		t.Errorf("enterprise flood verdict line: %s", l.Raw)
	}
}
