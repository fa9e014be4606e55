package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/engine/nft"
)

// runRemove deletes the nftables table a fail-closed conduit leaves in
// place when it stops (or a killed one left), so that the kernel forwards
// on its own again: the deliberate way to take conduit out of the path.
func runRemove(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("remove", "", stderr)
	force := fs.Bool("force", false, "remove the table even while NFQUEUE queues are bound in this namespace (a conduit may be running)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "conduit remove: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "conduit remove needs root (CAP_NET_ADMIN) to delete the nftables table")
		return 1
	}
	if !*force {
		// Under a running daemon the kernel would drop what is queued and
		// then forward everything past it: stop it first.
		if qs, err := engine.ReadKernelQueues(); err == nil && len(qs) > 0 {
			nums := make([]string, len(qs))
			for i, q := range qs {
				nums[i] = fmt.Sprint(q.Num)
			}
			fmt.Fprintf(stderr, "conduit remove: NFQUEUE queue(s) %s are bound in this namespace, so a conduit may be running: stop it first (systemctl stop conduit), or use --force\n",
				strings.Join(nums, ", "))
			return 1
		}
	}
	fams, err := nft.RemoveAll(0)
	if err != nil {
		fmt.Fprintf(stderr, "conduit remove: %v\n", err)
		return 1
	}
	if len(fams) == 0 {
		fmt.Fprintf(stdout, "no nftables table %q in this namespace: nothing to remove\n", nft.TableName)
		return 0
	}
	fmt.Fprintf(stdout, "removed nftables table %q (%s): the kernel forwards on its own\n", nft.TableName, strings.Join(fams, ", "))
	return 0
}
