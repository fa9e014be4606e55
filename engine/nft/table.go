package nft

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/conduit-ot/conduit/rules"
	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"
)

// TableName is the only table conduit creates, in whichever families it uses.
const TableName = "conduit"

// Config describes the table.
type Config struct {
	QueueNum   uint16 // first queue
	QueueCount uint16 // number of queues, balanced by a symmetric flow hash; 0 means 1
	Bypass     bool   // the kernel accepts packets while no reader is bound (fail-open)
	NetNS      int    // optional netns fd; 0 is the caller's namespace
	// Policy, when set, is compiled into the kernel pre-filter
	// (prefilter.go) and decides what goes to the app queue.
	Policy *rules.Policy
	Filter FilterConfig
	// AppQueue sends the flows a protocol-condition rule could decide to
	// queue QueueNum+QueueCount, which has no bypass (appqueue.go).
	AppQueue bool
	// Fastpath adds the rule that accepts established connections marked
	// with CtMarkFastpath before the pre-filter (fastpath.go).
	Fastpath bool
	// Dial, when set, stands in for the kernel's nftables netlink: every
	// message of every batch goes to it (unit tests' fake kernel). Nil
	// dials the kernel.
	Dial nltest.Func
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
	queue    func(Config) expr.Any
	// Logging is whether the kernel took the NFLOG statement; without it
	// kernel drops are counted only.
	Logging bool
	// Prefilter is whether the kernel took the pre-filter (and the app
	// queue); without it every packet is queued.
	Prefilter bool
	// Layer2 is whether the kernel took the bridge table of the policy's
	// layer2 section (layer2.go); without it non-IP frames cross unjudged.
	Layer2 bool

	mu           sync.Mutex
	ruleOf       map[string]string  // counter → rule name of the table in force
	base         map[string]Counter // by rule name: counts of tables replaced since Install
	unjudgedBase Counter
	removed      bool       // Remove ran: the counts are all in the bases
	progs        []*program // what each family's table holds, for an in-place replace
	l2           *l2program // what the bridge table holds; nil without one
	l2base       map[Layer2Key]Counter
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
// or every refusal when none worked. A kernel that refuses the NFLOG
// statement gets the table without it.
func Install(cfg Config, log *slog.Logger) (*Installed, error) {
	if cfg.QueueCount == 0 {
		cfg.QueueCount = 1
	}
	last := uint32(cfg.QueueNum) + uint32(cfg.QueueCount)
	if cfg.AppQueue {
		last++
	}
	if last > 65536 {
		return nil, fmt.Errorf("queue range %d..%d exceeds 65535", cfg.QueueNum, last-1)
	}
	conn, err := dial(cfg)
	if err != nil {
		return nil, err
	}
	// A table left in place (a killed daemon, a fail-closed stop) is
	// emptied and refilled in place where the method's families allow:
	// deleting it would unregister its hooks, and the kernel would then
	// drop what the new queues hold by the time the batch commits.
	stale := map[nftables.TableFamily]*staleTable{}
	if tables, err := conn.ListTables(); err == nil {
		for _, t := range tables {
			if t.Name != TableName {
				continue
			}
			if st, err := listStale(conn, t.Family); err == nil {
				stale[t.Family] = st
			}
		}
	}
	var errs []error
	// In order of preference: the pre-filter with NFLOG, without NFLOG,
	// and as the last resort no pre-filter at all (every packet queued, as
	// before it existed), each with every queue method.
	// With the bridge table of the layer2 section first, then (a kernel
	// without nf_tables' bridge family) without it.
	type variant struct{ filter, logging, layer2 bool }
	var variants []variant
	for _, l2 := range []bool{true, false} {
		if l2 && cfg.Policy == nil {
			continue
		}
		if cfg.Policy != nil {
			if cfg.Filter.LogGroup != 0 {
				variants = append(variants, variant{true, true, l2})
			}
			variants = append(variants, variant{true, false, l2})
		}
		variants = append(variants, variant{false, false, l2})
	}
	for _, v := range variants {
		for _, c := range candidates() {
			// Remove leftovers of every candidate first, so that a table from an
			// earlier run in another family never queues to a dead reader.
			for _, other := range candidates() {
				if other.method != c.method {
					removeFamilies(conn, without(other.families, c.families))
				}
			}
			inst := &Installed{Method: c.method, families: c.families, cfg: cfg, queue: c.queue, Logging: v.logging,
				Prefilter: v.filter, Layer2: v.layer2, base: map[string]Counter{}}
			ruleOf, progs, l2 := inst.build(conn, cfg.Policy, false, stale)
			if err := conn.Flush(); err != nil {
				errs = append(errs, fmt.Errorf("%s (prefilter %v, nflog %v, layer2 %v): %w", c.method, v.filter, v.logging, v.layer2, err))
				log.Debug("nftables table refused", "method", c.method, "prefilter", v.filter, "nflog", v.logging, "layer2", v.layer2, "err", err)
				continue
			}
			inst.ruleOf, inst.progs, inst.l2 = ruleOf, progs, l2
			if cfg.Policy != nil && !v.filter {
				log.Warn("the kernel refused the pre-filter: every packet is queued", "event", "nft",
					"table", TableName, "method", c.method, "err", errors.Join(errs...).Error())
			}
			if cfg.Policy != nil && !v.layer2 {
				log.Warn("the kernel refused the bridge table of the layer2 section: non-IP frames cross the bridge unjudged (CONFIG_NF_TABLES_BRIDGE)",
					"event", "nft", "table", "bridge "+TableName, "err", errors.Join(errs...).Error())
			}
			log.Info("nftables table installed", "table", TableName, "method", c.method,
				"queue_num", cfg.QueueNum, "queue_count", cfg.QueueCount, "bypass", cfg.Bypass,
				"app_queue", cfg.AppQueue, "prefilter", v.filter, "nflog", v.logging, "layer2", v.layer2)
			return inst, nil
		}
	}
	return nil, fmt.Errorf("install nftables table %q: kernel refused every queue method (need CONFIG_NFT_QUEUE, or CONFIG_NFT_COMPAT with CONFIG_NETFILTER_XT_TARGET_NFQUEUE): %w",
		TableName, errors.Join(errs...))
}

// build queues a fresh table (the stale one deleted first) for every
// family of the method into conn's batch, and returns its counter names.
//
// With inPlace, the base chains of the table in force stay, and only what
// they hold is replaced (emptyTable): deleting a base chain unregisters its
// hook, and the kernel then drops every packet queued in the namespace,
// so a reload that rebuilt the table would lose what its queues hold.
func (i *Installed) build(conn *nftables.Conn, pol *rules.Policy, inPlace bool, stale map[nftables.TableFamily]*staleTable) (map[string]string, []*program, *l2program) {
	cfg := i.cfg
	cfg.Policy = pol
	var l2 *l2program
	if i.Layer2 && pol != nil {
		l2 = compileLayer2(pol, i.logGroup())
		var old *l2program
		if inPlace {
			old = i.l2
		}
		buildLayer2(conn, l2, old, stale[nftables.TableFamilyBridge])
	}
	if !i.Prefilter {
		cfg.Policy, pol = nil, nil
	}
	fc := cfg.Filter
	if !i.Logging {
		fc.LogGroup = 0
	}
	var fams [][]family
	if len(i.families) == 1 {
		fams = [][]family{{fam4, fam6}}
	} else {
		fams = [][]family{{fam4}, {fam6}}
	}
	ruleOf := map[string]string{}
	progs := make([]*program, len(i.families))
	for k, tf := range i.families {
		t := &nftables.Table{Name: TableName, Family: tf}
		st := stale[tf]
		if !inPlace && st == nil {
			conn.AddTable(t) // add-then-delete makes the delete valid whether or not a stale table exists
			conn.DelTable(t)
		}
		var app *appQueue
		if cfg.AppQueue && pol != nil && HasAppRules(pol) {
			app = &appQueue{queue: i.queue(Config{QueueNum: cfg.QueueNum + cfg.QueueCount, QueueCount: 1})}
		}
		var prog *program
		if pol != nil {
			prog = compile(pol, fams[k], fc, app)
		} else {
			prog = &program{}
		}
		if cfg.Fastpath {
			prog.addFastpath(!cfg.Bypass)
		}
		switch {
		case inPlace:
			emptyTable(conn, t, i.progs[k])
			fillTable(conn, t, i.queue(cfg), prog)
		case st != nil:
			st.empty(conn, t)
			addBaseChains(conn, t, st.base)
			fillTable(conn, t, i.queue(cfg), prog)
		default:
			buildTable(conn, t, i.queue(cfg), prog)
		}
		progs[k] = prog
		for c, r := range prog.ruleOf {
			ruleOf[c] = r
		}
	}
	return ruleOf, progs, l2
}

// logGroup is the NFLOG group the table logs to, 0 for none.
func (i *Installed) logGroup() uint16 {
	if !i.Logging {
		return 0
	}
	return i.cfg.Filter.LogGroup
}

// Replace swaps the table for one compiled from pol, in one atomic batch:
// packets see either the old rules or the new. The kernel counters of the
// old table are kept in the totals. On error the old table stays.
func (i *Installed) Replace(pol *rules.Policy) error {
	conn, err := dial(i.cfg)
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	old, unj, oerr := i.readLocked(conn)
	l2old, l2err := i.readL2Locked(conn)
	inPlace := !i.removed && len(i.progs) == len(i.families)
	ruleOf, progs, l2 := i.build(conn, pol, inPlace, nil)
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("replace nftables table %q: %w", TableName, err)
	}
	if oerr == nil && !i.removed {
		i.addBaseLocked(old, unj)
	}
	if l2err == nil && !i.removed {
		i.addL2BaseLocked(l2old)
	}
	i.ruleOf, i.progs, i.l2, i.removed = ruleOf, progs, l2, false
	return nil
}

