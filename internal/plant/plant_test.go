package plant

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestLayout(t *testing.T) {
	p := Layout("x1")
	want := []string{"x1fw", "x1ctl", "x1ent", "x1ops", "x1sup"}
	if got := p.Namespaces(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Namespaces() = %v, want %v", got, want)
	}
	tests := []struct {
		zone, ns, v4, v6 string
	}{
		{Enterprise, "x1ent", "10.40.0.10", "fd00:40::10"},
		{Operations, "x1ops", "10.30.0.10", "fd00:30::10"},
		{Supervisory, "x1sup", "10.20.0.10", "fd00:20::10"},
		{Control, "x1ctl", "10.10.0.10", "fd00:10::10"},
	}
	for _, tt := range tests {
		h := p.Host(tt.zone)
		if h.NS != tt.ns || h.IPv4.String() != tt.v4 || h.IPv6.String() != tt.v6 {
			t.Errorf("host %s = %+v, want ns=%s v4=%s v6=%s", tt.zone, h, tt.ns, tt.v4, tt.v6)
		}
	}
	if ex := p.Host(Operations).Extra; len(ex) != 1 || ex[0] != EWS {
		t.Errorf("operations extra = %v, want [%v]", ex, EWS)
	}
}

func TestValidPrefix(t *testing.T) {
	tests := []struct {
		prefix string
		ok     bool
	}{
		{"t1a2b3c", true},
		{"bench-1", true},
		{"", false},
		{"abcdefghijklm", false}, // 13 chars
		{"Upper", false},
		{"a/b", false},
		{"a b", false},
	}
	for _, tt := range tests {
		if err := validPrefix(tt.prefix); (err == nil) != tt.ok {
			t.Errorf("validPrefix(%q) = %v, want ok=%v", tt.prefix, err, tt.ok)
		}
	}
}

func TestMatchesPlant(t *testing.T) {
	suffixes := append([]string{FWSuffix}, Zones()...)
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"bench*", "bench12fw", true},
		{"bench*", "bench12ctl", true},
		{"bench*", "benchfw", true},
		{"bench*", "bench12xyz", false}, // not a plant suffix
		{"bench*", "other1fw", false},
		{"t1", "t1sup", true},
		{"t1", "t12sup", false}, // exact prefix without a glob
		{"*", "fw", false},      // empty prefix never matches
	}
	for _, tt := range tests {
		if got := matchesPlant(tt.pattern, tt.name, suffixes); got != tt.want {
			t.Errorf("matchesPlant(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestUniquePrefix(t *testing.T) {
	a, b := UniquePrefix("t"), UniquePrefix("t")
	if a == b {
		t.Fatalf("UniquePrefix returned %q twice", a)
	}
	if err := validPrefix(a); err != nil {
		t.Fatal(err)
	}
}

// TestDownRemovesEverything checks Down deletes every namespace, stops
// processes left inside them, and is idempotent.
func TestDownRemovesEverything(t *testing.T) {
	if why := Available(); why != "" {
		t.Skip(why)
	}
	p, err := Up(UniquePrefix("t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Down() })
	sleeper := p.Cmd(p.Host(Control).NS, "sleep", "60")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sleeper.Wait() }()
	// Start returns once `ip netns exec` is forked, before it has joined
	// the namespace; Down can only stop what is already inside.
	entered := false
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if pids, _ := nsPIDs(p.Host(Control).NS); len(pids) > 0 {
			entered = true
			break
		}
	}
	if !entered {
		t.Fatal("sleeper never entered the control namespace")
	}

	for _, ns := range p.Namespaces() {
		if !nsExists(ns) {
			t.Fatalf("namespace %s missing after Up", ns)
		}
	}
	if err := p.Down(); err != nil {
		t.Fatalf("Down: %v", err)
	}
	for _, ns := range p.Namespaces() {
		if nsExists(ns) {
			t.Errorf("namespace %s still exists after Down", ns)
		}
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), p.Prefix) {
		t.Errorf("ip netns list still shows %s:\n%s", p.Prefix, out)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("process inside the plant survived Down")
	}
	if err := p.Down(); err != nil {
		t.Errorf("second Down: %v", err)
	}
}

// TestUpRefusesExisting checks Up leaves a namespace it did not create alone.
func TestUpRefusesExisting(t *testing.T) {
	if why := Available(); why != "" {
		t.Skip(why)
	}
	prefix := UniquePrefix("t")
	foreign := prefix + Operations
	if err := run("ip", "netns", "add", foreign); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run("ip", "netns", "del", foreign) })
	if p, err := Up(prefix); err == nil {
		_ = p.Down()
		t.Fatal("Up succeeded over an existing namespace")
	}
	if !nsExists(foreign) {
		t.Error("Up removed a namespace it did not create")
	}
	if nsExists(prefix + FWSuffix) {
		t.Error("Up left a partial plant behind")
	}
}

// TestCleanup checks stale plants matching the pattern go and others stay.
func TestCleanup(t *testing.T) {
	if why := Available(); why != "" {
		t.Skip(why)
	}
	base := UniquePrefix("c")
	a, err := Up(base + "a")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Down() })
	b, err := Up(base + "b")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Down() })
	keep := base + "keep" // no plant suffix: not ours to remove
	if err := run("ip", "netns", "add", keep); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = run("ip", "netns", "del", keep) })

	removed, err := Cleanup(base + "*")
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 10 {
		t.Errorf("Cleanup removed %d namespaces, want 10: %v", len(removed), removed)
	}
	for _, ns := range append(a.Namespaces(), b.Namespaces()...) {
		if nsExists(ns) {
			t.Errorf("%s survived Cleanup", ns)
		}
	}
	if !nsExists(keep) {
		t.Errorf("Cleanup removed %s", keep)
	}
}
