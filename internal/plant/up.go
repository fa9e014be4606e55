package plant

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// netnsDir is where iproute2 keeps named namespaces.
const netnsDir = "/run/netns"

// Up builds the plant for prefix: namespaces <prefix>fw, <prefix>ent,
// <prefix>ops, <prefix>sup and <prefix>ctl. It refuses to touch namespaces
// that already exist (they may belong to another run). On failure it tears
// down what it built and returns the first error.
func Up(prefix string) (*Plant, error) {
	if err := validPrefix(prefix); err != nil {
		return nil, fmt.Errorf("plant up: %w", err)
	}
	p := Layout(prefix)
	for _, ns := range p.Namespaces() {
		if nsExists(ns) {
			return nil, fmt.Errorf("plant up: namespace %s already exists (stale run? try: plant down -prefix %s)", ns, prefix)
		}
	}
	if err := p.build(); err != nil {
		if derr := p.Down(); derr != nil {
			err = errors.Join(err, derr)
		}
		return nil, fmt.Errorf("plant up %s: %w", prefix, err)
	}
	return p, nil
}

func (p *Plant) build() error {
	for _, ns := range p.Namespaces() {
		if err := run("ip", "netns", "add", ns); err != nil {
			return err
		}
		// DAD would hold IPv6 addresses tentative for ~2s; set it off
		// before any interface exists so link-local addresses skip it too.
		if err := sysctl(ns, map[string]string{
			"net/ipv6/conf/all/accept_dad":     "0",
			"net/ipv6/conf/default/accept_dad": "0",
		}); err != nil {
			return err
		}
		if err := run("ip", "-n", ns, "link", "set", "lo", "up"); err != nil {
			return err
		}
	}
	if err := p.buildBridge(); err != nil {
		return err
	}
	for _, z := range zones {
		if err := p.attach(p.Hosts[z.zone]); err != nil {
			return err
		}
	}
	return nil
}

func (p *Plant) buildBridge() error {
	if err := run("ip", "-n", p.FW, "link", "add", Bridge, "type", "bridge"); err != nil {
		return err
	}
	if err := run("ip", "-n", p.FW, "link", "set", Bridge, "up"); err != nil {
		return err
	}
	// br_netfilter's switches are per namespace; without them bridged IP
	// traffic never reaches the nftables forward hook.
	if _, err := os.Stat("/proc/sys/net/bridge"); err != nil {
		_ = run("modprobe", "br_netfilter") // best effort; the sysctl below reports the real failure
	}
	if err := sysctl(p.FW, map[string]string{
		"net/bridge/bridge-nf-call-iptables":  "1",
		"net/bridge/bridge-nf-call-ip6tables": "1",
	}); err != nil {
		return fmt.Errorf("%w (is the br_netfilter module available?)", err)
	}
	return nil
}

// attach joins h to the bridge: port "v<zone>" in the firewall namespace,
// "eth0" in the host namespace. Both ends are created in place, so no
// interface name ever exists in the caller's namespace.
func (p *Plant) attach(h *Host) error {
	port := "v" + h.Zone
	steps := [][]string{
		{"ip", "-n", p.FW, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.NS},
		{"ip", "-n", p.FW, "link", "set", port, "master", Bridge},
		{"ip", "-n", p.FW, "link", "set", port, "up"},
		{"ip", "-n", h.NS, "addr", "add", h.IPv4.String() + "/8", "dev", "eth0"},
	}
	for _, a := range h.Extra {
		steps = append(steps, []string{"ip", "-n", h.NS, "addr", "add", a.String() + "/8", "dev", "eth0"})
	}
	steps = append(steps,
		[]string{"ip", "-n", h.NS, "addr", "add", h.IPv6.String() + "/16", "dev", "eth0", "nodad"},
		[]string{"ip", "-n", h.NS, "link", "set", "eth0", "up"},
	)
	for _, s := range steps {
		if err := run(s[0], s[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// sysctl writes /proc/sys keys inside ns. It uses sh rather than sysctl(8)
// so that only iproute2 and a shell are needed.
func sysctl(ns string, kv map[string]string) error {
	var script strings.Builder
	script.WriteString("set -e\n")
	for k, v := range kv {
		fmt.Fprintf(&script, "printf %%s %s > /proc/sys/%s\n", v, k)
	}
	return run("ip", "netns", "exec", ns, "sh", "-c", script.String())
}

// run executes a command and folds its stderr into the error.
func run(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// runOutput is run returning stdout.
func runOutput(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

func nsExists(ns string) bool {
	_, err := os.Stat(netnsDir + "/" + ns)
	return err == nil
}

// UniquePrefix returns base followed by six random hex digits, short
// enough for Up. Use it to keep concurrent runs apart.
func UniquePrefix(base string) string {
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return base + hex.EncodeToString(b[:])
}
