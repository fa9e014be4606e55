package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/eventlog"
	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/rules"
)

// statusReport is `conduit status --json` (PRODUCT.md: at least mode,
// conduits, policy, uptime_s, queues, conntrack, verdicts and rules).
type statusReport struct {
	Version   string            `json:"version"`
	PID       int               `json:"pid"`
	Mode      string            `json:"mode"`
	Conduits  []conduitStatus   `json:"conduits"`
	Policy    policyStatus      `json:"policy"`
	Started   time.Time         `json:"started"`
	UptimeS   int64             `json:"uptime_s"`
	Queues    []queueStatus     `json:"queues"`
	KernelErr string            `json:"kernel_error,omitempty"` // why kernel queue counters are missing
	Table     *tableStatus      `json:"table,omitempty"`        // the nftables table: pre-filter and unjudged counters
	Layer2    *layer2JSON       `json:"layer2,omitempty"`       // the bridge table of the layer2 section (layer2.go)
	Conntrack conntrackStatus   `json:"conntrack"`
	Fastpath  fastpathStatus    `json:"fastpath"`
	Verdicts  verdictStatus     `json:"verdicts"`
	Log       logStatus         `json:"log"`
	StateFile string            `json:"state_file"`
	Rules     []engine.RuleHits `json:"rules"`
	// ZonePairs are the flows and refused packets by zone pair
	// (status_pairs.go).
	ZonePairs []engine.ConduitStats `json:"zone_pairs"`
	// Observe is conduit observe's capture (observe.go); absent for run.
	Observe *observeStatus `json:"observe,omitempty"`
}

type conduitStatus struct {
	From string `json:"from"`
	To   string `json:"to"`
	Mode string `json:"mode"`
}

func (o *ops) lastRefused() *inforce.Refusal {
	if o.reloader == nil {
		return nil
	}
	return o.reloader.LastRefused()
}

type policyStatus struct {
	File       string    `json:"file"`
	SHA256     string    `json:"sha256"`
	Generation uint64    `json:"generation"`
	Since      time.Time `json:"since"`
	Rules      int       `json:"rules"`
	Zones      int       `json:"zones"`
	// Refused is the file the last reload refused, while this generation
	// stays in force; absent once a reload succeeds.
	Refused *inforce.Refusal `json:"refused,omitempty"`
}

type queueStatus struct {
	Num       uint16                         `json:"num"`
	Packets   uint64                         `json:"packets"`
	Accepted  uint64                         `json:"accepted"`
	Dropped   uint64                         `json:"dropped"`
	WouldDrop uint64                         `json:"would_drop"`
	Malformed uint64                         `json:"malformed"`
	ByMode    map[string]engine.ModeVerdicts `json:"by_mode"`
	// Reads are the system calls that returned packets, VerdictMessages
	// the verdict messages sent; packets per read is the batching at work.
	Reads           uint64 `json:"reads"`
	VerdictMessages uint64 `json:"verdict_messages"`
	// Kernel is the kernel's side of the queue; KernelDropped sums the
	// packets it lost there (queue full, or not delivered to conduit).
	Kernel        *engine.KernelQueue `json:"kernel"`
	KernelDropped uint64              `json:"kernel_dropped"`
}

// tableStatus is the kernel's side of the policy (engine/nft).
type tableStatus struct {
	Method     string `json:"method"`
	Prefilter  bool   `json:"prefilter"`   // false: the kernel refused it, every packet is queued
	NFLOGGroup int    `json:"nflog_group"` // 0: drops are counted, not logged
	// Dropped and DroppedBytes are the pre-filter's drops, all rules;
	// each rule's share is in its counters.
	Dropped      uint64 `json:"dropped"`
	DroppedBytes uint64 `json:"dropped_bytes"`
	// Unjudged are the packets the kernel accepted without a verdict from
	// conduit: queue full with the fail-open flag, or no reader (bypass).
	Unjudged      uint64 `json:"unjudged"`
	UnjudgedBytes uint64 `json:"unjudged_bytes"`
	Error         string `json:"error,omitempty"`
}

