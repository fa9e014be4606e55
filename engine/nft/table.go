package nft

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink/nltest"
)

// TableName is the only table conduit creates, in whichever families it uses.
const TableName = "conduit"

// Config describes the queue rule.
type Config struct {
	QueueNum   uint16 // first queue
	QueueCount uint16 // number of queues, balanced by a symmetric flow hash; 0 means 1
	Bypass     bool   // the kernel accepts packets while no reader is bound (fail-open)
	NetNS      int    // optional netns fd; 0 is the caller's namespace
	// Fastpath adds the rule that accepts established connections marked
	// with CtMarkFastpath before the queue (fastpath.go).
	Fastpath bool
}

// Method names how the queue rule was expressed.
type Method string

const (
	MethodNative     Method = "native-queue-inet" // nft "queue" expression, inet table
	MethodCompatInet Method = "xt-nfqueue-inet"   // xtables NFQUEUE target via nft_compat, inet table
	MethodCompatIP   Method = "xt-nfqueue-ip+ip6" // the same in separate ip and ip6 tables
)

// Installed is a table the kernel accepted.
type Installed struct {
	Method   Method
	families []nftables.TableFamily
	cfg      Config
}

// candidate is one way of expressing the queue rule.
type candidate struct {
	method   Method
	families []nftables.TableFamily
	queue    func(Config) expr.Any
}

func candidates() []candidate {
	return []candidate{
		{MethodNative, []nftables.TableFamily{nftables.TableFamilyINet}, nativeQueue},
		{MethodCompatInet, []nftables.TableFamily{nftables.TableFamilyINet}, compatQueue},
		{MethodCompatIP, []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6}, compatQueue},
	}
}

// Install replaces any stale conduit table with a fresh one in a single
// batch per candidate method. It returns the first method the kernel took,
// or every refusal when none worked.
func Install(cfg Config, log *slog.Logger) (*Installed, error) {
	if cfg.QueueCount == 0 {
		cfg.QueueCount = 1
	}
	if uint32(cfg.QueueNum)+uint32(cfg.QueueCount) > 65536 {
		return nil, fmt.Errorf("queue range %d..%d exceeds 65535", cfg.QueueNum, uint32(cfg.QueueNum)+uint32(cfg.QueueCount)-1)
	}
	conn, err := dial(cfg)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, c := range candidates() {
		// Remove leftovers of every candidate first, so that a table from an
		// earlier run in another family never queues to a dead reader.
		for _, other := range candidates() {
			if other.method != c.method {
				removeFamilies(conn, other.families)
			}
		}
		for _, fam := range c.families {
			t := &nftables.Table{Name: TableName, Family: fam}
			conn.AddTable(t) // add-then-delete makes the delete valid whether or not a stale table exists
			conn.DelTable(t)
			buildTable(conn, t, c.queue(cfg), cfg)
		}
		if err := conn.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.method, err))
			log.Debug("nftables queue method refused", "method", c.method, "err", err)
			continue
		}
		log.Info("nftables table installed", "table", TableName, "method", c.method,
			"queue_num", cfg.QueueNum, "queue_count", cfg.QueueCount, "bypass", cfg.Bypass)
		return &Installed{Method: c.method, families: c.families, cfg: cfg}, nil
	}
	return nil, fmt.Errorf("install nftables table %q: kernel refused every queue method (need CONFIG_NFT_QUEUE, or CONFIG_NFT_COMPAT with CONFIG_NETFILTER_XT_TARGET_NFQUEUE): %w",
		TableName, errors.Join(errs...))
}

// Remove deletes the table. Removing a table that is already gone is not an error.
func (i *Installed) Remove() error {
	conn, err := dial(i.cfg)
	if err != nil {
		return err
	}
	removeFamilies(conn, i.families)
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("remove nftables table %q: %w", TableName, err)
	}
	return nil
}

// Present reports whether the conduit table exists in the given namespace (0: ours).
func Present(netns int) (bool, error) {
	conn, err := dial(Config{NetNS: netns})
	if err != nil {
		return false, err
	}
	tables, err := conn.ListTables()
	if err != nil {
		return false, fmt.Errorf("list nftables tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == TableName {
			return true, nil
		}
	}
	return false, nil
}

// testKernel, when a test sets it, stands in for the kernel's nftables
// netlink (every message of every batch goes to it).
var testKernel nltest.Func

func dial(cfg Config) (*nftables.Conn, error) {
	var opts []nftables.ConnOption
	if testKernel != nil {
		opts = append(opts, nftables.WithTestDial(testKernel))
	}
	if cfg.NetNS != 0 {
		opts = append(opts, nftables.WithNetNSFd(cfg.NetNS))
	}
	conn, err := nftables.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("open nftables netlink: %w", err)
	}
	return conn, nil
}

func removeFamilies(conn *nftables.Conn, fams []nftables.TableFamily) {
	for _, fam := range fams {
		t := &nftables.Table{Name: TableName, Family: fam}
		conn.AddTable(t)
		conn.DelTable(t)
	}
}

// buildTable queues the table's forward traffic. Priority filter (0) runs after
// conntrack's defragmentation (-400) and connection tracking (-200).
func buildTable(conn *nftables.Conn, t *nftables.Table, queue expr.Any, cfg Config) {
	conn.AddTable(t)
	accept := nftables.ChainPolicyAccept
	ch := conn.AddChain(&nftables.Chain{
		Name:     "forward",
		Table:    t,
		Type:     nftables.ChainTypeFilter,
		Hooknum:  nftables.ChainHookForward,
		Priority: nftables.ChainPriorityFilter,
		Policy:   &accept,
	})
	// Counter-only rule that references conntrack: its presence registers
	// the family's conntrack and defrag hooks for this namespace. It has no
	// verdict, so every packet continues to the queue rule.
	conn.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Counter{},
	}})
	if cfg.Fastpath {
		addFastpathRule(conn, t, ch, !cfg.Bypass)
	}
	conn.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
		&expr.Counter{},
		queue,
	}})
}
