package e2e

import (
	"os"
	"syscall"

	"github.com/google/nftables"

	"github.com/conduit-ot/conduit/engine/nft"
)

// withFW calls fn with a descriptor of the firewall namespace.
func (r *Rig) withFW(fn func(ns int)) {
	r.T.Helper()
	f, err := os.Open("/run/netns/" + r.P.FW)
	if err != nil {
		r.T.Fatal(err)
	}
	defer f.Close()
	fn(int(f.Fd()))
}

// TablePresent reports whether a conduit table exists in the firewall
// namespace (`nft list tables`, over netlink).
func (r *Rig) TablePresent() (ok bool) {
	r.T.Helper()
	r.withFW(func(ns int) {
		var err error
		if ok, err = nft.Present(ns); err != nil {
			r.T.Fatal(err)
		}
	})
	return ok
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
