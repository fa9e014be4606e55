package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
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
	for _, want := range []string{
		path + ": valid, 6 zones, 25 rules, 0 warnings",
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
		"idle 2h",
		"default",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
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

func TestCheckWarnings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.yaml")
	os.WriteFile(path, []byte(`mode: enforce
zones:
  ent: {level: 4, cidrs: [10.4.0.0/16]}
  plc: {level: 1, cidrs: [10.1.0.0/16]}
rules:
  - {name: ent-plc, from: ent, to: plc, proto: tcp, dport: 502}
  - {name: cleanup, from: any, to: any, cleanup: true}
`), 0o644)
	code, out, errOut := check(t, "-c", path)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d stderr %q", code, errOut)
	}
	for _, want := range []string{
		path + ": valid, 2 zones, 2 rules, 2 warnings",
		path + ":6:5: warning: rule ent-plc: ent (level 4) to plc (level 1) crosses more than one Purdue level",
		path + ":7:5: warning: the cleanup rule cleanup makes enforce allow everything",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
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