// Remove deletes the table. Removing a table that is already gone is not an error.
// The table's counters are kept: Counters reports them afterwards (the
// hit state saved at shutdown includes them).
func (i *Installed) Remove() error {
	conn, err := dial(i.cfg)
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if !i.removed {
		if drops, unj, err := i.readLocked(conn); err == nil {
			i.addBaseLocked(drops, unj)
		}
		if l2, err := i.readL2Locked(conn); err == nil {
			i.addL2BaseLocked(l2)
		}
	}
	removeFamilies(conn, i.families)
	if i.Layer2 {
		removeFamilies(conn, bridgeFamily)
	}
	if err := conn.Flush(); err != nil {
		return fmt.Errorf("remove nftables table %q: %w", TableName, err)
	}
	i.removed = true
	return nil
}

// addBaseLocked keeps the counts of a table about to go.
func (i *Installed) addBaseLocked(drops map[string]Counter, unj Counter) {
	i.unjudgedBase = i.unjudgedBase.plus(unj)
	for name, c := range drops {
		i.base[name] = i.base[name].plus(c)
	}
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

func dial(cfg Config) (*nftables.Conn, error) {
	// A batch is one message per table, chain, set and rule, each
	// acknowledged: a compiled policy is thousands, more than the default
	// socket buffers hold.
	opts := []nftables.ConnOption{nftables.WithSockOptions(bigReadBuffer)}
	if cfg.Dial != nil {
		opts = append(opts, nftables.WithTestDial(cfg.Dial))
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

// buildTable adds the table and its chains. Priority filter (0) runs
// after conntrack's defragmentation (-400) and connection tracking (-200).
func buildTable(conn *nftables.Conn, t *nftables.Table, queue expr.Any, prog *program) {
	conn.AddTable(t)
	addBaseChains(conn, t, nil)
	fillTable(conn, t, queue, prog)
}

// addBaseChains adds the base chains the table does not have yet.
func addBaseChains(conn *nftables.Conn, t *nftables.Table, have map[string]bool) {
	accept := nftables.ChainPolicyAccept
	if !have[chainName] {
		conn.AddChain(&nftables.Chain{
			Name:     chainName,
			Table:    t,
			Type:     nftables.ChainTypeFilter,
			Hooknum:  nftables.ChainHookForward,
			Priority: nftables.ChainPriorityFilter,
			Policy:   &accept,
		})
	}
	if !have["unjudged"] {
		conn.AddChain(&nftables.Chain{
			Name:     "unjudged",
			Table:    t,
			Type:     nftables.ChainTypeFilter,
			Hooknum:  nftables.ChainHookForward,
			Priority: nftables.ChainPriorityRef(unjudgedPriority),
			Policy:   &accept,
		})
	}
}

// fillTable adds the rules of both base chains and everything else the
// table holds; the base chains exist (and are empty).
func fillTable(conn *nftables.Conn, t *nftables.Table, queue expr.Any, prog *program) {
	fwd := &nftables.Chain{Name: chainName, Table: t}
	acct := &nftables.Chain{Name: "unjudged", Table: t}
	chains := map[string]*nftables.Chain{}
	for _, c := range prog.chains {
		chains[c.name] = conn.AddChain(&nftables.Chain{Name: c.name, Table: t})
	}
	ids := map[string]uint32{}
	for _, s := range prog.sets {
		set := s.set
		set.Table = t
		set.ID = 0
		if set.Interval {
			set.KeyByteOrder = binaryutil.BigEndian
		}
		// AddSet only fails on an anonymous set that is not constant.
		_ = conn.AddSet(&set, s.elems)
		ids[set.Name] = set.ID
	}
	conn.AddObj(&nftables.CounterObj{Table: t, Name: unjudgedCounter})
	for _, name := range prog.counters {
		conn.AddObj(&nftables.CounterObj{Table: t, Name: name})
	}
	for _, ex := range forwardRules(queue, prog) {
		r := &nftables.Rule{Table: t, Chain: fwd, Exprs: ex}
		if isFastpathRule(ex) {
			r.UserData = fastpathTag
			for _, e := range ex {
				if l, ok := e.(*expr.Lookup); ok {
					l.SetID = ids[l.SetName]
				}
			}
		}
		conn.AddRule(r)
	}
	conn.AddRule(&nftables.Rule{Table: t, Chain: acct, Exprs: unjudgedRule()})
	for _, c := range prog.chains {
		for _, ex := range c.rules {
			for _, e := range ex {
				if l, ok := e.(*expr.Lookup); ok {
					l.SetID = ids[l.SetName]
				}
			}
			conn.AddRule(&nftables.Rule{Table: t, Chain: chains[c.name], Exprs: ex})
		}
	}
}

// forwardRules is the forward chain, in order. Every rule but the last
// either has no verdict or ends the packet's way early.
func forwardRules(queue expr.Any, prog *program) [][]expr.Any {
	var out [][]expr.Any
	// Counter-only rule that references conntrack: its presence registers
	// the family's conntrack and defrag hooks for this namespace. It has no
	// verdict, so every packet continues.
	out = append(out, []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Counter{},
	})
	// The fast path of decided flows (CtMarkFastpath): before the
	// pre-filter, which only judges new packets anyway.
	if prog.fastpath {
		out = append(out, fastpathRule(prog.alive))
	}
	if prog.entry != "" {
		// Drops what no allow rule could match; returns everything else.
		out = append(out, []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: prog.entry}})
	}
	if prog.appEntry != "" {
		// Protocol-condition flows leave for their own queue.
		out = append(out, []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: prog.appEntry}})
	}
	out = append(out, []expr.Any{&expr.Counter{}, queue})
	return out
}

