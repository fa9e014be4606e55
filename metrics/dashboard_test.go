package metrics

import (
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/engine/ctnl"
)

const dashboardFile = "../deploy/grafana/conduit.json"

// grafanaPanel is what the test reads of a dashboard panel.
type grafanaPanel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	GridPos *struct{ X, Y, W, H int } `json:"gridPos"`
	Panels  []grafanaPanel            `json:"panels"` // a collapsed row's
}

type grafanaDashboard struct {
	Title      string         `json:"title"`
	UID        string         `json:"uid"`
	Panels     []grafanaPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
	Annotations struct {
		List []struct {
			Expr string `json:"expr"`
		} `json:"list"`
	} `json:"annotations"`
}

// metricName finds the series names an expression reads; conduit's own
// all start with conduit_ (the Go and process collectors' are not used).
var metricName = regexp.MustCompile(`\bconduit_[a-zA-Z0-9_]+`)

// variable finds the dashboard variables an expression uses; Grafana's
// own ($__rate_interval, $__interval, $__range) start with two
// underscores.
var variable = regexp.MustCompile(`\$([a-zA-Z][a-zA-Z0-9_]*)`)

// noKernelConntrack is a kernel connection table with nothing in it: the
// fast path is on, and no kernel is needed.
type noKernelConntrack struct{}

func (noKernelConntrack) SetMark(ctnl.Tuple, uint32, uint32) error { return ctnl.ErrNoEntry }
func (noKernelConntrack) Get(ctnl.Tuple) (ctnl.Entry, error)       { return ctnl.Entry{}, ctnl.ErrNoEntry }
func (noKernelConntrack) Delete(ctnl.Tuple) error                  { return ctnl.ErrNoEntry }
func (noKernelConntrack) DumpMarked(uint32) ([]ctnl.Entry, error)  { return nil, nil }
func (noKernelConntrack) Close() error                             { return nil }

// served scrapes /metrics of an engine that has seen allowed and denied
// packets, with kernel queues, pre-filter counts (of a single-pair rule
// too) and the fast path on, and returns the sample names (histogram
// series as _bucket, _sum, _count).
func served(t *testing.T) map[string]bool {
	t.Helper()
	e, src := setup(t)
	e.SetKernelCounts(func() (engine.KernelCounts, error) {
		return engine.KernelCounts{
			Dropped:  map[string]engine.KernelCounter{"default": {Packets: 10, Bytes: 640}, "no-telnet": {Packets: 2, Bytes: 120}},
			Unjudged: engine.KernelCounter{Packets: 3, Bytes: 180},
			Layer2:   []engine.Layer2Count{{EtherType: "profinet", Verdict: "would_drop", Packets: 4, Bytes: 240}},
		}, nil
	})
	open := func() (engine.KernelConntrack, error) { return noKernelConntrack{}, nil }
	if err := e.EnableFastpath(engine.FastpathConfig{Mark: 1 << 30, Open: open}); err != nil {
		t.Fatal(err)
	}
	src.Fastpath = func() (uint64, uint64, bool) { return 1234, 567890, true }
	_, body := scrape(t, src)
	names := map[string]bool{}
	for l := range strings.Lines(body) {
		if strings.HasPrefix(l, "#") {
			continue
		}
		if i := strings.IndexAny(l, "{ "); i > 0 {
			names[l[:i]] = true
		}
	}
	return names
}

// TestDashboard: every series the Grafana dashboard queries is one that
// conduit's /metrics serves, every variable it uses is defined, and
// every panel is placed and has a query.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("%s: no title, uid or panels", dashboardFile)
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	var exprs []string
	ids := map[int]bool{}
	var walk func([]grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d used twice", p.ID)
			}
			ids[p.ID] = true
			if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 {
				t.Errorf("panel %q has no place", p.Title)
			}
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q queries nothing", p.Title)
			}
			for _, tg := range p.Targets {
				if tg.RefID == "" || tg.Expr == "" {
					t.Errorf("panel %q: a target without refId or expr", p.Title)
				}
				exprs = append(exprs, tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			exprs = append(exprs, a.Expr)
		}
	}

	have := served(t)
	queried := map[string]bool{}
	for _, e := range exprs {
		names := metricName.FindAllString(e, -1)
		if len(names) == 0 {
			t.Errorf("%q reads no conduit series", e)
		}
		for _, n := range names {
			queried[n] = true
		}
		for _, m := range variable.FindAllStringSubmatch(e, -1) {
			if !vars[m[1]] {
				t.Errorf("%q uses $%s, which the dashboard does not define", e, m[1])
			}
		}
	}
	missing := maps.Clone(queried)
	maps.DeleteFunc(missing, func(n string, _ bool) bool { return have[n] })
	if len(missing) > 0 {
		t.Errorf("the dashboard queries series /metrics does not serve: %v", slices.Sorted(maps.Keys(missing)))
	}
	// The families the issue asks for are on the dashboard.
	for _, n := range []string{"conduit_verdicts_total", "conduit_would_drop_total", "conduit_rule_would_drop_packets_total",
		"conduit_rule_packets_total", "conduit_rule_flows_total", "conduit_rule_last_hit_timestamp_seconds",
		"conduit_conntrack_entries", "conduit_conntrack_capacity", "conduit_conntrack_evictions_by_class_total",
		"conduit_kernel_queue_dropped_total", "conduit_kernel_unjudged_packets_total",
		"conduit_kernel_prefilter_dropped_packets_total", "conduit_verdict_latency_seconds_bucket",
		"conduit_conduit_would_drop_packets_total", "conduit_conduit_denied_flows_total",
		"conduit_conduit_kernel_dropped_packets_total", "conduit_conduit_flows_total",
		"conduit_fastpath_flows", "conduit_fastpath_offloads_total", "conduit_fastpath_accepted_packets_total",
		"conduit_layer2_frames_total"} {
		if !queried[n] {
			t.Errorf("the dashboard does not show %s", n)
		}
	}
	// The check can fail: a name conduit does not serve is caught.
	if have["conduit_no_such_series_total"] || !have["conduit_verdict_latency_seconds_bucket"] {
		t.Error("the scrape's names are wrong")
	}
}
