package metrics

import (
	"encoding/binary"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/eventlog"
	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/rules"
)

const policy = `mode: monitor
zones:
  supervisory: {level: 2, cidrs: [10.20.0.0/24]}
  control:     {level: 1, cidrs: [10.10.0.0/24]}
conduits: [{from: supervisory, to: control, mode: enforce}]
rules:
  - {name: hmi-polls-plc, from: supervisory, to: control, proto: tcp, dport: 502}
  - {name: no-telnet, action: deny, from: supervisory, to: control, proto: tcp, dport: 23}
default: deny
`

// syn is an IPv4 TCP SYN of 40 bytes.
func syn(src, dst string, sport, dport uint16) []byte {
	b := make([]byte, 40)
	b[0], b[8], b[9] = 0x45, 64, 6
	binary.BigEndian.PutUint16(b[2:], 40)
	s, d := netip.MustParseAddr(src).As4(), netip.MustParseAddr(dst).As4()
	copy(b[12:], s[:])
	copy(b[16:], d[:])
	binary.BigEndian.PutUint16(b[20:], sport)
	binary.BigEndian.PutUint16(b[22:], dport)
	b[32], b[33] = 5<<4, 0x02
	return b
}

func setup(t *testing.T) (*engine.Engine, Source) {
	t.Helper()
	pol, err := rules.Parse("test.yaml", []byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	store := inforce.NewStore(pol)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := engine.New(engine.Config{Store: store, Workers: 2, Log: log})
	w := e.Worker(1)
	w.Decide(syn("10.20.0.10", "10.10.0.10", 40000, 502)) // allowed
	w.Decide(syn("10.20.0.10", "10.10.0.10", 40001, 503)) // default, dropped in the enforced conduit
	w.Decide(syn("10.20.0.10", "10.10.0.10", 40002, 503))
	src := Source{
		Engine: e, Store: store, QueueNum: 20, Started: time.Unix(1700000000, 0),
		Kernel: func() ([]engine.KernelQueue, error) {
			return []engine.KernelQueue{{Num: 20, QueueDropped: 7, UserDropped: 2, Waiting: 1}, {Num: 5, QueueDropped: 99}}, nil
		},
		Reloads: func() Reloads { return Reloads{OK: 2, Error: 1} },
		Sinks: func() []eventlog.SinkStats {
			return []eventlog.SinkStats{{Name: "stdout", Written: 10}, {Name: "syslog:udp://127.0.0.1:514", Dropped: 3, Failed: 4}}
		},
	}
	return e, src
}

// value finds the sample of name with the given labels (name=value pairs).
func value(t *testing.T, fams []*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	t.Helper()
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

// sample is one series a test expects: its metric, its label pairs and
// its value.
type sample struct {
	name   string
	labels []string
	want   float64
}

// checkSamples gathers src's registry, checks every sample in it and
// returns what it gathered.
func checkSamples(t *testing.T, src Source, want []sample) []*dto.MetricFamily {
	t.Helper()
	fams, err := NewRegistry(src).Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range want {
		if got, ok := value(t, fams, c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (found %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	return fams
}

func TestCollect(t *testing.T) {
	_, src := setup(t)
	fams := checkSamples(t, src, []sample{
		{"conduit_packets_total", []string{"queue", "21"}, 3},
		{"conduit_packets_total", []string{"queue", "20"}, 0},
		{"conduit_verdicts_total", []string{"queue", "21", "mode", "enforce", "verdict", "accept"}, 1},
		{"conduit_verdicts_total", []string{"queue", "21", "mode", "enforce", "verdict", "drop"}, 2},
		{"conduit_verdicts_total", []string{"queue", "21", "mode", "monitor", "verdict", "accept"}, 0},
		{"conduit_would_drop_total", []string{"queue", "21", "mode", "enforce"}, 2},
		{"conduit_rule_packets_total", []string{"rule", "hmi-polls-plc"}, 1},
		{"conduit_rule_packets_total", []string{"rule", "default"}, 2},
		{"conduit_rule_bytes_total", []string{"rule", "default"}, 80},
		{"conduit_rule_flows_total", []string{"rule", "default"}, 2},
		{"conduit_rule_would_drop_packets_total", []string{"rule", "default"}, 2},
		{"conduit_rule_would_drop_packets_total", []string{"rule", "hmi-polls-plc"}, 0},
		{"conduit_rule_requests_total", []string{"rule", "hmi-polls-plc"}, 0},
		{"conduit_conntrack_entries", nil, 1},
		{"conduit_conntrack_capacity", nil, 65536},
		{"conduit_conntrack_evictions_total", nil, 0},
		{"conduit_conntrack_pickups_total", nil, 0},
		{"conduit_kernel_queue_dropped_total", []string{"queue", "20"}, 7},
		{"conduit_kernel_queue_user_dropped_total", []string{"queue", "20"}, 2},
		{"conduit_kernel_queue_waiting", []string{"queue", "20"}, 1},
		{"conduit_reloads_total", []string{"result", "ok"}, 2},
		{"conduit_reloads_total", []string{"result", "error"}, 1},
		{"conduit_log_lines_dropped_total", []string{"sink", "syslog:udp://127.0.0.1:514", "reason", "write_failed"}, 4},
		{"conduit_log_lines_dropped_total", []string{"sink", "syslog:udp://127.0.0.1:514", "reason", "buffer_full"}, 3},
		{"conduit_log_lines_dropped_total", []string{"sink", "event-buffer"}, 0},
		{"conduit_log_lines_written_total", []string{"sink", "stdout"}, 10},
		{"conduit_verdict_latency_seconds", nil, 0},
		{"conduit_policy_generation", nil, 1},
		{"conduit_start_time_seconds", nil, 1700000000},
		{"conduit_conduit_flows_total", []string{"from", "supervisory", "to", "control"}, 3},
		{"conduit_conduit_denied_flows_total", []string{"from", "supervisory", "to", "control"}, 2},
		{"conduit_conduit_would_drop_packets_total", []string{"from", "supervisory", "to", "control"}, 2},
		{"conduit_conduit_kernel_dropped_packets_total", []string{"from", "supervisory", "to", "control"}, 0},
	})
	if _, ok := value(t, fams, "conduit_kernel_queue_dropped_total", "queue", "5"); ok {
		t.Error("another program's queue 5 is reported")
	}
	if v, ok := value(t, fams, "conduit_rule_last_hit_timestamp_seconds", "rule", "default"); !ok || time.Since(time.Unix(int64(v), 0)) > time.Minute {
		t.Errorf("last hit of default: %v %v", v, ok)
	}
	if _, ok := value(t, fams, "conduit_rule_last_hit_timestamp_seconds", "rule", "never"); ok {
		t.Error("a last-hit time for a rule never hit")
	}
}

// TestCollectEvictionsByClass: a table of 2 with an allowed handshake and
// a monitored scan evicts only the scan's denied flows, and the class
// series say so next to the total.
func TestCollectEvictionsByClass(t *testing.T) {
	pol, err := rules.Parse("test.yaml", []byte(strings.Replace(policy, "zones:", "conntrack: {capacity: 2}\nzones:", 1)))
	if err != nil {
		t.Fatal(err)
	}
	e := engine.New(engine.Config{Store: inforce.NewStore(pol), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	w := e.Worker(0)
	w.Decide(syn("10.20.0.10", "10.10.0.10", 40000, 502)) // allowed: a handshake
	for i := range 3 {
		w.Decide(syn("10.30.0.10", "10.10.0.10", uint16(50000+i), 503)) // no zone: monitor, tracked, denied
	}
	checkSamples(t, Source{Engine: e, Kernel: func() ([]engine.KernelQueue, error) { return nil, nil }}, []sample{
		{"conduit_conntrack_evictions_total", nil, 2},
		{"conduit_conntrack_evictions_by_class_total", []string{"class", "denied"}, 2},
		{"conduit_conntrack_evictions_by_class_total", []string{"class", "handshake"}, 0},
		{"conduit_conntrack_evictions_by_class_total", []string{"class", "established"}, 0},
		{"conduit_conntrack_entries_by_class", []string{"class", "handshake"}, 1},
		{"conduit_conntrack_entries_by_class", []string{"class", "denied"}, 1},
		{"conduit_conntrack_entries_by_class", []string{"class", "closing"}, 0},
		{"conduit_conntrack_entries_by_class", []string{"class", "unanswered"}, 0},
	})
}

// scrape serves src's registry on a loopback port, as the daemon does,
// and returns the server (open until the test ends) and the body of one
// GET /metrics.
func scrape(t *testing.T, src Source) (*Server, string) {
	t.Helper()
	s, err := Listen("127.0.0.1:0", NewRegistry(src), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	resp, err := http.Get("http://" + s.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return s, string(b)
}

func TestServe(t *testing.T) {
	_, src := setup(t)
	s, body := scrape(t, src)
	for _, want := range []string{
		`conduit_verdicts_total{mode="enforce",queue="21",verdict="drop"} 2`,
		`conduit_verdict_latency_seconds_bucket{le="1e-06"} 0`,
		`conduit_policy_info{mode="monitor",sha256="`,
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if _, err := Listen(s.Addr().String(), NewRegistry(src), nil); err == nil {
		t.Error("a second Listen on a taken port succeeded")
	}
}

// TestCollectKernel: the kernel pre-filter's drops are the rules' counts
// and have their own series, with the unjudged accepts.
func TestCollectKernel(t *testing.T) {
	e, src := setup(t)
	e.SetKernelCounts(func() (engine.KernelCounts, error) {
		return engine.KernelCounts{
			Dropped: map[string]engine.KernelCounter{"default": {Packets: 1000, Bytes: 64000},
				"no-telnet": {Packets: 30, Bytes: 1800}},
			Unjudged: engine.KernelCounter{Packets: 17, Bytes: 1700},
			Layer2: []engine.Layer2Count{{EtherType: "goose", Verdict: "drop", Packets: 5, Bytes: 300},
				{EtherType: "arp", Verdict: "accept", Packets: 12, Bytes: 504}},
		}, nil
	})
	checkSamples(t, src, []sample{
		{"conduit_rule_packets_total", []string{"rule", "default"}, 1002},
		{"conduit_rule_bytes_total", []string{"rule", "default"}, 64080},
		{"conduit_rule_would_drop_packets_total", []string{"rule", "default"}, 1002},
		{"conduit_kernel_prefilter_dropped_packets_total", []string{"rule", "default"}, 1000},
		{"conduit_kernel_unjudged_packets_total", nil, 17},
		{"conduit_layer2_frames_total", []string{"ethertype", "goose", "verdict", "drop"}, 5},
		{"conduit_layer2_frame_bytes_total", []string{"ethertype", "arp", "verdict", "accept"}, 504},
		// A rule of one zone pair charges its pair; the default does not.
		{"conduit_conduit_kernel_dropped_packets_total", []string{"from", "supervisory", "to", "control"}, 30},
		{"conduit_conduit_would_drop_packets_total", []string{"from", "supervisory", "to", "control"}, 2},
	})
}