type conntrackStatus struct {
	Entries   uint64 `json:"entries"`
	Capacity  uint64 `json:"capacity"`
	Evictions uint64 `json:"evictions"`
	// EvictionsByClass and EntriesByClass split evictions and entries by
	// eviction class (denied, handshake, closing, unanswered,
	// established); every class is present.
	EvictionsByClass map[string]uint64 `json:"evictions_by_class"`
	EntriesByClass   map[string]uint64 `json:"entries_by_class"`
	Pickups          uint64            `json:"pickups"`
	Expired          uint64            `json:"expired"`
	Inserts          uint64            `json:"inserts"`
	HighOccupancy    bool              `json:"high_occupancy"`
}

// fastpathStatus: the engine's fast-path counters and what the kernel
// accepted on the fast path (the nft rule's counter).
type fastpathStatus struct {
	engine.FastpathStats
	AcceptedPackets uint64 `json:"accepted_packets"`
	AcceptedBytes   uint64 `json:"accepted_bytes"`
}

// fastpathAccepted reads the nft counter of the fast-path rule.
func (o *ops) fastpathAccepted() (packets, bytes uint64, ok bool) {
	if o.fastpathCounter == nil {
		return 0, 0, false
	}
	p, b, ok, err := o.fastpathCounter()
	return p, b, ok && err == nil
}

type verdictStatus struct {
	Packets     uint64 `json:"packets"`
	Accept      uint64 `json:"accept"`
	Drop        uint64 `json:"drop"`
	WouldDrop   uint64 `json:"would_drop"`
	Malformed   uint64 `json:"malformed"`
	Panics      uint64 `json:"panics"`
	LinkControl uint64 `json:"link_control"`
	Spoofed     uint64 `json:"spoofed"` // forged source addresses: a bound zone's address from another port or MAC
}

type logStatus struct {
	BufferDropped uint64               `json:"buffer_dropped"` // refused by the engine's full event buffer
	Sinks         []eventlog.SinkStats `json:"sinks"`
}

// status is the daemon's answer to "status".
func (o *ops) status() statusReport {
	act := o.store.Load()
	pol := act.Policy
	c := o.eng.Counters()
	ct := o.eng.Conntrack().Stats()
	r := statusReport{
		Version: version, PID: os.Getpid(), Mode: pol.Mode.String(),
		Conduits: []conduitStatus{},
		Policy: policyStatus{File: pol.File, SHA256: pol.SHA256, Generation: act.Generation, Since: act.Since.UTC(),
			Rules: len(pol.Rules), Zones: len(pol.Zones), Refused: o.lastRefused()},
		Started: o.started.UTC(), UptimeS: int64(time.Since(o.started).Seconds()),
		Conntrack: conntrackStatus{Entries: ct.Entries, Capacity: ct.Capacity, Evictions: ct.Evictions,
			EvictionsByClass: byClass(ct.EvictionsByClass), EntriesByClass: byClass(ct.EntriesByClass),
			Pickups: c.Pickups, Expired: ct.Expired, Inserts: ct.Inserts, HighOccupancy: ct.HighOccupancy},
		Verdicts: verdictStatus{Packets: c.Packets, Accept: c.Accepted, Drop: c.Dropped, WouldDrop: c.WouldDrop,
			Malformed: c.Malformed, Panics: c.Panics, LinkControl: c.LinkControl, Spoofed: c.Spoofed},
		Log:       logStatus{BufferDropped: c.LogDropped, Sinks: o.logs.Stats()},
		StateFile: o.state,
		Rules:     o.eng.Hits(),
		ZonePairs: o.eng.Conduits(),
	}
	if o.kernel != nil {
		ts := &tableStatus{Method: string(o.kernel.Method), Prefilter: o.kernel.Prefilter, NFLOGGroup: nflogGroup(o.kernel, pol)}
		kc, _, err := o.eng.KernelCounts()
		r.Layer2 = o.layer2Status(pol, kc, err)
		if err != nil {
			ts.Error = err.Error()
		} else {
			for _, d := range kc.Dropped {
				ts.Dropped += d.Packets
				ts.DroppedBytes += d.Bytes
			}
			ts.Unjudged, ts.UnjudgedBytes = kc.Unjudged.Packets, kc.Unjudged.Bytes
		}
		r.Table = ts
	}
	r.Fastpath.FastpathStats = o.eng.FastpathStats()
	r.Fastpath.AcceptedPackets, r.Fastpath.AcceptedBytes, _ = o.fastpathAccepted()
	for _, cd := range pol.Conduits {
		r.Conduits = append(r.Conduits, conduitStatus{From: cd.From, To: cd.To, Mode: cd.Mode.String()})
	}
	if o.sensor != nil {
		r.Observe = o.observeStatus()
		r.Queues = []queueStatus{}
		return r
	}
	kernel := map[uint16]engine.KernelQueue{}
	if kq, err := engine.ReadKernelQueues(); err != nil {
		r.KernelErr = err.Error()
	} else {
		for _, k := range kq {
			kernel[k.Num] = k
		}
	}
	for i, q := range o.eng.QueueStats() {
		num := o.queueNum + uint16(i)
		qs := queueStatus{Num: num, Packets: q.Packets, Accepted: q.Accepted, Dropped: q.Dropped,
			WouldDrop: q.WouldDrop, Malformed: q.Malformed, ByMode: map[string]engine.ModeVerdicts{},
			Reads: q.Reads, VerdictMessages: q.VerdictMessages}
		for m, v := range q.ByMode {
			qs.ByMode[rules.Mode(m).String()] = v
		}
		if k, ok := kernel[num]; ok {
			qs.Kernel = &k
			qs.KernelDropped = k.QueueDropped + k.UserDropped
		}
		r.Queues = append(r.Queues, qs)
	}
	return r
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	return query[statusReport]{name: "status", text: printStatus}.run(args, stdout, stderr)
}

