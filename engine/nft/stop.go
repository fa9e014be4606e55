package nft

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
)

// Why a table is changed at all when conduit stops: the kernel drops every
// packet still queued in a namespace when any netfilter hook of it is
// unregistered (nf_queue_nf_hook_drop), and deleting the table unregisters
// its chain and, with the last ct expression, conntrack's hooks. So conduit
// first stops the queueing with a rule at the head of its chain, which
// unregisters nothing, judges what is already queued, and only then, with
// the queues empty and closed, deletes the table (fail-open) or leaves it
// in place with the drop rule first (fail-closed).

// chainName is the chain buildTable creates, where the queue rule is.
const chainName = "forward"

// Divert comments, as `nft list table` shows them.
const (
	DivertAcceptComment = "conduit: queueing stopped, the kernel forwards (fail_open: true)"
	DivertDropComment   = "conduit stopped with fail_open: false: the kernel drops until conduit starts (conduit remove deletes this table)"
)

// Divert puts a rule at the head of the forward chain of every conduit
// table in namespace netns (0: ours): accept, so the kernel forwards, or
// drop, so it drops. Packets already queued keep waiting for their
// verdicts, and none is queued after it. It reports how many tables it
// changed; none when there is no conduit table.
func Divert(netns int, drop bool) (int, error) {
	conn, err := dial(Config{NetNS: netns})
	if err != nil {
		return 0, err
	}
	tables, err := conduitTables(conn, false)
	if err != nil {
		return 0, err
	}
	verdict, comment := expr.VerdictAccept, DivertAcceptComment
	if drop {
		verdict, comment = expr.VerdictDrop, DivertDropComment
	}
	for _, t := range tables {
		conn.InsertRule(&nftables.Rule{
			Table:    t,
			Chain:    &nftables.Chain{Name: chainName, Table: t},
			Exprs:    []expr.Any{&expr.Counter{}, &expr.Verdict{Kind: verdict}},
			UserData: userdata.AppendString(nil, userdata.TypeComment, comment),
		})
	}
	if len(tables) == 0 {
		return 0, nil
	}
	if err := conn.Flush(); err != nil {
		return 0, fmt.Errorf("stop queueing in nftables table %q: %w", TableName, err)
	}
	return len(tables), nil
}

// Divert stops the queueing of the installed table (see the package's Divert).
func (i *Installed) Divert(drop bool) error {
	_, err := Divert(i.cfg.NetNS, drop)
	return err
}

// RemoveAll deletes every conduit table in namespace netns (0: ours), in
// whichever families it exists, and returns the families it deleted it
// from. This is how a kept fail-closed table is removed on purpose.
func RemoveAll(netns int) ([]string, error) {
	conn, err := dial(Config{NetNS: netns})
	if err != nil {
		return nil, err
	}
	tables, err := conduitTables(conn, true)
	if err != nil {
		return nil, err
	}
	var fams []string
	for _, t := range tables {
		conn.DelTable(t)
		fams = append(fams, familyName(t.Family))
	}
	if len(tables) == 0 {
		return nil, nil
	}
	if err := conn.Flush(); err != nil {
		return nil, fmt.Errorf("remove nftables table %q: %w", TableName, err)
	}
	return fams, nil
}

// conduitTables lists the tables named TableName in the families conduit
// queues from, and with bridge also the bridge table of the layer2
// section. Divert leaves that one alone: it queues nothing, and it goes on
// refusing frames while conduit is stopped.
func conduitTables(conn *nftables.Conn, bridge bool) ([]*nftables.Table, error) {
	all, err := conn.ListTables()
	if err != nil {
		return nil, fmt.Errorf("list nftables tables: %w", err)
	}
	var out []*nftables.Table
	for _, t := range all {
		switch t.Family {
		case nftables.TableFamilyINet, nftables.TableFamilyIPv4, nftables.TableFamilyIPv6:
			if t.Name == TableName {
				out = append(out, t)
			}
		case nftables.TableFamilyBridge:
			if bridge && t.Name == TableName {
				out = append(out, t)
			}
		}
	}
	return out, nil
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyINet:
		return "inet"
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyBridge:
		return "bridge"
	}
	return fmt.Sprint(uint8(f))
}
