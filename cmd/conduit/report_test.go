package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/conduit-ot/conduit/report"
	"github.com/conduit-ot/conduit/rules"
)

var reportPNG = flag.String("report-png", "", "write a screenshot of the plant report to this `file` (docs/report.png: make docs)")

// overridePolicy is the plant's policy with a conduit override that no
// traffic crosses: the map draws it all the same.
func overridePolicy(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(evidence, "plant.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, "\nconduits:\n  - {from: operations, to: control, mode: enforce}\n"...)
	path := filepath.Join(t.TempDir(), "plant.yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// chromium runs Debian's headless Chromium on args. Whatever the browser
// itself would fetch (it phones home) goes to a dead proxy, and no name
// resolves: the test reaches no network.
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (apt-get install chromium; .ci/run installs it): the report is not checked in a browser")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir(), "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND"}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %q: %v\n%s", args, err, errOut.String())
	}
	return out.Bytes()
}

// dom loads the page (with a fragment, maybe) and returns the document
// after its script ran.
func dom(t *testing.T, path, fragment string) *html.Node {
	t.Helper()
	u := url.URL{Scheme: "file", Path: path, Fragment: fragment}
	return parseHTML(t, chromium(t, "--virtual-time-budget=5000", "--dump-dom", u.String()))
}