// The unjudged chain runs after the forward chain and counts the packets
// that were accepted without a verdict from conduit: passed by the
// kernel because the queue was full (fail-open flag) or had no reader
// (bypass). The fast path accepts decided flows on purpose; those are
// not counted.
const (
	unjudgedPriority = 100
	unjudgedCounter  = "unjudged"
)

func unjudgedRule() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(MarkJudged), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Ct{Register: 1, Key: expr.CtKeyMARK},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(CtMarkFastpath), Xor: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
		&expr.Objref{Type: 1, Name: unjudgedCounter},
	}
}

func bigReadBuffer(c *netlink.Conn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil // a test's fake socket: nothing to size
	}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20)
		if serr != nil {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 32<<20)
		}
		// The batch is one sendmsg, which netlink limits to the send buffer.
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 64<<20); err != nil {
			_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 64<<20)
		}
	}); err != nil {
		return err
	}
	return serr
}

// emptyTable queues, into conn's batch, the removal of everything old put
// in the table but its two base chains, which stay with their hooks:
// their rules first (they reference the rest), then the maps (their
// elements reference chains), the sets, the chains and the counters.
func emptyTable(conn *nftables.Conn, t *nftables.Table, old *program) {
	conn.FlushChain(&nftables.Chain{Name: chainName, Table: t})
	conn.FlushChain(&nftables.Chain{Name: "unjudged", Table: t})
	for _, c := range old.chains {
		conn.FlushChain(&nftables.Chain{Name: c.name, Table: t})
	}
	for _, s := range old.sets {
		conn.DelSet(&nftables.Set{Name: s.set.Name, Table: t})
	}
	for _, c := range old.chains {
		conn.DelChain(&nftables.Chain{Name: c.name, Table: t})
	}
	for _, name := range append([]string{unjudgedCounter}, old.counters...) {
		conn.DeleteObject(&nftables.CounterObj{Table: t, Name: name})
	}
}

