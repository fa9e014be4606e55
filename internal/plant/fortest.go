package plant

import (
	"os"
	"os/exec"
	"testing"
)

// Available reports why plants cannot be built here, or "" if they can.
func Available() string {
	if os.Geteuid() != 0 {
		return "plant needs root (network namespaces); run the tests as root"
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return "plant needs iproute2 (ip): " + err.Error()
	}
	if err := run("ip", "netns", "list"); err != nil {
		return "plant needs `ip netns`: " + err.Error()
	}
	return ""
}

// ForTest builds a plant with a unique prefix for t and tears it down when
// t ends. It skips t when plants cannot be built here.
func ForTest(t testing.TB) *Plant {
	t.Helper()
	if why := Available(); why != "" {
		t.Skip(why)
	}
	p, err := Up(UniquePrefix("t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Down(); err != nil {
			t.Errorf("plant down: %v", err)
		}
	})
	return p
}
