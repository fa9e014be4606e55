// Package host checks and prepares the box conduit runs on: privileges and
// the sysctls that put bridged traffic through the forward hook.
package host

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CheckRoot refuses to go on without the privileges the daemon needs.
func CheckRoot() error {
	if os.Geteuid() != 0 {
		return errors.New("conduit run needs root (CAP_NET_ADMIN) to install its nftables table and bind NFQUEUE queues: run it with sudo or as a systemd service")
	}
	return nil
}

// fsRoot is where /proc and /sys are found; tests point it at a fake tree.
var fsRoot = "/"

// bridgeSysctls make br_netfilter hand bridged IPv4 and IPv6 to the inet
// hooks, those in 802.1Q tags too: without the last, a tagged IP packet
// crosses the bridge past the inet table (the bridge table of the layer2
// section passes IP on to it, tagged or not).
var bridgeSysctls = []string{
	"proc/sys/net/bridge/bridge-nf-call-iptables",
	"proc/sys/net/bridge/bridge-nf-call-ip6tables",
	"proc/sys/net/bridge/bridge-nf-filter-vlan-tagged",
}

// PrepareBridge makes bridged IP traffic in this namespace reach the forward
// hook. Without it a bridge box would forward every packet past conduit. It
// sets the sysctls when they are off and fails, saying exactly what to do,
// when it cannot.
func PrepareBridge(log *slog.Logger) error {
	bridges := Bridges()
	if _, err := os.Stat(filepath.Join(fsRoot, bridgeSysctls[0])); errors.Is(err, os.ErrNotExist) {
		if len(bridges) == 0 {
			log.Info("no bridge in this namespace and br_netfilter not loaded: serving routed traffic only")
			return nil
		}
		// br_netfilter may be a module that is not loaded yet.
		_ = exec.Command("modprobe", "br_netfilter").Run()
		if _, err := os.Stat(filepath.Join(fsRoot, bridgeSysctls[0])); err != nil {
			return fmt.Errorf("bridges %v would forward past conduit: the kernel's br_netfilter is not available (modprobe br_netfilter, or build with CONFIG_BRIDGE_NETFILTER)", bridges)
		}
	}
	for _, s := range bridgeSysctls {
		path := filepath.Join(fsRoot, s)
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if strings.TrimSpace(string(b)) == "1" {
			continue
		}
		if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
			name := strings.ReplaceAll(strings.TrimPrefix(s, "proc/sys/"), "/", ".")
			return fmt.Errorf("bridged traffic would bypass conduit and enabling it failed (%w): run `sysctl -w %s=1` in conduit's network namespace", err, name)
		}
		log.Info("enabled bridged traffic filtering", "sysctl", strings.TrimPrefix(s, "proc/sys/"), "bridges", bridges)
	}
	if b, err := os.ReadFile(filepath.Join(fsRoot, "proc/sys/net/ipv4/ip_forward")); err == nil && strings.TrimSpace(string(b)) != "1" && len(bridges) == 0 {
		log.Warn("net.ipv4.ip_forward is 0 and there is no bridge: nothing will be forwarded through conduit")
	}
	return nil
}

// Bridges lists the bridge interfaces of this namespace.
func Bridges() []string {
	m, _ := filepath.Glob(filepath.Join(fsRoot, "sys/class/net/*/bridge"))
	out := make([]string, 0, len(m))
	for _, p := range m {
		out = append(out, filepath.Base(filepath.Dir(p)))
	}
	return out
}
