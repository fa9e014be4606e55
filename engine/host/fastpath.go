package host

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// acctSysctl makes the kernel count packets and bytes per connection; the
// fast path reads the counts of the flows it hands over. It is per network
// namespace and applies to connections created after it is set.
const acctSysctl = "proc/sys/net/netfilter/nf_conntrack_acct"

// PrepareAccounting turns on conntrack accounting in this namespace.
func PrepareAccounting(log *slog.Logger) error {
	path := filepath.Join(fsRoot, acctSysctl)
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("conntrack accounting: %w", err)
	}
	if strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if err := os.WriteFile(path, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enable conntrack accounting (sysctl -w net.netfilter.nf_conntrack_acct=1): %w", err)
	}
	log.Info("enabled conntrack accounting for the fast path", "sysctl", "net.netfilter.nf_conntrack_acct")
	return nil
}

// CtVerdictMarks reports whether the running kernel applies a conntrack
// mark carried in an NFQUEUE verdict (CONFIG_NETFILTER_NETLINK_GLUE_CT),
// as far as its build configuration tells: false when it cannot be read.
func CtVerdictMarks() bool {
	f, err := os.Open(filepath.Join(fsRoot, "proc/config.gz"))
	if err != nil {
		return false
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(z)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "CONFIG_NETFILTER_NETLINK_GLUE_CT="); ok {
			return v == "y" || v == "m"
		}
	}
	return false
}