// staleTable is what a conduit table left in place holds, listed before
// the batch that empties it.
type staleTable struct {
	chains, sets, counters []string
	base                   map[string]bool // base chains, by name
}

// listStale lists what the conduit table of family fam holds.
func listStale(conn *nftables.Conn, fam nftables.TableFamily) (*staleTable, error) {
	t := &nftables.Table{Name: TableName, Family: fam}
	st := &staleTable{base: map[string]bool{}}
	chains, err := conn.ListChainsOfTableFamily(fam)
	if err != nil {
		return nil, err
	}
	for _, c := range chains {
		switch {
		case c.Table == nil || c.Table.Name != TableName:
		case c.Hooknum != nil:
			st.base[c.Name] = true
		default:
			st.chains = append(st.chains, c.Name)
		}
	}
	sets, err := conn.GetSets(t)
	if err != nil {
		return nil, err
	}
	for _, set := range sets {
		if !set.Anonymous && !strings.HasPrefix(set.Name, "__") {
			st.sets = append(st.sets, set.Name)
		}
	}
	objs, err := conn.GetObjects(t)
	if err != nil {
		return nil, err
	}
	for _, o := range objs {
		if c, ok := o.(*nftables.CounterObj); ok {
			st.counters = append(st.counters, c.Name)
		}
	}
	return st, nil
}

// empty queues the removal of everything in the table but the base chains
// conduit makes, which stay with their hooks (and lose their rules).
func (st *staleTable) empty(conn *nftables.Conn, t *nftables.Table) {
	for name := range st.base {
		conn.FlushChain(&nftables.Chain{Name: name, Table: t})
	}
	for _, c := range st.chains {
		conn.FlushChain(&nftables.Chain{Name: c, Table: t})
	}
	for _, s := range st.sets {
		conn.DelSet(&nftables.Set{Name: s, Table: t})
	}
	for _, c := range st.chains {
		conn.DelChain(&nftables.Chain{Name: c, Table: t})
	}
	for _, c := range st.counters {
		conn.DeleteObject(&nftables.CounterObj{Table: t, Name: c})
	}
	for name := range st.base {
		if name != chainName && name != "unjudged" {
			conn.DelChain(&nftables.Chain{Name: name, Table: t})
		}
	}
}

// without returns the families of a that are not in b.
func without(a, b []nftables.TableFamily) []nftables.TableFamily {
	var out []nftables.TableFamily
	for _, f := range a {
		keep := true
		for _, g := range b {
			keep = keep && f != g
		}
		if keep {
			out = append(out, f)
		}
	}
	return out
}
