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

// build creates the namespaces and links with one iproute2 batch per
// namespace; a process per command made Up take seconds on a busy host.
func (p *Plant) build() error {
	var add []string
	for _, ns := range p.Namespaces() {
		add = append(add, "netns add "+ns)
	}
	if err := batch("", add); err != nil {
		return err
	}
	for _, ns := range p.Namespaces() {
		// DAD would hold IPv6 addresses tentative for ~2s; set it off
		// before any interface exists so link-local addresses skip it too.
		if err := sysctl(ns, map[string]string{
			"net/ipv6/conf/all/accept_dad":     "0",
			"net/ipv6/conf/default/accept_dad": "0",
		}); err != nil {
			return err
		}
	}

	// Firewall: the bridge and one port per zone. Each veth's other end,
	// eth0, is created directly in the host namespace, so no interface name
	// ever exists in the caller's namespace.
	fw := []string{"link set lo up", "link add " + Bridge + " type bridge", "link set " + Bridge + " up"}
	for _, z := range zones {
		port := "v" + z.zone
		fw = append(fw,
			"link add "+port+" type veth peer name eth0 netns "+p.Hosts[z.zone].NS,
			"link set "+port+" master "+Bridge,
			"link set "+port+" up")
	}
	if err := batch(p.FW, fw); err != nil {
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

	for _, z := range zones {
		h := p.Hosts[z.zone]
		cmds := []string{"link set lo up", "addr add " + h.IPv4.String() + "/8 dev eth0"}
		for _, a := range h.Extra {
			cmds = append(cmds, "addr add "+a.String()+"/8 dev eth0")
		}
		cmds = append(cmds, "addr add "+h.IPv6.String()+"/16 dev eth0 nodad", "link set eth0 up")
		if err := batch(h.NS, cmds); err != nil {
			return err
		}
	}
	return nil
}

// batch runs iproute2 commands in one process, inside ns unless ns is "".
func batch(ns string, cmds []string) error {
	args := []string{"-batch", "-"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	cmd := exec.Command("ip", args...)
	cmd.Stdin = strings.NewReader(strings.Join(cmds, "\n") + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		where := "ip -batch"
		if ns != "" {
			where += " in " + ns
		}
		return fmt.Errorf("%s: %w: %s", where, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// sysctl writes /proc/sys keys inside ns. Network sysctls resolve against
// the writing thread's namespace, so a thread switched into ns will do.
func sysctl(ns string, kv map[string]string) error {
	return Do(ns, func() error {
		for k, v := range kv {
			if err := os.WriteFile("/proc/sys/"+k, []byte(v), 0); err != nil {
				return fmt.Errorf("sysctl %s=%s in %s: %w", strings.ReplaceAll(k, "/", "."), v, ns, err)
			}
		}
		return nil
	})
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
