package rules

import (
	"bytes"
	"errors"
	"flag"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/policies/broken/*.want from the current output")

const policyDir = "../testdata/policies"

// TestBrokenPolicies loads every broken/*.yaml and compares the complete
// error list with its .want file.
func TestBrokenPolicies(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(policyDir, "broken", "*.yaml"))
	if err != nil || len(files) < 10 {
		t.Fatalf("broken policies missing: %v %v", files, err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".yaml"), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			errs := mustFail(t, name, string(data))
			got := errs.Error() + "\n"
			wantFile := strings.TrimSuffix(f, ".yaml") + ".want"
			if *update {
				if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantFile)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("errors differ\n--- got\n%s--- want\n%s", got, want)
			}
			for _, d := range errs.List {
				if d.Line < 1 || d.Col < 1 || d.File != name || d.Warning {
					t.Errorf("diagnostic without a position: %+v", d)
				}
			}
		})
	}
}

// syntaxHead is the start of the policies in TestParseSyntaxErrors; their
// rules begin on line 6.
const syntaxHead = `mode: monitor
zones:
  ops: {level: 3, cidrs: [10.30.0.0/24]}
  plc: {level: 1, cidrs: [10.10.0.0/24]}
rules:
`

// TestParseSyntaxErrors covers the mistakes of editing a policy by hand:
// each must be reported at the line and column of the character to fix
// (at names that character), with a hint in plain words.
func TestParseSyntaxErrors(t *testing.T) {
	rule := "  - name: poll\n    from: ops\n    to: plc\n" // lines 6-8
	pad := strings.Repeat("  - {name: r, from: ops, to: plc}\n", 20)
	cases := []struct {
		name      string
		src       string
		line, col int
		at        string // the character at line:col
		hint      string
	}{
		{"tab indenting a key", rule + "\t proto: tcp\n", 9, 1, "\t", "a tab in the indentation"},
		{"tab after spaces", rule + "    \tdport: 502\n", 9, 5, "\t", "a tab in the indentation"},
		{"tab on the first line", "\tmode: monitor\n", 1, 1, "\t", "a tab in the indentation"},
		{"unclosed double quote", rule + "    description: \"HMI polling\n    proto: tcp\n", 9, 18, `"`, `this " is never closed`},
		{"unclosed quote closed by a later one", rule + "    description: \"HMI\n  - name: b\n    description: \"x\"\n", 9, 18, `"`, `this " is never closed`},
		{"unclosed single quote", rule + "    description: 'HMI polling\n", 9, 18, "'", "this ' is never closed"},
		{"apostrophe in single quotes", rule + "    description: 'the PLC's registers'\n", 9, 26, "'", "write ' inside '...' as ''"},
		{"text after a closing quote", rule + "    description: \"HMI\" polling\n", 9, 24, "p", "quote the whole value"},
		{"unclosed [", rule + "    dport: [502, 503\n    proto: tcp\n", 9, 12, "[", "this [ is never closed"},
		{"unclosed [ at the end", rule + "    dport: [502, 503\n", 9, 12, "[", "this [ is never closed"},
		{"unclosed { in zones", "zones:\n  ops: {level: 3, cidrs: [10.30.0.0/24]\n  plc: {level: 1}\n", 2, 8, "{", "this { is never closed"},
		{"unclosed [ inside {", "zones:\n  ops: {level: 3, cidrs: [10.30.0.0/24}\n", 2, 39, "}", "this } closes the [ at column 26"},
		{"missing comma in a flow mapping", "zones:\n  ops: {level: 3 cidrs: [10.30.0.0/24]}\n", 2, 18, "c", "a ',' is missing before this key"},
		{"empty list entry", rule + "    dport: [502,,503]\n", 9, 17, ",", "nothing before this ','"},
		{"key indented too deep", rule + "     proto: tcp\n", 9, 6, "p", "indented 5 spaces, the line above 4"},
		{"key indented too shallow", rule + "   proto: tcp\n", 9, 4, "p", "check this line's indentation"},
		{"key at the list's depth", rule + "  proto: tcp\n", 9, 3, "p", "check this line's indentation"},
		{"missing space after ':'", rule + "    proto:tcp\n    dport: 502\n", 9, 10, ":", "put a space after ':'"},
		{"missing space after ':' on the last key", rule + "    proto:tcp\n  - name: b\n", 9, 10, ":", "put a space after ':'"},
		{"missing space after ':' in a list item", "rules:\n  - name:poll\n    from: ops\n", 2, 9, ":", "put a space after ':'"},
		{"missing ':'", rule + "    proto tcp\n    dport: 502\n", 9, 5, "p", "a key needs ': ' after it"},
		{"': ' inside a value", rule + "    description: ports: 502 and 503\n", 9, 23, ":", "must be in quotes"},
		{"list item too deep", rule + "   - name: b\n", 9, 4, "-", "check this line's indentation"},
		{"list item under a key's depth", rule + "    - name: b\n", 9, 5, "-", "a list item where a key was expected"},
		{"list item left of its list", rule + " - name: b\n", 9, 2, "-", "a list item where a key was expected"},
		{"list item deeper than its list", "rules:\n  - {name: a}\n     - {name: b}\n", 3, 6, "-", "check this line's indentation"},
		{"duplicate key", rule + "    to: ops\n", 9, 5, "t", "to is set twice (first at line 8)"},
		{"list item on its key's line", rule + "    dport: - 502\n", 9, 12, "-", "start it on the next line"},
		{"windows path in double quotes", "log: {file: \"C:\\logs\\conduit.log\"}\n", 1, 16, `\`, "use '...' for a path"},
		{"value starting with @", rule + "    description: @ops\n", 9, 18, "@", "put it in quotes"},
		{"control character", rule + "    description: bell\a\n", 9, 22, "\a", "control character U+0007"},
		// A multi-line flow list or quoted value that is valid makes shorter
		// prefixes fail: the error below it must still be found.
		{"multi-line list before the error", "zones:\n  ops: {level: 3,\n" + strings.Repeat("    cidrs: [10.30.0.0/24,\n", 1) +
			strings.Repeat("      10.31.0.0/24,\n", 20) + "      10.32.0.0/24]}\n  plc: {level: 1}\n\tdmz: {level: 3.5}\n", 26, 1, "\t", "a tab in the indentation"},
		{"multi-line quote before the error", rule + "    description: \"HMI polling,\n" + strings.Repeat("      matrix row 12\n", 25) +
			"      and 13\"\n" + pad + "  - name: b\n    from: ops\n     to: plc\n", 58, 6, "t", "indented 5 spaces"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := c.src
			if !strings.HasPrefix(src, "zones:") && !strings.HasPrefix(src, "rules:") && !strings.HasPrefix(src, "log:") && !strings.HasPrefix(src, "\t") {
				src = syntaxHead + src
			}
			d := mustFail(t, "p.yaml", src).List[0]
			if d.Line != c.line || d.Col != c.col || !strings.Contains(d.Msg, c.hint) {
				t.Errorf("got %s\nwant p.yaml:%d:%d: ...%s...", d, c.line, c.col, c.hint)
			}
			if got := charAt(src, c.line, c.col); got != c.at {
				t.Errorf("line %d col %d is %q, want %q (test case is wrong)", c.line, c.col, got, c.at)
			}
		})
	}
}

// charAt returns the character at a 1-based line and column of src.
func charAt(src string, line, col int) string {
	lines := strings.Split(src, "\n")
	if line > len(lines) {
		return ""
	}
	r := []rune(lines[line-1])
	if col > len(r) {
		return ""
	}
	return string(r[col-1])
}

func TestPlantPolicy(t *testing.T) {
	path := filepath.Join(policyDir, "plant.yaml")
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.File != path || len(p.SHA256) != 64 {
		t.Errorf("File %q SHA256 %q", p.File, p.SHA256)
	}
	if len(p.Warnings) != 0 {
		t.Errorf("plant policy has warnings: %v", p.Warnings)
	}
	if p.Mode != ModeMonitor || p.Default != ActionDeny || len(p.Zones) != 6 || len(p.Conduits) != 2 {
		t.Errorf("mode %v default %v zones %d conduits %d", p.Mode, p.Default, len(p.Zones), len(p.Conduits))
	}
	if p.Conntrack.Timeouts.TCPEstablished != 7*24*time.Hour || p.Queue.Count != 2 {
		t.Errorf("conntrack %+v queue %+v", p.Conntrack, p.Queue)
	}
	last := p.Rules[len(p.Rules)-1]
	if !last.Cleanup || last.Name != "cleanup" {
		t.Errorf("last rule %+v", last)
	}
	cases := []struct {
		src, dst string
		proto    uint8
		dport    uint16
		want     string
	}{
		{"10.20.0.11", "10.10.0.5", ProtoTCP, 502, "hmi-polls-plcs"},
		{"10.20.0.33", "10.10.0.5", ProtoTCP, 502, "ews-programs-plcs"}, // engineering is nested in supervisory
		{"10.20.0.33", "10.10.0.5", ProtoICMP, 8, "ews-pings-plcs"},     // dport is the ICMP type here
		{"10.20.0.33", "10.10.0.5", ProtoICMP, 0, "cleanup"},
		{"10.10.0.5", "10.20.0.11", ProtoTCP, 40000, "cleanup"}, // a reply direction packet is no request
		{"10.40.10.7", "10.35.0.20", ProtoTCP, 3389, "admins-to-jump-host"},
		{"10.40.10.7", "10.30.0.25", ProtoTCP, 3389, "deny-enterprise-to-plant"},
		{"10.35.0.40", "10.40.0.123", ProtoUDP, 123, "cleanup"}, // ntp-dmz also wants sport 123
		{"192.0.2.1", "10.10.0.5", ProtoTCP, 502, "cleanup"},
	}
	for _, c := range cases {
		q := Query{Src: netip.MustParseAddr(c.src), Dst: netip.MustParseAddr(c.dst), Proto: c.proto, SrcPort: 40000, DstPort: c.dport}
		if c.proto == ProtoICMP {
			q.SrcPort, q.DstPort, q.ICMPType = 0, 0, uint8(c.dport)
		}
		p.SetZones(&q)
		if got := p.RuleName(p.Match(&q)); got != c.want {
			t.Errorf("%s -> %s %s/%d: %s, want %s", c.src, c.dst, ProtoName(c.proto), c.dport, got, c.want)
		}
	}
	sup, _ := p.ZoneByName("supervisory")
	ctl, _ := p.ZoneByName("control")
	if p.ModeFor(sup, ctl) != ModePassthrough || p.ModeFor(ctl, sup) != ModeMonitor {
		t.Errorf("conduit modes %v %v", p.ModeFor(sup, ctl), p.ModeFor(ctl, sup))
	}
}

func TestDefaults(t *testing.T) {
	p := mustParse(t, `
zones:
  a: {level: 3, cidrs: [10.0.0.0/24]}
rules:
  - {name: ping, from: a, to: a, proto: icmp}
`)
	want := Policy{
		Mode:      ModeMonitor,
		Queue:     QueueConfig{Num: 0, Count: 1, FailOpen: true, OverloadAccept: true, NFLOGGroup: DefaultNFLOGGroup},
		Conntrack: ConntrackConfig{Capacity: 65536, Pickup: true, Seed: true, Timeouts: DefaultTimeouts},
		Log:       LogConfig{File: "-"},
		Control:   ControlConfig{Socket: "/run/conduit.sock"},
		Default:   ActionDeny,
	}
	if p.Mode != want.Mode || p.Queue != want.Queue || p.Conntrack != want.Conntrack || p.Log != want.Log ||
		p.Control != want.Control || p.Default != want.Default || p.Metrics.Listen != "" {
		t.Errorf("defaults: got %+v", p)
	}
	if DefaultTimeouts != (Timeouts{TCPEstablished: 24 * time.Hour, TCPHandshake: 30 * time.Second, TCPClosing: 2 * time.Minute, UDP: 10 * time.Minute, ICMP: 30 * time.Second, Other: 10 * time.Minute}) {
		t.Errorf("DefaultTimeouts = %+v", DefaultTimeouts)
	}
	r := p.Rules[0]
	if r.Action != ActionAllow || !r.Log || r.Cleanup || r.IdleTimeout != 0 || r.Index != 0 || r.Line != 5 || r.Col != 5 {
		t.Errorf("rule defaults: %+v", r)
	}
	if p.File != "" {
		t.Errorf("Parse set File to %q", p.File)
	}
}

func TestWarnings(t *testing.T) {
	const zones = `
zones:
  ent:  {level: 4, cidrs: [10.4.0.0/16]}
  dmz:  {level: dmz, cidrs: [10.35.0.0/24]}
  ops:  {level: 3, cidrs: [10.3.0.0/16]}
  cell: {level: 2, cidrs: [10.2.0.0/16]}
  plc:  {level: 1, cidrs: [10.1.0.0/16]}
`
	cases := []struct {
		name, src string
		want      []string // "line:col: substring"
	}{
		{"clean", zones + `
rules:
  - {name: a, from: ent, to: dmz, proto: tcp, dport: 443}
  - {name: b, from: dmz, to: ops, proto: tcp, dport: 443}
  - {name: c, from: ops, to: cell, proto: tcp, dport: 443}
  - {name: d, from: cell, to: plc, proto: tcp, dport: 502}
`, nil},
		{"shadowed by a superset", zones + `
rules:
  - {name: wide, from: cell, to: plc, proto: tcp, dport: [500-510, 20000]}
  - {name: narrow, from: cell, to: 10.1.2.3, proto: tcp, dport: 502}
  - {name: any-proto, from: 10.2.5.0/24, to: plc}
  - {name: narrower, from: 10.2.5.7, to: plc, proto: udp}
  - {name: not-covered, from: cell, to: plc, proto: tcp, dport: 511}
  - {name: host-zone, from: 10.2.0.0/16, to: [plc], proto: tcp, dport: 502}
  - {name: unknown-src, from: unknown, to: plc, proto: tcp, dport: 502}
`, []string{
			"11:5: rule narrow can never match: rule wide (line 10) above it",
			"13:5: rule narrower can never match: rule any-proto (line 12) above it",
			"15:5: rule host-zone can never match: rule wide (line 10) above it",
			"3:3: zone ent is not used by any rule",
			"4:3: zone dmz is not used by any rule",
			"5:3: zone ops is not used by any rule",
		}},
		{"nested zone is not covered by its parent", `
zones:
  site: {level: 3, cidrs: [10.0.0.0/8]}
  cell: {level: 3, cidrs: [10.1.0.0/16]}
rules:
  - {name: site-any, from: site, to: any}
  - {name: cell-any, from: 10.1.2.0/24, to: any, proto: tcp}
  - {name: site-sub, from: 10.2.0.0/16, to: any, proto: tcp}
`, []string{
			"8:5: rule site-sub can never match: rule site-any (line 6)",
		}},
		{"any to any and cleanup in enforce", zones + `
mode: enforce
conduits:
  - {from: cell, to: plc, mode: enforce}
rules:
  - {name: a, from: ent, to: dmz}
  - {name: b, from: dmz, to: ops}
  - {name: c, from: ops, to: cell}
  - {name: d, from: cell, to: plc}
  - {name: open, from: any, to: any, proto: udp}
  - {name: cleanup, from: any, to: any, cleanup: true, log: false}
`, []string{
			"17:5: rule open allows any to any (udp); mark it cleanup: true",
			"18:5: the cleanup rule cleanup makes enforce allow everything: the global mode, conduit cell -> plc (line 11) are in enforce mode",
			"18:5: the cleanup rule cleanup has log: false",
		}},
		{"an explicit deny of the pair above a global cleanup rule: no warning", zones + `
conduits:
  - {from: ops, to: cell, mode: enforce}
  - {from: cell, to: plc, mode: enforce}
rules:
  - {name: a, from: ops, to: cell, proto: tcp, dport: 502}
  - {name: b, from: cell, to: plc, proto: tcp, dport: 502}
  - {name: no-ops-cell, from: ops, to: cell, action: deny}
  - {name: cleanup, from: any, to: any, cleanup: true}
`, []string{
			"3:3: zone ent is not used", "4:3: zone dmz is not used",
			"16:5: the cleanup rule cleanup makes enforce allow everything: conduit cell -> plc (line 11) is in enforce mode",
		}},
		{"scoped cleanup rules follow their conduit's mode", zones + `
conduits:
  - {from: ops, to: cell, mode: enforce}
  - {from: cell, to: plc, mode: enforce}
rules:
  - {name: a, from: ops, to: cell, proto: tcp, dport: 502}
  - {name: b, from: cell, to: plc, proto: tcp, dport: 502}
  - {name: cleanup-ops-cell, from: ops, to: cell, cleanup: true}
  - {name: cleanup-cell-plc, from: cell, to: plc, action: deny, cleanup: true}
  - {name: cleanup, from: any, to: any, cleanup: true}
`, []string{
			"3:3: zone ent is not used", "4:3: zone dmz is not used",
			"15:5: the cleanup rule cleanup-ops-cell makes enforce allow everything: conduit ops -> cell (line 10) is in enforce mode",
		}},
		{"purdue crossings", zones + `
rules:
  - {name: ent-plc, from: ent, to: plc, proto: tcp, dport: 502}
  - {name: ent-ops, from: 10.4.1.0/24, to: ops, proto: tcp, dport: 443}
  - {name: ops-plc, from: ops, to: [10.1.0.5], proto: tcp, dport: 502}
  - {name: dmz-cell, from: dmz, to: cell, proto: tcp, dport: 3389}
  - {name: deny-ent-plc, from: ent, to: plc, action: deny}
  - {name: ent-dmz, from: ent, to: dmz, proto: tcp, dport: 443}
`, []string{
			"10:5: rule ent-plc: ent (level 4) to plc (level 1) goes straight from level 4 to level 1 without passing the DMZ",
			"11:5: rule ent-ops: ent (level 4) to ops (level 3) goes straight from level 4 to level 3 without passing the DMZ",
			"12:5: rule ops-plc: ops (level 3) to plc (level 1) crosses more than one Purdue level in one hop",
			"13:5: rule dmz-cell: dmz (level dmz) to cell (level 2) crosses more than one Purdue level in one hop",
		}},
		{"no rules", `
zones:
  a: {level: 3, cidrs: [10.0.0.0/24]}
rules: []
`, []string{"4:1: the policy has no rules: every packet meets the default (deny)", "3:3: zone a is not used by any rule"}},
		{"default allow", `
zones:
  a: {level: 3, cidrs: [10.0.0.0/24]}
rules:
  - {name: ping, from: a, to: a, proto: icmp}
default: allow
`, []string{"6:1: default: allow lets through everything"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustParse(t, c.src)
			var got []string
			for _, w := range p.Warnings {
				got = append(got, w.String())
			}
			if len(got) != len(c.want) {
				t.Errorf("got %d warnings, want %d:\n%s", len(got), len(c.want), strings.Join(got, "\n"))
			}
			for _, w := range c.want {
				found := false
				for _, g := range got {
					found = found || strings.HasPrefix(g, "t.yaml:"+w[:strings.Index(w, " ")]) && strings.Contains(g, w[strings.Index(w, " ")+1:])
				}
				if !found {
					t.Errorf("missing warning %q in:\n%s", w, strings.Join(got, "\n"))
				}
			}
			for _, g := range got {
				if !strings.Contains(g, ": warning: ") {
					t.Errorf("warning not formatted as such: %q", g)
				}
			}
		})
	}
}

// TestShadowComplete checks that the index-based candidate search finds
// every shadowing pair that an all-pairs search finds.
func TestShadowComplete(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(3, 4))}
	for range 500 {
		p := g.policy(40)
		if err := p.compile(); err != nil {
			t.Fatal(err)
		}
		warned := map[int]bool{}
		for _, w := range p.shadowed("x") {
			warned[w.Line] = true
		}
		for i := range p.Rules {
			p.Rules[i].Line = i + 1
		}
		warned = map[int]bool{}
		for _, w := range p.shadowed("x") {
			warned[w.Line-1] = true
		}
		for i := range p.Rules {
			want := false
			for j := 0; j < i && !want; j++ {
				want = p.covers(&p.Rules[j], &p.Rules[i])
			}
			if warned[i] != want {
				t.Fatalf("rule %d: warned %v, all-pairs says %v\nrules: %+v", i, warned[i], want, p.Rules)
			}
		}
	}
}

func TestHostileInput(t *testing.T) {
	cases := map[string][]byte{
		"huge":         bytes.Repeat([]byte("# padding\n"), MaxFileSize/10+1),
		"deep flow":    []byte("rules: " + strings.Repeat("[", 9000) + strings.Repeat("]", 9000)),
		"deeper flow":  []byte(strings.Repeat("[", 20000)),
		"deep block":   deepBlock(2000),
		"many aliases": []byte("a: &a [1]\nb: [" + strings.Repeat("*a,", 100000) + "*a]\n"),
		"binary":       randomBytes(4096),
		"many errors":  []byte("rules:\n" + strings.Repeat("- 1\n", 100000)),
		"many rules":   manyRules(MaxRules + 1),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("h.yaml", data)
			var errs *Errors
			if !errors.As(err, &errs) || len(errs.List) == 0 || len(errs.List) > maxDiagnostics+1 {
				t.Fatalf("Parse = %v", err)
			}
			t.Log(errs.List[0].Pos(), errs.List[0].Msg)
		})
	}
}

func deepBlock(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		b.WriteString(strings.Repeat(" ", i) + "k:\n")
	}
	return b.Bytes()
}

func randomBytes(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return b
}

func manyRules(n int) []byte {
	var b bytes.Buffer
	b.WriteString("zones:\n  a: {level: 1, cidrs: [10.0.0.0/8]}\nrules:\n")
	for i := range n {
		b.WriteString("- {name: r" + strconv.Itoa(i) + ", from: a, to: a}\n")
	}
	return b.Bytes()
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.yaml")); err == nil || errors.As(err, new(*Errors)) {
		t.Errorf("missing file: %v (want a read error, not *Errors)", err)
	}
	if _, err := Load(dir); err == nil || errors.As(err, new(*Errors)) {
		t.Errorf("directory: %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(big)
	if !errors.As(err, new(*Errors)) || !strings.Contains(err.Error(), big) || !strings.Contains(err.Error(), "too large") {
		t.Errorf("big file: %v", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("mode: x\n"), 0o644)
	_, err = Load(bad)
	var errs *Errors
	if !errors.As(err, &errs) || errs.List[0].File != bad || !strings.HasPrefix(err.Error(), "load policy "+bad+": ") {
		t.Errorf("invalid file: %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"30s": 30 * time.Second, "10m": 10 * time.Minute, "2h": 2 * time.Hour, "7d": 7 * 24 * time.Hour,
		"1d12h": 36 * time.Hour, "1.5d": 36 * time.Hour, "1d30m15s": 24*time.Hour + 30*time.Minute + 15*time.Second,
		"-1d": -24 * time.Hour, "0": 0, "250ms": 250 * time.Millisecond,
	}
	for s, want := range good {
		if got, err := ParseDuration(s); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "d", "7", "7dd", "d7", "1x", "1d-2h", "200000d", "1e3d", "--1d", "1 d"} {
		if got, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", s, got)
		}
	}
	for d, want := range map[time.Duration]string{2 * time.Hour: "2h", 7 * 24 * time.Hour: "7d", 90 * time.Minute: "1h30m", 45 * time.Second: "45s"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestDiagnosticFormat(t *testing.T) {
	d := Diagnostic{File: "p.yaml", Line: 3, Col: 7, Msg: "m"}
	if d.String() != "p.yaml:3:7: m" {
		t.Errorf("String() = %q", d.String())
	}
	if w := (Diagnostic{File: "p.yaml", Line: 3, Col: 7, Msg: "m", Warning: true}); w.String() != "p.yaml:3:7: warning: m" {
		t.Errorf("warning String() = %q", w.String())
	}
	e := &Errors{List: []Diagnostic{d, {File: "p.yaml", Line: 4, Col: 1, Msg: "n"}}}
	if e.Error() != "p.yaml:3:7: m\np.yaml:4:1: n" {
		t.Errorf("Error() = %q", e.Error())
	}
	if ModeEnforce.String() != "enforce" || ModePassthrough.String() != "passthrough" || ModeMonitor.String() != "monitor" ||
		ActionAllow.String() != "allow" || ActionDeny.String() != "deny" {
		t.Error("String() words")
	}
}

func FuzzParse(f *testing.F) {
	for _, pat := range []string{"*.yaml", "broken/*.yaml"} {
		files, _ := filepath.Glob(filepath.Join(policyDir, pat))
		for _, file := range files {
			if data, err := os.ReadFile(file); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte(nestedZones))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("f.yaml", data)
		if err != nil {
			var errs *Errors
			if !errors.As(err, &errs) || len(errs.List) == 0 {
				t.Fatalf("error is not a non-empty *Errors: %v", err)
			}
			for _, d := range errs.List {
				if d.Line < 1 || d.Col < 1 || d.Msg == "" {
					t.Fatalf("bad diagnostic %+v", d)
				}
			}
			return
		}
		// A valid policy must decide any packet exactly as the spec does.
		r := rand.New(rand.NewPCG(uint64(len(data)), 1))
		for range 20 {
			q := Query{
				Src:   netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))}),
				Dst:   netip.AddrFrom4([4]byte{10, byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))}),
				Proto: uint8(r.IntN(256)), SrcPort: uint16(r.IntN(65536)), DstPort: uint16(r.IntN(65536)), ICMPType: uint8(r.IntN(256)),
			}
			p.SetZones(&q)
			if got, want := p.Match(&q), naiveMatch(p, &q); got != want {
				t.Fatalf("Match = %d, naive = %d for %+v", got, want, q)
			}
		}
	})
}

// TestQueueOverload: overload follows fail_open unless it is given, in
// either order; a wrong word is an error.
func TestQueueOverload(t *testing.T) {
	for _, tc := range []struct {
		queue            string
		failOpen, accept bool
		group            uint16
	}{
		{"{num: 1}", true, true, DefaultNFLOGGroup},
		{"{fail_open: false}", false, false, DefaultNFLOGGroup},
		{"{fail_open: true, overload: drop}", true, false, DefaultNFLOGGroup},
		{"{overload: accept, fail_open: false, nflog_group: 0}", false, true, 0},
	} {
		p := mustParse(t, "queue: "+tc.queue+`
zones:
  a: {level: 3, cidrs: [10.0.0.0/24]}
rules:
  - {name: ping, from: a, to: a, proto: icmp}
`)
		if p.Queue.FailOpen != tc.failOpen || p.Queue.OverloadAccept != tc.accept || p.Queue.NFLOGGroup != tc.group {
			t.Errorf("%s: %+v", tc.queue, p.Queue)
		}
	}
	_, err := Parse("p.yaml", []byte("queue: {overload: maybe}\nzones: {a: {level: 3, cidrs: [10.0.0.0/24]}}\nrules: []\n"))
	if err == nil || !strings.Contains(err.Error(), "overload must be accept or drop") {
		t.Errorf("bad overload: %v", err)
	}
}
