// Package metrics exposes the daemon's counters to Prometheus. Every
// value is read from the engine at scrape time (a custom collector), so the
// packet path keeps its own atomic counters and knows nothing of metrics.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/eventlog"
	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/rules"
)

// Reloads counts reload attempts by result.
type Reloads struct {
	OK, Error, Unchanged uint64
}

// Source is where the collector reads from. Only Engine and Store are
// required.
type Source struct {
	Engine   *engine.Engine
	Store    *inforce.Store
	QueueNum uint16 // number of the engine's first queue
	Started  time.Time
	// Kernel reads the kernel's queue counters; default
	// engine.ReadKernelQueues.
	Kernel  func() ([]engine.KernelQueue, error)
	Reloads func() Reloads
	Sinks   func() []eventlog.SinkStats
	// Fastpath reads what the kernel accepted on the fast path (packets,
	// bytes; ok false without it).
	Fastpath func() (packets, bytes uint64, ok bool)
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("conduit_"+name, help, labels, nil)
}

var (
	dPackets      = desc("packets_total", "Packets the queue reader decided.", "queue")
	dVerdicts     = desc("verdicts_total", "Verdicts by queue, effective mode and verdict.", "queue", "mode", "verdict")
	dWouldDrop    = desc("would_drop_total", "Packets the policy denies (dropped in enforce, passed in monitor), by queue and mode.", "queue", "mode")
	dMalformed    = desc("malformed_packets_total", "Packets the decoder refused.", "queue")
	dPanics       = desc("engine_panics_total", "Packets whose decision panicked and got the failure verdict.", "queue")
	dSpoofed      = desc("spoofed_packets_total", "Packets whose source address belongs to a zone bound to other bridge ports or MACs (dropped in enforce, passed in monitor).", "queue")
	dRulePackets  = desc("rule_packets_total", "Packets decided by each rule (the implicit default is rule \"default\").", "rule")
	dRuleBytes    = desc("rule_bytes_total", "Bytes of the packets decided by each rule.", "rule")
	dRuleFlows    = desc("rule_flows_total", "Flows decided by each rule.", "rule")
	dRuleRequests = desc("rule_requests_total", "Industrial-protocol requests each rule's protocol condition matched.", "rule")
	dRuleWould    = desc("rule_would_drop_packets_total", "Packets each rule refused: a deny rule's, or an allow rule's whose protocol condition refused them (dropped in enforce, passed in monitor).", "rule")
	dRuleLast     = desc("rule_last_hit_timestamp_seconds", "When each rule last decided a packet (absent if never).", "rule")
	dCTEntries    = desc("conntrack_entries", "Flows in the connection table.")
	dCTCapacity   = desc("conntrack_capacity", "Capacity of the connection table.")
	dCTEvictions  = desc("conntrack_evictions_total", "Flows evicted because the table was full.")
	dCTEvictClass = desc("conntrack_evictions_by_class_total", "Flows evicted because the table was full, by the evicted flow's class (denied, handshake, closing, unanswered, established: evicted in that order).", "class")
	dCTClassFlows = desc("conntrack_entries_by_class", "Flows in the connection table, by eviction class.", "class")
	dCTExpired    = desc("conntrack_expired_total", "Flows ended by their idle, handshake or close timeout.")
	dCTPickups    = desc("conntrack_pickups_total", "Mid-stream TCP sessions adopted.")
	dKWaiting     = desc("kernel_queue_waiting", "Packets in the kernel's queue waiting for a verdict.", "queue")
	dKDropped     = desc("kernel_queue_dropped_total", "Packets the kernel could not queue because the queue was full.", "queue")
	dKUserDropped = desc("kernel_queue_user_dropped_total", "Packets the kernel failed to deliver to the reader's socket.", "queue")
	dKFDropped    = desc("kernel_prefilter_dropped_packets_total", "Packets the kernel pre-filter dropped before the queue (no allow rule could match), by the rule charged.", "rule")
	dL2Frames     = desc("layer2_frames_total", "Non-IP frames the bridge table of the layer2 section counted, by EtherType (its name, 0xNNNN, vlan for tagged frames carrying an unnamed one, other) and verdict (accept; drop in enforce; would_drop in monitor).", "ethertype", "verdict")
	dL2Bytes      = desc("layer2_frame_bytes_total", "Bytes of the non-IP frames the bridge table counted, by EtherType and verdict.", "ethertype", "verdict")
	dUnjudged     = desc("kernel_unjudged_packets_total", "Packets the kernel accepted without a verdict from conduit: queue full with the fail-open flag, or no reader with bypass.")
	dReloads      = desc("reloads_total", "Policy reload attempts by result.", "result")
	dLogDropped   = desc("log_lines_dropped_total", "Log lines lost: refused by a full buffer or not delivered by a sink.", "sink", "reason")
	dLogWritten   = desc("log_lines_written_total", "Log lines delivered, by sink.", "sink")
	dLatency      = desc("verdict_latency_seconds", "Time from a packet's receipt to its verdict, sampled.")
	dGeneration   = desc("policy_generation", "Generation of the policy in force (1 at start, +1 per reload).")
	dPolicy       = desc("policy_info", "The policy in force.", "sha256", "mode")
	dStart        = desc("start_time_seconds", "When the daemon started.")
	dFPFlows      = desc("fastpath_flows", "Flows on the kernel's fast path at the last sweep.")
	dFPOffloads   = desc("fastpath_offloads_total", "Flows handed to the kernel's fast path.")
	dFPPackets    = desc("fastpath_accepted_packets_total", "Packets the kernel accepted on the fast path without queueing them.")
	dFPBytes      = desc("fastpath_accepted_bytes_total", "Bytes of the packets the kernel accepted on the fast path.")
	// By conduit: from the zone of a flow's requester to its responder's.
	dPairFlows  = desc("conduit_flows_total", "Flows decided between each zone pair (again after a reload that changed a flow's decision).", "from", "to")
	dPairDenied = desc("conduit_denied_flows_total", "Flows the policy denied between each zone pair (dropped in enforce, passed in monitor).", "from", "to")
	dPairWould  = desc("conduit_would_drop_packets_total", "Packets the policy refused between each zone pair (dropped in enforce, passed in monitor): denied flows, refused requests, malformed and forged packets.", "from", "to")
	dPairKernel = desc("conduit_kernel_dropped_packets_total", "Packets the kernel pre-filter dropped between each zone pair, for deny rules that name one zone each side (the others' are only in kernel_prefilter_dropped_packets_total).", "from", "to")
)

