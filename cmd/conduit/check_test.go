package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const policies = "../../testdata/policies"

func check(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = runCheck(args, &o, &e)
	return code, o.String(), e.String()
}

func TestCheckPlant(t *testing.T) {
	path := filepath.Join(policies, "plant.yaml")
	code, out, errOut := check(t, "-c", path)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	wantContains(t, "summary", out,
		path+": valid, 6 zones, 25 rules, 0 warnings",
		"mode     monitor",
		"default  deny",
		"enterprise   level 4    10.40.0.0/16",
		"dmz          level 3.5  10.35.0.0/24, fd00:35::/64",
		"supervisory -> control  passthrough",
		"hmi-polls-plcs",
		"dport [502, 44818, 102]",
		"sport 123 dport 123",
		"type 8",
		"cleanup",
		"idle 2h, on_violation reset",
		"default",
		// A protocol condition follows its rule's row, under the name.
		"  4   hmi-polls-plcs ",
		"idle 2h, on_violation reset\n      modbus: preset read_only; unit_ids 1,2; addresses.read 0-999\n  5   scada-polls-rtus ",
		"\n      dnp3: functions read,select,operate,enable_unsolicited,disable_unsolicited,delay_measure,record_current_time; sources 1; destinations 10-19\n  6   ews-programs-plcs ",
	)
	for i, line := range strings.Split(out, "\n") {
		if strings.HasSuffix(line, " ") {
			t.Errorf("line %d has trailing blanks: %q", i+1, line)
		}
	}
}

// TestCheckBroken runs every broken policy through the command: exit 1 and
// exactly the expected errors, one per line, on stderr.
func TestCheckBroken(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(policies, "broken", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no broken policies")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			want, err := os.ReadFile(strings.TrimSuffix(f, ".yaml") + ".want")
			if err != nil {
				t.Fatal(err)
			}
			code, out, errOut := check(t, "-c", f)
			if code != 1 || out != "" {
				t.Fatalf("exit %d, stdout %q", code, out)
			}
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			wantLines := strings.Split(strings.TrimSuffix(string(want), "\n"), "\n")
			for i := range wantLines {
				// .want files name the file by its base name.
				wantLines[i] = filepath.Dir(f) + string(filepath.Separator) + wantLines[i]
			}
			if got := strings.Join(lines[:len(lines)-1], "\n"); got != strings.Join(wantLines, "\n") {
				t.Errorf("stderr:\n%s\nwant:\n%s", got, strings.Join(wantLines, "\n"))
			}
			if last := lines[len(lines)-1]; !strings.HasPrefix(last, f+": invalid (") {
				t.Errorf("last line %q", last)
			}
		})
	}
}