func printStatus(w io.Writer, r *statusReport) {
	fmt.Fprintf(w, "conduit %s, pid %d, up %s\n", r.Version, r.PID, fmtAgo(time.Duration(r.UptimeS)*time.Second))
	p := r.Policy
	fmt.Fprintf(w, "policy    %s\n          generation %d since %s, sha256 %s, %s, %s\n", p.File, p.Generation,
		p.Since.Local().Format("2006-01-02 15:04:05"), p.SHA256, plural(p.Rules, "rule"), plural(p.Zones, "zone"))
	if f := p.Refused; f != nil {
		fmt.Fprintf(w, "          refused at %s (%s): %s, sha256 %s, %s; generation %d stays in force\n",
			f.Time.Local().Format("2006-01-02 15:04:05"), f.Trigger, f.File, f.SHA256, plural(len(f.Errors), "error"), p.Generation)
		for _, e := range f.Errors {
			fmt.Fprintf(w, "            %s\n", e)
		}
	}
	fmt.Fprintf(w, "mode      %s\n", r.Mode)
	for _, c := range r.Conduits {
		fmt.Fprintf(w, "          %s -> %s: %s\n", c.From, c.To, c.Mode)
	}
	ct := r.Conntrack
	pct := 0.0
	if ct.Capacity > 0 {
		pct = 100 * float64(ct.Entries) / float64(ct.Capacity)
	}
	high := ""
	if ct.HighOccupancy {
		high = "  HIGH OCCUPANCY"
	}
	fmt.Fprintf(w, "conntrack %d of %d flows (%.1f%%), %d evictions, %d pickups, %d expired%s\n",
		ct.Entries, ct.Capacity, pct, ct.Evictions, ct.Pickups, ct.Expired, high)
	if ct.Evictions > 0 {
		fmt.Fprintf(w, "          evicted by class: %s\n", classList(ct.EvictionsByClass))
	}
	if fp := r.Fastpath; fp.Enabled {
		fmt.Fprintf(w, "fastpath  %d flows offloaded (%s), %d offloads, %d packets accepted in the kernel, %d cleared, %d errors\n",
			fp.Flows, fp.Method, fp.Offloads, fp.AcceptedPackets, fp.Cleared, fp.Errors)
	}
	v := r.Verdicts
	fmt.Fprintf(w, "verdicts  %d packets: %d accepted, %d dropped, %d would drop, %d malformed, %d engine panics, %d spoofed\n",
		v.Packets, v.Accept, v.Drop, v.WouldDrop, v.Malformed, v.Panics, v.Spoofed)
	if t := r.Table; t != nil {
		logged := "logged to nflog group " + fmt.Sprint(t.NFLOGGroup)
		if t.NFLOGGroup == 0 {
			logged = "counted, not logged"
		}
		if !t.Prefilter {
			logged = "NO PRE-FILTER: the kernel refused it, every packet is queued"
		}
		fmt.Fprintf(w, "kernel    %s: %d dropped before the queue (%s), %d accepted unjudged\n",
			t.Method, t.Dropped, logged, t.Unjudged)
		if t.Error != "" {
			fmt.Fprintf(w, "          counters unavailable: %s\n", t.Error)
		}
	}
	printLayer2Status(w, r.Layer2)

	fmt.Fprintln(w)
	if r.Observe != nil {
		printObserveStatus(w, r.Observe)
	} else {
		printQueues(w, r)
	}
	printZonePairs(w, r.ZonePairs)

	var sinks []string
	for _, s := range r.Log.Sinks {
		line := fmt.Sprintf("%s %d written", s.Name, s.Written)
		if s.Dropped+s.Failed > 0 {
			line += fmt.Sprintf(", %d LOST (%d buffer full, %d failed)", s.Dropped+s.Failed, s.Dropped, s.Failed)
		}
		sinks = append(sinks, line)
	}
	fmt.Fprintf(w, "\nlog       %s\n", strings.Join(sinks, "; "))
	if r.Log.BufferDropped > 0 {
		fmt.Fprintf(w, "          %d events LOST: the event buffer was full\n", r.Log.BufferDropped)
	}
	if r.StateFile != "" {
		fmt.Fprintf(w, "state     %s\n", r.StateFile)
	}
	fmt.Fprintln(w)
	printCleanupSummary(w, r.Rules, r.Started.Add(time.Duration(r.UptimeS)*time.Second))
}

