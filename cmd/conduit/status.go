package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/eventlog"
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
	Conntrack conntrackStatus   `json:"conntrack"`
	Verdicts  verdictStatus     `json:"verdicts"`
	Log       logStatus         `json:"log"`
	StateFile string            `json:"state_file"`
	Rules     []engine.RuleHits `json:"rules"`
	// Observe is conduit observe's capture (observe.go); absent for run.
	Observe *observeStatus `json:"observe,omitempty"`
}

type conduitStatus struct {
	From string `json:"from"`
	To   string `json:"to"`
	Mode string `json:"mode"`
}

type policyStatus struct {
	File       string    `json:"file"`
	SHA256     string    `json:"sha256"`
	Generation uint64    `json:"generation"`
	Since      time.Time `json:"since"`
	Rules      int       `json:"rules"`
	Zones      int       `json:"zones"`
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

type conntrackStatus struct {
	Entries       uint64 `json:"entries"`
	Capacity      uint64 `json:"capacity"`
	Evictions     uint64 `json:"evictions"`
	Pickups       uint64 `json:"pickups"`
	Expired       uint64 `json:"expired"`
	Inserts       uint64 `json:"inserts"`
	HighOccupancy bool   `json:"high_occupancy"`
}

type verdictStatus struct {
	Packets     uint64 `json:"packets"`
	Accept      uint64 `json:"accept"`
	Drop        uint64 `json:"drop"`
	WouldDrop   uint64 `json:"would_drop"`
	Malformed   uint64 `json:"malformed"`
	Panics      uint64 `json:"panics"`
	LinkControl uint64 `json:"link_control"`
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
			Rules: len(pol.Rules), Zones: len(pol.Zones)},
		Started: o.started.UTC(), UptimeS: int64(time.Since(o.started).Seconds()),
		Conntrack: conntrackStatus{Entries: ct.Entries, Capacity: ct.Capacity, Evictions: ct.Evictions,
			Pickups: c.Pickups, Expired: ct.Expired, Inserts: ct.Inserts, HighOccupancy: ct.HighOccupancy},
		Verdicts: verdictStatus{Packets: c.Packets, Accept: c.Accepted, Drop: c.Dropped, WouldDrop: c.WouldDrop,
			Malformed: c.Malformed, Panics: c.Panics, LinkControl: c.LinkControl},
		Log:       logStatus{BufferDropped: c.LogDropped, Sinks: o.logs.Stats()},
		StateFile: o.state,
		Rules:     o.eng.Hits(),
	}
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
	fs, cf := newClientFlags("status", stderr)
	if code := parseClient(fs, args); code >= 0 {
		return code
	}
	var r statusReport
	if code := cf.call("status", nil, &r, stderr); code != 0 {
		return code
	}
	if cf.json {
		return printJSON(stdout, r)
	}
	printStatus(stdout, &r)
	return 0
}

func printStatus(w io.Writer, r *statusReport) {
	fmt.Fprintf(w, "conduit %s, pid %d, up %s\n", r.Version, r.PID, fmtAgo(time.Duration(r.UptimeS)*time.Second))
	p := r.Policy
	fmt.Fprintf(w, "policy    %s\n          generation %d since %s, sha256 %s, %s, %s\n", p.File, p.Generation,
		p.Since.Local().Format("2006-01-02 15:04:05"), p.SHA256, plural(p.Rules, "rule"), plural(p.Zones, "zone"))
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
	v := r.Verdicts
	fmt.Fprintf(w, "verdicts  %d packets: %d accepted, %d dropped, %d would drop, %d malformed, %d engine panics\n",
		v.Packets, v.Accept, v.Drop, v.WouldDrop, v.Malformed, v.Panics)

	fmt.Fprintln(w)
	if r.Observe != nil {
		printObserveStatus(w, r.Observe)
	} else {
		printQueues(w, r)
	}

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