func TestCheckJSON(t *testing.T) {
	path := filepath.Join(policies, "plant.yaml")
	code, out, _ := check(t, "--json", "-c", path)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var r struct {
		Valid    bool             `json:"valid"`
		File     string           `json:"file"`
		SHA256   string           `json:"sha256"`
		Mode     string           `json:"mode"`
		Zones    []map[string]any `json:"zones"`
		Conduits []map[string]any `json:"conduits"`
		Rules    []map[string]any `json:"rules"`
		Warnings []map[string]any `json:"warnings"`
		Errors   []map[string]any `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !r.Valid || r.File != path || len(r.SHA256) != 64 || r.Mode != "monitor" ||
		len(r.Zones) != 6 || len(r.Conduits) != 2 || len(r.Rules) != 25 || r.Warnings == nil || r.Errors == nil {
		t.Errorf("unexpected result: %+v", r)
	}
	hmi := r.Rules[3]
	if hmi["name"] != "hmi-polls-plcs" || hmi["proto"] != "tcp" || hmi["action"] != "allow" ||
		hmi["idle_timeout"] != "2h" || hmi["dport"].([]any)[0] != "502" || hmi["from"].([]any)[0] != "supervisory" {
		t.Errorf("rule 4: %v", hmi)
	}
	if m, _ := json.Marshal([]any{hmi["modbus"], hmi["on_unparsed"], hmi["on_violation"]}); string(m) !=
		`[{"addresses":{"read":["0-999"]},"preset":"read_only","unit_ids":["1","2"]},"deny","reset"]` {
		t.Errorf("rule 4's condition: %s", m)
	}
	for _, k := range []string{"modbus", "dnp3", "enip", "cip", "s7", "on_unparsed", "on_violation"} {
		if _, ok := r.Rules[0][k]; ok {
			t.Errorf("rule 1 has no protocol condition, but %s is set: %v", k, r.Rules[0])
		}
	}
	if z := r.Zones[1]; z["name"] != "dmz" || z["level"] != "3.5" || len(z["cidrs"].([]any)) != 2 {
		t.Errorf("zone 2: %v", z)
	}
	if !strings.Contains(out, `"warnings": []`) {
		t.Error("empty warnings must be [], not null")
	}

	code, out, _ = check(t, "-c", filepath.Join(policies, "broken", "ports.yaml"), "--json")
	if code != 1 {
		t.Fatalf("broken: exit %d", code)
	}
	var bad struct {
		Valid  bool `json:"valid"`
		Errors []struct {
			Line, Col int
			Msg       string
		} `json:"errors"`
	}
	if err := json.Unmarshal([]byte(out), &bad); err != nil || bad.Valid || len(bad.Errors) != 6 ||
		bad.Errors[0].Line != 9 || bad.Errors[0].Col != 5 || !strings.Contains(bad.Errors[0].Msg, "dport needs proto tcp or udp") {
		t.Errorf("broken JSON: %v %+v", err, bad)
	}

	code, out, _ = check(t, "--json", "-c", "/nonexistent/policy.yaml")
	if code != 2 || !strings.Contains(out, `"valid": false`) || !strings.Contains(out, "no such file") {
		t.Errorf("missing file JSON: exit %d %s", code, out)
	}
}

// appPolicy has a protocol condition of every kind, written with names,
// numbers, ranges and presets.
const appPolicy = `mode: monitor
zones:
  sup: {level: 2, cidrs: [10.20.0.0/24]}
  plc: {level: 1, cidrs: [10.10.0.0/24]}
rules:
  - name: hmi
    from: sup
    to: plc
    proto: tcp
    dport: 502
    modbus: {functions: [read_holding_registers, write_single_register, 43, 100], unit_ids: [1, 2, "5-7"], addresses: ["0-99"]}
  - name: ews-modbus
    from: sup
    to: plc
    proto: tcp
    dport: 503
    modbus: {functions: [read_device_identification], preset: read_only, addresses: {read: ["0-999"], write: [100]}}
    on_unparsed: allow
    on_violation: reset
  - name: any-modbus
    from: sup
    to: plc
    proto: tcp
    dport: 504
    modbus: {}
  - name: scada
    from: sup
    to: plc
    proto: udp
    dport: 20000
    dnp3: {functions: [read, direct_operate, 200], sources: [1], destinations: ["10-19"], objects: ["60", "12:1"]}
  - name: tags
    from: sup
    to: plc
    proto: tcp
    dport: 44818
    enip: {commands: [register_session, send_rr_data]}
    cip: {services: [read_tag, get_attribute_single, 0x4b], classes: [symbol, 0x6c, "0x300-0x30f"]}
  - name: s7
    from: sup
    to: plc
    proto: tcp
    dport: 102
    s7: {functions: [setup_communication, read_var, pi_service], userdata_groups: [cpu_functions, 3]}
`

// TestCheckAppConditions: the summary and --json show every protocol
// condition in the policy's words. Numbers stay numbers only where the
// protocol has no name for them, and 43 written as a number (any MEI
// type) is not shown as read_device_identification (MEI type 14 only).
func TestCheckAppConditions(t *testing.T) {
	path := tempFile(t, "app.yaml", appPolicy)
	code, out, errOut := check(t, "-c", path)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	lines := strings.Split(out, "\n")
	want := []struct {
		row   string   // the rule's row starts with this
		notes string   // and ends with this
		cond  []string // the lines after it
	}{
		{"  1  hmi ", "allow", []string{
			"     modbus: functions read_holding_registers,write_single_register,43,100; unit_ids 1,2,5-7; addresses 0-99"}},
		{"  2  ews-modbus ", "allow   on_unparsed allow, on_violation reset", []string{
			"     modbus: functions read_device_identification; preset read_only; addresses.read 0-999; addresses.write 100"}},
		{"  3  any-modbus ", "allow", []string{"     modbus: {}"}},
		{"  4  scada ", "allow", []string{
			"     dnp3: functions read,direct_operate,200; sources 1; destinations 10-19; objects 60,12:1"}},
		{"  5  tags ", "allow", []string{
			"     enip: commands register_session,send_rr_data",
			"     cip: services read_tag,get_attribute_single,0x4b; classes symbol,template,0x300-0x30f"}},
		{"  6  s7 ", "allow", []string{
			"     s7: functions setup_communication,read_var,plc_control; userdata_groups cpu_functions,block_functions"}},
	}
	for _, w := range want {
		i := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, w.row) })
		if i < 0 || !strings.HasSuffix(lines[i], w.notes) || i+len(w.cond) >= len(lines) {
			t.Errorf("no row %q ending %q:\n%s", w.row, w.notes, out)
			continue
		}
		if got := lines[i+1 : i+1+len(w.cond)]; !slices.Equal(got, w.cond) {
			t.Errorf("after %q:\n%s\nwant:\n%s", w.row, strings.Join(got, "\n"), strings.Join(w.cond, "\n"))
		}
		if next := lines[i+1+len(w.cond)]; !strings.HasPrefix(next, "  ") || next[2] == ' ' {
			t.Errorf("after %q's condition: %q, want the next row", w.row, next)
		}
	}

	code, out, _ = check(t, "--json", "-c", path)
	if code != 0 {
		t.Fatalf("--json: exit %d", code)
	}
	var r struct {
		Rules []map[string]json.RawMessage `json:"rules"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || len(r.Rules) != 6 {
		t.Fatalf("%v\n%s", err, out)
	}
	wantJSON := []map[string]string{
		{"modbus": `{"functions":["read_holding_registers","write_single_register","43","100"],"unit_ids":["1","2","5-7"],"addresses":{"read":["0-99"],"write":["0-99"]}}`,
			"on_unparsed": `"deny"`, "on_violation": `"drop"`},
		{"modbus": `{"functions":["read_device_identification"],"preset":"read_only","addresses":{"read":["0-999"],"write":["100"]}}`,
			"on_unparsed": `"allow"`, "on_violation": `"reset"`},
		{"modbus": `{}`, "on_unparsed": `"deny"`, "on_violation": `"drop"`},
		{"dnp3": `{"functions":["read","direct_operate","200"],"sources":["1"],"destinations":["10-19"],"objects":["60","12:1"]}`,
			"on_unparsed": `"deny"`, "on_violation": `"drop"`},
		{"enip": `{"commands":["register_session","send_rr_data"]}`,
			"cip":         `{"services":["read_tag","get_attribute_single","0x4b"],"classes":["symbol","template","0x300-0x30f"]}`,
			"on_unparsed": `"deny"`, "on_violation": `"drop"`},
		{"s7": `{"functions":["setup_communication","read_var","plc_control"],"userdata_groups":["cpu_functions","block_functions"]}`,
			"on_unparsed": `"deny"`, "on_violation": `"drop"`},
	}
	for i, w := range wantJSON {
		for _, k := range []string{"modbus", "dnp3", "enip", "cip", "s7", "on_unparsed", "on_violation"} {
			var got bytes.Buffer
			if raw, ok := r.Rules[i][k]; ok {
				json.Compact(&got, raw)
			}
			if got.String() != w[k] {
				t.Errorf("rule %d %s: %s, want %s", i+1, k, got.String(), w[k])
			}
		}
	}
}

func TestCheckWarnings(t *testing.T) {
	path := tempFile(t, "w.yaml", `mode: enforce
zones:
  ent: {level: 4, cidrs: [10.4.0.0/16]}
  plc: {level: 1, cidrs: [10.1.0.0/16]}
rules:
  - {name: ent-plc, from: ent, to: plc, proto: tcp, dport: 502}
  - {name: cleanup, from: any, to: any, cleanup: true}
`)
	code, out, errOut := check(t, "-c", path)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d stderr %q", code, errOut)
	}
	wantContains(t, "output", out,
		path+": valid, 2 zones, 2 rules, 3 warnings",
		path+":2:1: warning: no zone names its bridge ports (ports: [eth1]), so a host on any port may send with any zone's addresses; advice for a bridge box",
		path+":6:5: warning: rule ent-plc: ent (level 4) to plc (level 1) crosses more than one Purdue level",
		path+":7:5: warning: the cleanup rule cleanup makes enforce allow everything",
	)
}

func TestCheckUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-c"},
		{"-c", "a.yaml", "b.yaml"},
		{"--bogus"},
		{"-c", "/nonexistent/policy.yaml"},
		{"-c", os.TempDir()},
	} {
		code, out, errOut := check(t, args...)
		if code != 2 || out != "" || errOut == "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	// The file may also be given as the only argument.
	if code, _, _ := check(t, filepath.Join(policies, "plant.yaml")); code != 0 {
		t.Errorf("positional file: exit %d", code)
	}
}

// TestCheckBindings: the summary and --json show each zone's ports and
// MACs, and a bound policy gets no bridge-box advice.
func TestCheckBindings(t *testing.T) {
	path := tempFile(t, "b.yaml", `zones:
  ops: {level: 3, cidrs: [10.30.0.0/24], ports: [eth1, eth2]}
  sup: {level: 2, cidrs: [10.20.0.0/24], ports: [eth3], macs: ["00:1D:9C:C7:B0:10"]}
  ctl: {level: 1, cidrs: [10.10.0.0/24]}
rules:
  - {name: a, from: ops, to: sup, proto: tcp, dport: 443}
  - {name: b, from: sup, to: ctl, proto: tcp, dport: 502}
`)
	code, out, _ := check(t, "-c", path)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	wantContains(t, "output", out,
		path+": valid, 3 zones, 2 rules, 0 warnings",
		"(from ports eth1,eth2)",
		"(from ports eth3; macs 00:1d:9c:c7:b0:10)",
	)
	code, out, _ = check(t, "-c", path, "--json")
	var r struct {
		Zones []struct {
			Name  string   `json:"name"`
			Ports []string `json:"ports"`
			MACs  []string `json:"macs"`
		} `json:"zones"`
		Warnings []diagJSON `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil {
		t.Fatalf("exit %d: %v", code, err)
	}
	if z := r.Zones; len(z) != 3 || strings.Join(z[0].Ports, ",") != "eth1,eth2" || z[1].MACs[0] != "00:1d:9c:c7:b0:10" ||
		z[2].Ports != nil || len(r.Warnings) != 0 {
		t.Errorf("zones %+v warnings %v", z, r.Warnings)
	}
	if !strings.Contains(out, `"ports": [`) || strings.Contains(out[strings.Index(out, `"ctl"`):], `"ports"`) {
		t.Errorf("ports must be listed where bound and absent elsewhere:\n%s", out)
	}
}