// byClass names per-class counters for JSON.
func byClass(n [conntrack.NumClasses]uint64) map[string]uint64 {
	m := make(map[string]uint64, conntrack.NumClasses)
	for c, v := range n {
		m[conntrack.Class(c).String()] = v
	}
	return m
}

// classList prints per-class counters in eviction order, e.g.
// "denied 12, handshake 0, closing 3, unanswered 0, established 0".
func classList(m map[string]uint64) string {
	parts := make([]string, 0, conntrack.NumClasses)
	for c := range conntrack.NumClasses {
		name := conntrack.Class(c).String()
		parts = append(parts, fmt.Sprintf("%s %d", name, m[name]))
	}
	return strings.Join(parts, ", ")
}

func printQueues(w io.Writer, r *statusReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUE\tPACKETS\tACCEPTED\tDROPPED\tWOULD DROP\tKERNEL DROPPED\tWAITING\tPER READ")
	for _, q := range r.Queues {
		kd, waiting := "?", "?"
		if q.Kernel != nil {
			kd, waiting = fmt.Sprint(q.KernelDropped), fmt.Sprint(q.Kernel.Waiting)
			if q.Kernel.UserDropped > 0 {
				kd += fmt.Sprintf(" (%d not delivered)", q.Kernel.UserDropped)
			}
		}
		perRead := "-"
		if q.Reads > 0 {
			perRead = fmt.Sprintf("%.1f", float64(q.Packets)/float64(q.Reads))
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", q.Num, q.Packets, q.Accepted, q.Dropped, q.WouldDrop, kd, waiting, perRead)
	}
	tw.Flush()
	if r.KernelErr != "" {
		fmt.Fprintf(w, "kernel queue counters unavailable: %s\n", r.KernelErr)
	}
}
