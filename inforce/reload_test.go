package inforce

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/internal/e2e"
	"github.com/conduit-ot/conduit/rules"
)

const policyFmt = `mode: %s
zones:
  a: {level: 2, cidrs: [10.20.0.0/24]}
  b: {level: 1, cidrs: [10.10.0.0/24]}
conduits:
%s
rules:
  - {name: a-to-b, from: a, to: b, proto: tcp, dport: 502}
`

func policy(mode, conduits string) string {
	if conduits == "" {
		conduits = "  []"
	}
	return strings.Replace(strings.Replace(policyFmt, "%s", mode, 1), "%s", conduits, 1)
}

// newReloader writes content as the policy file and returns a reloader of
// it whose log the test reads while the watcher goroutine writes it.
func newReloader(t *testing.T, content string) (*Reloader, *e2e.SyncBuffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "conduit.yaml")
	e2e.WriteFile(t, path, content)
	p, err := rules.Load(path)
	if err != nil {
		t.Fatalf("initial policy: %v", err)
	}
	logs := &e2e.SyncBuffer{}
	return &Reloader{Path: path, Store: NewStore(p), Log: slog.New(slog.NewJSONHandler(logs, nil))}, logs
}

func TestReloadSwapsAndLogsModeChange(t *testing.T) {
	r, logs := newReloader(t, policy("monitor", ""))
	e2e.WriteFile(t, r.Path, policy("enforce", "  - {from: a, to: b, mode: monitor}"))
	res := r.Reload("test")
	if res.Err != nil || !res.Changed {
		t.Fatalf("Reload = %+v", res)
	}
	if got := r.Store.Load(); got.Generation != 2 || got.Policy.Mode != rules.ModeEnforce {
		t.Fatalf("active generation %d mode %v, want 2 enforce", got.Generation, got.Policy.Mode)
	}
	out := logs.String()
	old := `"old_sha256":"` + res.Old.Policy.SHA256 + `"`
	cur := `"sha256":"` + res.New.Policy.SHA256 + `"`
	var modeLine string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, `"event":"mode_change"`) {
			modeLine = l
		}
	}
	if !strings.Contains(modeLine, old) || !strings.Contains(modeLine, cur) {
		t.Errorf("mode_change line does not name both policies (%s, %s): %s", old, cur, modeLine)
	}
	for _, want := range []string{`"event":"reload"`, `"result":"ok"`, `"event":"mode_change"`, `"old_mode":"monitor"`, `"new_mode":"enforce"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
	// The same content again is not a new generation.
	if res := r.Reload("test"); res.Changed {
		t.Error("reload of an unchanged file made a new generation")
	}
}

func TestReloadRefusesBrokenFile(t *testing.T) {
	r, logs := newReloader(t, policy("enforce", ""))
	broken := "mode: enforce\nrules:\n  - {name: x, from: nowhere, to: any}\n  - bogus_key: 1\n"
	e2e.WriteFile(t, r.Path, broken)
	res := r.Reload("test")
	if res.Err == nil || res.Changed {
		t.Fatalf("broken file accepted: %+v", res)
	}
	if got := r.Store.Load(); got.Generation != 1 || got.Policy.Mode != rules.ModeEnforce {
		t.Fatalf("running policy replaced: gen %d mode %v", got.Generation, got.Policy.Mode)
	}
	out := logs.String()
	if !strings.Contains(out, `"result":"error"`) || !strings.Contains(out, "conduit.yaml:3:") || !strings.Contains(out, "conduit.yaml:4:") {
		t.Errorf("refusal not logged with every line:col:\n%s", out)
	}
	sum := sha256.Sum256([]byte(broken))
	if want := `"file_sha256":"` + hex.EncodeToString(sum[:]) + `"`; !strings.Contains(out, want) {
		t.Errorf("refusal does not name the refused content (%s):\n%s", want, out)
	}
}

func TestModeChanges(t *testing.T) {
	parse := func(s string) *rules.Policy {
		p, err := rules.Parse("x.yaml", []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := parse(policy("monitor", "  - {from: a, to: b, mode: enforce}"))
	b := parse(policy("monitor", ""))
	got := ModeChanges(a, b)
	if len(got) != 1 || got[0].Conduit != "a->b" || got[0].Old != "enforce" || got[0].New != "monitor" {
		t.Errorf("ModeChanges = %+v", got)
	}
	if got := ModeChanges(a, a); len(got) != 0 {
		t.Errorf("no change reported as %+v", got)
	}
}

func TestWatchReloadsOnRename(t *testing.T) {
	r, _ := newReloader(t, policy("monitor", ""))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Watch(ctx) }()
	time.Sleep(50 * time.Millisecond) // let the watch register
	// Unrelated files in the directory do not trigger a reload.
	e2e.WriteFile(t, filepath.Join(filepath.Dir(r.Path), "other.yaml"), "x")
	e2e.WriteFile(t, r.Path, policy("enforce", ""))
	deadline := time.Now().Add(5 * time.Second)
	for r.Store.Load().Policy.Mode != rules.ModeEnforce {
		if time.Now().After(deadline) {
			t.Fatal("watcher did not reload after the file was replaced")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if g := r.Store.Load().Generation; g != 2 {
		t.Errorf("generation %d after one change, want 2", g)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestReloadRefusedByPrepare: a kernel that refuses the new table keeps
// the running policy in force, and says so.
func TestReloadRefusedByPrepare(t *testing.T) {
	r, logs := newReloader(t, policy("monitor", ""))
	var seen *rules.Policy
	r.Prepare = func(old *Active, next *rules.Policy) error {
		seen = next
		if old.Generation != 1 {
			t.Errorf("prepare sees generation %d", old.Generation)
		}
		return errors.New("netlink: no space")
	}
	e2e.WriteFile(t, r.Path, policy("enforce", ""))
	res := r.Reload("test")
	if res.Err == nil || res.Changed || seen == nil || seen.Mode != rules.ModeEnforce {
		t.Fatalf("Reload = %+v (prepare saw %v)", res, seen)
	}
	if got := r.Store.Load(); got.Generation != 1 || got.Policy.Mode != rules.ModeMonitor {
		t.Fatalf("running policy replaced: gen %d mode %v", got.Generation, got.Policy.Mode)
	}
	if !strings.Contains(logs.String(), "reload refused by the kernel") {
		t.Errorf("refusal not logged:\n%s", logs.String())
	}
	r.Prepare = func(*Active, *rules.Policy) error { return nil }
	if res := r.Reload("test"); !res.Changed {
		t.Fatalf("Reload after the kernel took it = %+v", res)
	}
}
