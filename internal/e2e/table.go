package e2e

import (
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"

	"github.com/conduit-ot/conduit/engine/nft"
	"github.com/conduit-ot/conduit/internal/plant"
)

// withFW calls fn with a descriptor of the firewall namespace.
func (r *Rig) withFW(fn func(ns int)) {
	r.T.Helper()
	withNS(r.T, r.P.FW, fn)
}

func withNS(t testing.TB, name string, fn func(ns int)) {
	t.Helper()
	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fn(int(f.Fd()))
}

// TablePresent reports whether a conduit table exists in the firewall
// namespace (`nft list tables`, over netlink).
func (r *Rig) TablePresent() bool {
	r.T.Helper()
	return TablePresent(r.T, r.P.FW)
}

// TablePresent reports whether a conduit table exists in namespace ns.
func TablePresent(t testing.TB, ns string) (ok bool) {
	t.Helper()
	withNS(t, ns, func(fd int) {
		var err error
		if ok, err = nft.Present(fd); err != nil {
			t.Fatal(err)
		}
	})
	return ok
}

// NFT runs the nft script in namespace ns.
func (r *Rig) NFT(ns, script string) {
	r.T.Helper()
	cmd := plant.NSCmd(ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		r.T.Fatalf("nft in %s: %v: %s", ns, err, out)
	}
}

// Stall makes the bridge drop every packet toward dst for d, as a box that
// stalls would (this kernel has no netem); it returns at once.
func (r *Rig) Stall(dst netip.Addr, d time.Duration) {
	r.T.Helper()
	r.NFT(r.P.FW, "table bridge stall {\n chain drops {\n type filter hook forward priority -300;\n ip daddr "+
		dst.String()+" drop\n }\n}\n")
	go func() {
		time.Sleep(d)
		plant.NSCmd(r.P.FW, "nft", "delete", "table", "bridge", "stall").Run()
	}()
}

// DivertTables puts an accept rule first in the conduit tables a killed
// daemon left behind: the kernel forwards everything, as it did before the
// pre-filter dropped what no rule allows, and keeps tracking connections.
func (r *Rig) DivertTables() {
	r.T.Helper()
	r.withFW(func(ns int) {
		if n, err := nft.Divert(ns, false); err != nil || n == 0 {
			r.T.Fatalf("divert the leftover conduit table: %d tables, %v", n, err)
		}
	})
}

// DeleteTables removes the conduit tables a killed daemon left behind.
func (r *Rig) DeleteTables() {
	r.T.Helper()
	r.withFW(func(ns int) {
		conn, err := nftables.New(nftables.WithNetNSFd(ns))
		if err != nil {
			r.T.Fatal(err)
		}
		tables, err := conn.ListTables()
		if err != nil {
			r.T.Fatal(err)
		}
		for _, tb := range tables {
			if tb.Name == nft.TableName {
				conn.DelTable(tb)
			}
		}
		if err := conn.Flush(); err != nil {
			r.T.Fatalf("delete the leftover conduit table: %v", err)
		}
	})
}

// KillKeepingTable SIGKILLs the daemon and checks that its table stayed.
func (r *Rig) KillKeepingTable(d *Daemon) {
	r.T.Helper()
	d.Signal(syscall.SIGKILL)
	if code := d.WaitExit(ExitTimeout); code != -int(syscall.SIGKILL) {
		r.T.Fatalf("conduit exit %d, want killed", code)
	}
	if !r.TablePresent() {
		r.T.Fatal("the conduit table is gone after SIGKILL; this test needs it to stay")
	}
}
