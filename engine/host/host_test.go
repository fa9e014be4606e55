package host

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func fakeRoot(t *testing.T, sysctl string, bridge bool) string {
	t.Helper()
	root := t.TempDir()
	if sysctl != "" {
		for _, s := range bridgeSysctls {
			p := filepath.Join(root, s)
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(sysctl), 0o644)
		}
	}
	if bridge {
		os.MkdirAll(filepath.Join(root, "sys/class/net/br0/bridge"), 0o755)
	}
	old := fsRoot
	fsRoot = root
	t.Cleanup(func() { fsRoot = old })
	return root
}

var quiet = slog.New(slog.DiscardHandler)

func TestPrepareBridgeEnablesSysctls(t *testing.T) {
	root := fakeRoot(t, "0\n", true)
	if err := PrepareBridge(quiet); err != nil {
		t.Fatal(err)
	}
	for _, s := range bridgeSysctls {
		b, _ := os.ReadFile(filepath.Join(root, s))
		if strings.TrimSpace(string(b)) != "1" {
			t.Errorf("%s = %q, want 1", s, b)
		}
	}
}

func TestPrepareBridgeRoutedOnly(t *testing.T) {
	fakeRoot(t, "", false)
	if err := PrepareBridge(quiet); err != nil {
		t.Fatalf("routed box without br_netfilter refused: %v", err)
	}
}

func TestPrepareBridgeFailsWithoutBrNetfilter(t *testing.T) {
	fakeRoot(t, "", true)
	err := PrepareBridge(quiet)
	if err == nil || !strings.Contains(err.Error(), "br_netfilter") {
		t.Fatalf("err = %v, want a message naming br_netfilter", err)
	}
}

func TestBridges(t *testing.T) {
	fakeRoot(t, "1", true)
	if got := Bridges(); len(got) != 1 || got[0] != "br0" {
		t.Fatalf("Bridges = %v", got)
	}
}