func parseHTML(t *testing.T, b []byte) *html.Node {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// zoneArrows checks that each of zones is drawn once and returns the
// conduits' arrows by their "from->to".
func zoneArrows(t *testing.T, doc *html.Node, zones []rules.Zone) map[string]*html.Node {
	t.Helper()
	for _, z := range zones {
		if len(all(doc, "data-zone", z.Name)) != 1 {
			t.Errorf("zone %s not drawn once", z.Name)
		}
	}
	arrows := map[string]*html.Node{}
	for _, g := range all(doc, "data-conduit", "") {
		if g.Data == "g" {
			c, _ := attr(g, "data-conduit")
			arrows[c] = g
		}
	}
	return arrows
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// all returns the elements under n that carry key (with value val, unless
// val is "").
func all(n *html.Node, key, val string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if v, ok := attr(n, key); ok && (val == "" || v == val) {
				out = append(out, n)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

func hasClass(n *html.Node, class string) bool {
	v, _ := attr(n, "class")
	for _, c := range strings.Fields(v) {
		if c == class {
			return true
		}
	}
	return false
}

func num(t *testing.T, n *html.Node, key string) uint64 {
	t.Helper()
	v, _ := attr(n, key)
	x, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", key, v, err)
	}
	return x
}

// visibleRows are the matrix rows the page's filter leaves shown.
func visibleRows(doc *html.Node) []*html.Node {
	var out []*html.Node
	for _, body := range all(doc, "data-conduit", "") {
		if body.Data != "tbody" {
			continue
		}
		if _, hidden := attr(body, "hidden"); hidden {
			continue
		}
		for _, tr := range all(body, "data-verdict", "") {
			if _, hidden := attr(tr, "hidden"); !hidden {
				out = append(out, tr)
			}
		}
	}
	return out
}

// TestReportBrowser renders the report of the plant capture in headless
// Chromium and checks the page as the browser built it against `conduit
// replay --json` on the same capture and policy.
func TestReportBrowser(t *testing.T) {
	polPath := overridePolicy(t)
	pcap := filepath.Join(evidence, "plant.pcap")
	page := filepath.Join(t.TempDir(), "report.html")
	if code, out, errOut := evRun(t, runReport, "-o", page, "-c", polPath, pcap); code != 0 || !strings.Contains(out, "wrote "+page) {
		t.Fatalf("report: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := evRun(t, runReplay, "--json", "-c", polPath, pcap)
	if code != 0 {
		t.Fatalf("replay: exit %d: %s", code, errOut)
	}
	var rp replaySummary
	var rr struct {
		Rules []struct {
			Name           string
			Cleanup        bool
			Packets, Flows uint64
			WouldDrop      uint64 `json:"would_drop"`
		}
	}
	if err := json.Unmarshal([]byte(out), &rp); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &rr); err != nil {
		t.Fatal(err)
	}
	pol, err := rules.Load(polPath)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}

	doc := dom(t, page, "")

	// The header is a record of what was reviewed.
	for id, want := range map[string]string{"policy-file": polPath, "policy-sha256": pol.SHA256, "version": version,
		"first": "2024-03-04 06:00:00Z", "last": "2024-03-04 08:59:59Z", "mode": "monitor"} {
		n := all(doc, "id", id)
		if len(n) != 1 || strings.TrimSpace(text(n[0])) != want {
			t.Errorf("header %s: %v; want %q", id, n, want)
		}
	}

	// Every zone of the policy is drawn, and every conduit: the pairs
	// that carried traffic and the override that none crossed.
	arrows := zoneArrows(t, doc, pol.Zones)
	want := []string{"control->supervisory", "engineering->control", "engineering->operations", "operations->control",
		"supervisory->control", "supervisory->operations"}
	if len(arrows) != len(want) {
		t.Errorf("arrows %v; want %v", arrows, want)
	}
	var flows, wouldFlows uint64
	for _, c := range want {
		g := arrows[c]
		if g == nil {
			t.Errorf("conduit %s not drawn", c)
			continue
		}
		flows += num(t, g, "data-flows")
		wouldFlows += num(t, g, "data-would-drop")
		if len(all(g, "class", "conduit")) != 1 {
			t.Errorf("conduit %s has no path", c)
		}
		label := all(doc, "data-label", c)
		if len(label) != 1 || !strings.Contains(text(label[0]), fmt.Sprintf("%d flows", num(t, g, "data-flows"))) {
			t.Errorf("conduit %s: label %q", c, text(label[0]))
		}
	}
	if m, _ := attr(arrows["operations->control"], "data-mode"); m != "enforce" || num(t, arrows["operations->control"], "data-flows") != 0 ||
		!hasClass(arrows["operations->control"], "idle") {
		t.Errorf("the override: mode %q", m)
	}
	// The cleanup rule's DNS flow is the one would-drop; the rest allowed.
	if flows != rp.Flows || wouldFlows != 1 || !hasClass(arrows["engineering->operations"], "would-drop") {
		t.Errorf("map: %d flows, %d would-drop; replay: %d flows", flows, wouldFlows, rp.Flows)
	}

	// The totals and every rule's counters are replay's.
	tot := all(doc, "id", "totals")[0]
	for k, v := range map[string]uint64{"data-packets": rp.Packets, "data-flows": rp.Flows, "data-would-drop": rp.WouldDrop,
		"data-accept": rp.Verdicts.Accept, "data-drop": rp.Verdicts.Drop, "data-malformed": rp.Malformed} {
		if got := num(t, tot, k); got != v {
			t.Errorf("totals %s %d; replay %d", k, got, v)
		}
	}
	ruleRows := map[string]*html.Node{}
	for _, tr := range all(doc, "data-rule", "") {
		name, _ := attr(tr, "data-rule")
		ruleRows[name] = tr
	}
	if len(rr.Rules) != len(ruleRows) {
		t.Errorf("%d rules shown; replay has %d", len(ruleRows), len(rr.Rules))
	}
	for _, r := range rr.Rules {
		tr := ruleRows[r.Name]
		if tr == nil {
			t.Errorf("rule %s missing", r.Name)
			continue
		}
		if num(t, tr, "data-packets") != r.Packets || num(t, tr, "data-flows") != r.Flows || num(t, tr, "data-would-drop") != r.WouldDrop {
			t.Errorf("rule %s: %v; replay %+v", r.Name, tr.Attr, r)
		}
		if hasClass(tr, "cleanup") != r.Cleanup {
			t.Errorf("rule %s: cleanup highlighted %v, replay says %v", r.Name, hasClass(tr, "cleanup"), r.Cleanup)
		}
	}

	// Readiness for the box and each conduit between zones of the policy,
	// as `conduit ready` judges it at the end of the capture: the cleanup
	// rule caught the workstation's DNS 3 hours before the end, short of
	// the 14 days.
	ready := map[string]string{}
	for _, h := range all(doc, "data-readiness", "") {
		c, _ := attr(h, "data-readiness")
		ready[c] = strings.TrimSpace(text(h))
	}
	if len(ready) != 1+len(want) || !strings.Contains(ready[""], "not ready") {
		t.Errorf("readiness %q", ready)
	}
	for _, c := range want {
		code, out, _ := evRun(t, runReady, "--json", "--conduit", c, "-c", polPath, pcap)
		var rr readyReport
		if err := json.Unmarshal([]byte(out), &rr); err != nil {
			t.Fatalf("ready %s: exit %d %v", c, code, err)
		}
		if !strings.HasSuffix(ready[c], ": "+rr.Verdict) {
			t.Errorf("readiness of %s: %q; conduit ready says %q", c, ready[c], rr.Verdict)
		}
	}
	if n := all(ruleRows["cleanup"], "class", "narrowing"); len(n) != 1 || !strings.Contains(text(n[0]), "candidate rules") {
		t.Errorf("the cleanup rule's candidates: %v", n)
	}

	// The matrix accounts for every packet (all tracked, in monitor).
	rows := visibleRows(doc)
	var packets uint64
	for _, tr := range rows {
		packets += num(t, tr, "data-packets")
	}
	if packets != rp.Packets || len(rows) < 10 {
		t.Errorf("matrix: %d rows, %d packets; replay %d packets", len(rows), packets, rp.Packets)
	}
	if s, _ := attr(all(doc, "id", "shown")[0], "id"); s == "" || strings.TrimSpace(text(all(doc, "id", "shown")[0])) != strconv.Itoa(len(rows)) {
		t.Errorf("shown %q; %d rows", text(all(doc, "id", "shown")[0]), len(rows))
	}

	// Filtering in the page: the fragment sets the filter box and the
	// verdict choice, as a reviewer typing would.
	t.Run("filter", func(t *testing.T) {
		// count is how many of the rows hold every term.
		count := func(terms ...string) int {
			n := 0
			for _, tr := range rows {
				ok := true
				for _, term := range terms {
					ok = ok && strings.Contains(strings.ToLower(text(tr)), term)
				}
				if ok {
					n++
				}
			}
			return n
		}
		has := func(terms ...string) func(*html.Node) bool {
			return func(tr *html.Node) bool {
				for _, term := range terms {
					if !strings.Contains(strings.ToLower(text(tr)), term) {
						return false
					}
				}
				return true
			}
		}
		for _, tt := range []struct {
			fragment string
			want     int
			check    func(tr *html.Node) bool
		}{
			{"filter=10.20.0.33", count("10.20.0.33"), has("10.20.0.33")},
			{"verdict=would-drop", 1, has("cleanup", "10.20.0.33", "dns")},
			{"filter=write_var+10.20.0.33", count("write_var", "10.20.0.33"), has("write_var", "10.20.0.33")},
			{"filter=no-such-host", 0, nil},
		} {
			if tt.want == len(rows) {
				t.Errorf("#%s would filter nothing", tt.fragment)
			}
			d := dom(t, page, tt.fragment)
			got := visibleRows(d)
			if len(got) != tt.want || tt.want == 0 && len(all(d, "data-shown", "0")) != 1 {
				t.Errorf("#%s: %d rows shown; want %d", tt.fragment, len(got), tt.want)
			}
			for _, tr := range got {
				if !tt.check(tr) {
					t.Errorf("#%s shows %q", tt.fragment, text(tr))
				}
			}
		}
		if count("write_var", "10.20.0.33") != 1 {
			t.Errorf("the workstation's S7 writes are in %d rows", count("write_var", "10.20.0.33"))
		}
	})

	t.Run("sort", func(t *testing.T) {
		d := dom(t, page, "sort=8&dir=descending")
		for _, body := range all(d, "data-conduit", "") {
			if body.Data != "tbody" {
				continue
			}
			prev := uint64(1 << 63)
			for _, tr := range all(body, "data-verdict", "") {
				p := num(t, tr, "data-packets")
				if p > prev {
					t.Errorf("conduit %v: not sorted by packets, descending", body.Attr)
				}
				prev = p
			}
		}
	})

	// Nothing outside the file: no reference in it, the browser's
	// resource timing of a copy without the page's content security policy
	// (which would block a load) counts no fetch, and the same probe does
	// count one that a page makes.
	t.Run("self-contained", func(t *testing.T) {
		if m := regexp.MustCompile(`(?i)https?:|//|\bsrc\s*=|\bhref\s*=\s*["']?[^#"'\s]`).Find(raw); m != nil {
			t.Errorf("the report refers to %q", m)
		}
		csp := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy"[^>]*>`)
		if !csp.Match(raw) {
			t.Fatal("no content security policy")
		}
		probe := `<script>window.addEventListener("load", function () { document.documentElement.setAttribute("data-resources", String(performance.getEntriesByType("resource").length)); });</script>`
		for _, tt := range []struct {
			name, extra string
			want        string
		}{{"report", "", "0"}, {"control: a page that fetches", `<img src="http://192.0.2.1/x.png" alt="">`, "1"}} {
			p := csp.ReplaceAll(raw, nil)
			p = bytes.Replace(p, []byte("</body>"), []byte(tt.extra+probe+"</body>"), 1)
			path := filepath.Join(t.TempDir(), "probe.html")
			if err := os.WriteFile(path, p, 0o644); err != nil {
				t.Fatal(err)
			}
			if n := all(dom(t, path, ""), "data-resources", ""); len(n) != 1 || n[0].Attr[len(n[0].Attr)-1].Val != tt.want {
				v := "none"
				if len(n) == 1 {
					v, _ = attr(n[0], "data-resources")
				}
				t.Errorf("%s: %s resources fetched; want %s", tt.name, v, tt.want)
			}
		}
	})

	if *reportPNG != "" {
		// The README's picture: the plant's own policy, named as in the
		// repository.
		wd, _ := os.Getwd()
		if err := os.Chdir(filepath.Join(evidence, "../..")); err != nil {
			t.Fatal(err)
		}
		page := filepath.Join(t.TempDir(), "plant.html")
		code, out, errOut := evRun(t, runReport, "-o", page, "-c", "testdata/replay/plant.yaml", "testdata/replay/plant.pcap")
		os.Chdir(wd)
		if code != 0 {
			t.Fatalf("report: exit %d\n%s%s", code, out, errOut)
		}
		shot := filepath.Join(t.TempDir(), "shot.png")
		chromium(t, "--window-size=1400,1800", "--screenshot="+shot, "file://"+page)
		b, err := os.ReadFile(shot)
		if err != nil || len(b) < 1000 {
			t.Fatalf("screenshot: %v (%d bytes)", err, len(b))
		}
		if err := os.WriteFile(*reportPNG, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestReportDaemon builds the report from a running daemon core over its
// control socket: status, hits and the flows in its table.
func TestReportDaemon(t *testing.T) {
	r := newOpsRig(t)
	r.decideFour()

	page := filepath.Join(t.TempDir(), "daemon.html")
	out, errOut, code := r.run(t, runReport, "-o", page)
	if code != 0 || !strings.Contains(out, "wrote "+page) {
		t.Fatalf("report: exit %d\n%s%s", code, out, errOut)
	}
	raw, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	doc := parseHTML(t, raw)
	pol := r.o.store.Load().Policy
	if n := all(doc, "id", "policy-sha256"); len(n) != 1 || text(n[0]) != pol.SHA256 {
		t.Errorf("sha256 %v", n)
	}
	if n := all(doc, "id", "policy-file"); len(n) != 1 || text(n[0]) != r.file {
		t.Errorf("policy file %v", n)
	}
	arrows := zoneArrows(t, doc, pol.Zones)
	if g := arrows["operations->control"]; g == nil || num(t, g, "data-flows") != 1 {
		t.Errorf("the enforced conduit: %v", g)
	} else if m, _ := attr(g, "data-mode"); m != "enforce" {
		t.Errorf("operations->control mode %q", m)
	}
	if g := arrows["supervisory->control"]; g == nil || num(t, g, "data-flows") != 3 || num(t, g, "data-would-drop") != 0 {
		t.Errorf("supervisory->control: %v", g)
	}
	rows := visibleRows(doc)
	var flows uint64
	for _, tr := range rows {
		flows += num(t, tr, "data-flows")
	}
	if flows != 4 {
		t.Errorf("matrix: %d flows; the table holds 4", flows)
	}
	tot := all(doc, "id", "totals")[0]
	if num(t, tot, "data-packets") != 4 || num(t, tot, "data-flows") != 4 {
		t.Errorf("totals %v", tot.Attr)
	}
	for name, packets := range map[string]uint64{"hmi-polls-plc": 2, "cleanup": 2, "default": 0} {
		tr := all(doc, "data-rule", name)
		if len(tr) != 1 || num(t, tr[0], "data-packets") != packets {
			t.Errorf("rule %s: %v", name, tr)
		}
	}
	if err := report.SelfContained(raw); err != nil {
		t.Error(err)
	}
	// Coverage and readiness, as the daemon's coverage and ready answer.
	if tr := all(doc, "data-rule", "hmi-polls-plc"); len(tr) != 1 || !strings.Contains(text(tr[0]), "10.20.0.11 -> 10.10.0.10 tcp/502: 1 flow") {
		t.Errorf("coverage of hmi-polls-plc: %q", text(tr[0]))
	}
	if h := all(doc, "data-readiness", "operations->control"); len(h) != 1 || !strings.Contains(text(h[0]), "not ready") {
		t.Errorf("readiness of the enforced conduit: %v", h)
	}

	// No daemon: the report says so and fails.
	if code, _, errOut := evRun(t, runReport, "-o", page, "--socket", filepath.Join(t.TempDir(), "none.sock")); code != 1 || !strings.Contains(errOut, "conduit status") {
		t.Errorf("no daemon: exit %d: %s", code, errOut)
	}
	// Captures and a socket at once is a usage error.
	if code, _, _ := evRun(t, runReport, "-o", page, "--socket", r.socket, "-c", r.file, "x.pcap"); code != 2 {
		t.Errorf("both: exit %d", code)
	}
}
