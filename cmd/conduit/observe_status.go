package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/conduit-ot/conduit/engine/tap"
)

// observeStatus is the "observe" object of `status --json` for conduit
// observe: the interfaces, the kernel's ring counters and what was read.
type observeStatus struct {
	// JudgedAs says how the sensor judges conduits the file enforces:
	// monitor, so would_drop counts what enforce would drop.
	JudgedAs   string           `json:"enforce_judged_as"`
	Interfaces []tap.IfaceStats `json:"interfaces"`
	// RingDrops sums the frames the kernel could not put in a full ring.
	RingDrops uint64       `json:"ring_drops"`
	Frames    tap.Counters `json:"frames"`
}

func (o *ops) observeStatus() *observeStatus {
	s := &observeStatus{JudgedAs: "monitor", Interfaces: o.sensor.Stats(), Frames: o.sensor.Counters()}
	for _, i := range s.Interfaces {
		s.RingDrops += i.Drops
	}
	return s
}

func printObserveStatus(w io.Writer, s *observeStatus) {
	f := s.Frames
	fmt.Fprintf(w, "observing %d frames read: %d IP, %d other; enforce is judged as %s (would drop = what enforce would drop)\n",
		f.Frames, f.IP, f.NonIP, s.JudgedAs)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INTERFACE\tRINGS\tRECEIVED\tRING DROPS\tFROZEN")
	for _, i := range s.Interfaces {
		drops := fmt.Sprint(i.Drops)
		if i.Err != "" {
			drops += " (" + i.Err + ")"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\n", i.Name, i.Rings, i.Packets, drops, i.FreezeQueue)
	}
	tw.Flush()
	if s.RingDrops > 0 {
		fmt.Fprintf(w, "          %d frames LOST in full rings: the matrix misses them (more --workers or --ring-mb)\n", s.RingDrops)
	}
}

// ringCollector exports conduit observe's rings to Prometheus.
type ringCollector struct {
	stats  func() []tap.IfaceStats
	frames func() tap.Counters
}

var (
	dRingPackets = prometheus.NewDesc("conduit_observe_ring_packets_total", "Frames the kernel put in the sensor's rings, by interface.", []string{"interface"}, nil)
	dRingDrops   = prometheus.NewDesc("conduit_observe_ring_drops_total", "Frames the kernel dropped because the sensor's rings were full, by interface.", []string{"interface"}, nil)
	dRingFrames  = prometheus.NewDesc("conduit_observe_frames_total", "Frames the sensor read, by kind (ip, non_ip).", []string{"kind"}, nil)
)

func (ringCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- dRingPackets
	ch <- dRingDrops
	ch <- dRingFrames
}

func (c ringCollector) Collect(ch chan<- prometheus.Metric) {
	for _, i := range c.stats() {
		ch <- prometheus.MustNewConstMetric(dRingPackets, prometheus.CounterValue, float64(i.Packets), i.Name)
		ch <- prometheus.MustNewConstMetric(dRingDrops, prometheus.CounterValue, float64(i.Drops), i.Name)
	}
	f := c.frames()
	ch <- prometheus.MustNewConstMetric(dRingFrames, prometheus.CounterValue, float64(f.IP), "ip")
	ch <- prometheus.MustNewConstMetric(dRingFrames, prometheus.CounterValue, float64(f.NonIP), "non_ip")
}
