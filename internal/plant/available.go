package plant

import (
	"os"
	"os/exec"
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