type collector struct{ src Source }

// NewRegistry is a registry with conduit's collector and the Go runtime
// and process collectors.
func NewRegistry(src Source) *prometheus.Registry {
	if src.Kernel == nil {
		src.Kernel = engine.ReadKernelQueues
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{src: src}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dPackets, dVerdicts, dWouldDrop, dMalformed, dPanics, dSpoofed,
		dRulePackets, dRuleBytes, dRuleFlows, dRuleRequests, dRuleWould, dRuleLast,
		dCTEntries, dCTCapacity, dCTEvictions, dCTEvictClass, dCTClassFlows, dCTExpired, dCTPickups,
		dKWaiting, dKDropped, dKUserDropped, dKFDropped, dL2Frames, dL2Bytes, dUnjudged, dReloads, dLogDropped, dLogWritten, dLatency,
		dGeneration, dPolicy, dStart, dFPFlows, dFPOffloads, dFPPackets, dFPBytes,
		dPairFlows, dPairDenied, dPairWould, dPairKernel} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := &c.src
	e := s.Engine
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}

	qs := e.QueueStats()
	for i, q := range qs {
		num := strconv.Itoa(int(s.QueueNum) + i)
		counter(dPackets, q.Packets, num)
		counter(dMalformed, q.Malformed, num)
		counter(dPanics, q.Panics, num)
		counter(dSpoofed, q.Spoofed, num)
		for m, v := range q.ByMode {
			mode := rules.Mode(m).String()
			counter(dVerdicts, v.Accept, num, mode, "accept")
			counter(dVerdicts, v.Drop, num, mode, "drop")
			counter(dWouldDrop, v.WouldDrop, num, mode)
		}
	}

	for _, r := range e.Hits() {
		counter(dRulePackets, r.Packets, r.Name)
		counter(dRuleBytes, r.Bytes, r.Name)
		counter(dRuleFlows, r.Flows, r.Name)
		counter(dRuleRequests, r.Requests, r.Name)
		counter(dRuleWould, r.WouldDrop, r.Name)
		if r.LastHit != nil {
			gauge(dRuleLast, float64(r.LastHit.UnixNano())/1e9, r.Name)
		}
	}

	for _, p := range e.Conduits() {
		counter(dPairFlows, p.Flows, p.From, p.To)
		counter(dPairDenied, p.DeniedFlows, p.From, p.To)
		counter(dPairWould, p.WouldDrop, p.From, p.To)
		counter(dPairKernel, p.KernelDropped, p.From, p.To)
	}

	st := e.Conntrack().Stats()
	gauge(dCTEntries, float64(st.Entries))
	gauge(dCTCapacity, float64(st.Capacity))
	counter(dCTEvictions, st.Evictions)
	for c := range conntrack.NumClasses {
		class := conntrack.Class(c).String()
		counter(dCTEvictClass, st.EvictionsByClass[c], class)
		gauge(dCTClassFlows, float64(st.EntriesByClass[c]), class)
	}
	counter(dCTExpired, st.Expired)
	counter(dCTPickups, e.Counters().Pickups)

	if kq, err := s.Kernel(); err == nil {
		for _, k := range kq {
			if int(k.Num) < int(s.QueueNum) || int(k.Num) >= int(s.QueueNum)+len(qs) {
				continue
			}
			num := strconv.Itoa(int(k.Num))
			gauge(dKWaiting, float64(k.Waiting), num)
			counter(dKDropped, k.QueueDropped, num)
			counter(dKUserDropped, k.UserDropped, num)
		}
	}

	if kc, ok, err := e.KernelCounts(); ok && err == nil {
		for name, d := range kc.Dropped {
			counter(dKFDropped, d.Packets, name)
		}
		counter(dUnjudged, kc.Unjudged.Packets)
		for _, l := range kc.Layer2 {
			counter(dL2Frames, l.Packets, l.EtherType, l.Verdict)
			counter(dL2Bytes, l.Bytes, l.EtherType, l.Verdict)
		}
	}

	if s.Reloads != nil {
		r := s.Reloads()
		counter(dReloads, r.OK, "ok")
		counter(dReloads, r.Error, "error")
		counter(dReloads, r.Unchanged, "unchanged")
	}

	counter(dLogDropped, e.Counters().LogDropped, "event-buffer", "buffer_full")
	if s.Sinks != nil {
		for _, k := range s.Sinks() {
			counter(dLogDropped, k.Dropped, k.Name, "buffer_full")
			counter(dLogDropped, k.Failed, k.Name, "write_failed")
			counter(dLogWritten, k.Written, k.Name)
		}
	}

	l := e.Latency()
	buckets := make(map[float64]uint64, len(l.Bounds))
	var cum uint64
	for i, b := range l.Bounds {
		cum += l.Counts[i]
		buckets[b.Seconds()] = cum
	}
	ch <- prometheus.MustNewConstHistogram(dLatency, l.Count, l.Sum.Seconds(), buckets)

	if s.Store != nil {
		act := s.Store.Load()
		gauge(dGeneration, float64(act.Generation))
		gauge(dPolicy, 1, act.Policy.SHA256, act.Policy.Mode.String())
	}
	if fp := e.FastpathStats(); fp.Enabled {
		gauge(dFPFlows, float64(fp.Flows))
		counter(dFPOffloads, fp.Offloads)
		if s.Fastpath != nil {
			if p, b, ok := s.Fastpath(); ok {
				counter(dFPPackets, p)
				counter(dFPBytes, b)
			}
		}
	}
	if !s.Started.IsZero() {
		gauge(dStart, float64(s.Started.UnixNano())/1e9)
	}
}

// Server serves /metrics.
type Server struct {
	srv  *http.Server
	addr net.Addr
	done chan struct{}
}

// Listen binds addr (host:port) and serves reg's metrics at /metrics in
// the background. The bind error is returned, so a taken port is reported
// at start.
func Listen(addr string, reg *prometheus.Registry, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slogErrors{log}, Timeout: 10 * time.Second}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "conduit: metrics at /metrics")
	})
	s := &Server{
		srv:  &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 30 * time.Second},
		addr: ln.Addr(),
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server stopped", "listen", addr, "err", err)
		}
	}()
	return s, nil
}

// Addr is the bound address (useful with port 0).
func (s *Server) Addr() net.Addr { return s.addr }

// Close stops the server, waiting up to 2s for scrapes in progress.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}

// slogErrors adapts promhttp's error log to slog.
type slogErrors struct{ log *slog.Logger }

func (l slogErrors) Println(v ...any) { l.log.Error("metrics: " + fmt.Sprint(v...)) }
