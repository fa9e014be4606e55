package nft

import (
	"fmt"
	"sort"
	"strings"

	"github.com/conduit-ot/conduit/rules"
	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
)

// The layer2 section of the policy is enforced in a bridge-family table
// of the same name, "bridge conduit", in the same batch as the inet
// table. Its forward chain sees every frame the bridge forwards, before
// br_netfilter hands IP to the inet table (priority filter, -200, runs
// before br_netfilter's 0):
//
//	ether type ip accept                    # IP is the inet table's to judge
//	ether type ip6 accept
//	ether type 8100 vlan type ip accept     # tagged IP likewise
//	ether type 8100 vlan type ip6 accept
//	ether type arp counter name "l2_arp_accept" accept            # an allow entry
//	ether type 8100 vlan type arp counter name "l2_arp_accept" accept
//	ether type 0x8892 iifname @l2p_0 oifname @l2p_0 counter name "l2_profinet_accept" accept
//	ether type 0x88b8 counter name "l2_goose_drop" limit rate 10/second burst 10 packets log prefix "l2:enforce" group 1700 drop
//	ether type 0x88b8 drop
//	ether type < 0x0600 …                   # llc: 802.3 frames (STP BPDUs)
//	…                                       # every EtherType of the vocabulary, then
//	ether type 8100 counter name "l2_vlan_drop" … drop   # tagged, carrying anything else
//	counter name "l2_other_drop" … drop     # any other EtherType
//
// Refused frames are dropped in enforce and accepted in monitor (logged
// as would-drops either way); in passthrough nothing is judged and every
// frame is counted as accepted. The kernel does all of it, so the layer2
// section holds while conduit is stopped, restarting or crashed, as long
// as the table is in place. The table has no queue: its base chain can be
// replaced in place on reload like the inet table's (deleting a hook
// would make the kernel drop what conduit's queues hold).

// l2LogRate bounds the NFLOG messages of each refused EtherType (per
// second, and the burst): the log is per kind of frame, not per frame.
const l2LogRate = 10

// L2LogPrefix starts the NFLOG prefix of layer2 messages; the mode follows.
const L2LogPrefix = "l2:"

// Layer2 verdict words, of the counters and the metrics.
const (
	L2Accept    = "accept"
	L2Drop      = "drop"
	L2WouldDrop = "would_drop"
)

// Layer2Key names one layer2 counter: an EtherType (its vocabulary name,
// 0xNNNN for a number outside it, "other" for what no rule names, "vlan"
// for tagged frames carrying what no rule names) and the verdict.
type Layer2Key struct {
	EtherType string `json:"ethertype"`
	Verdict   string `json:"verdict"`
}

// l2program is what the bridge table holds besides its base chain.
type l2program struct {
	sets     []*setSpec
	counters []string
	keyOf    map[string]Layer2Key
	rules    [][]expr.Any // the forward chain
}

// compileLayer2 builds the bridge table's program from the policy's
// layer2 section. logGroup 0 counts without logging.
func compileLayer2(pol *rules.Policy, logGroup uint16) *l2program {
	p := &l2program{keyOf: map[string]Layer2Key{}}
	l := &pol.Layer2
	for _, t := range []uint16{rules.EtherTypeIPv4, rules.EtherTypeIPv6} {
		p.rules = append(p.rules, l2Match(t, false, "", "", &expr.Verdict{Kind: expr.VerdictAccept}))
		p.rules = append(p.rules, l2Match(t, true, "", "", &expr.Verdict{Kind: expr.VerdictAccept}))
	}
	ports := map[string]string{} // port list → set name
	portSet := func(list []string) string {
		if len(list) == 0 {
			return ""
		}
		k := strings.Join(list, "\x00")
		if name, ok := ports[k]; ok {
			return name
		}
		name := fmt.Sprintf("l2p_%d", len(ports))
		ports[k] = name
		// nft's ifname type is host-endian: said so, it lists the names as written.
		s := &setSpec{set: nftables.Set{Name: name, KeyType: nftables.TypeIFName, KeyByteOrder: binaryutil.NativeEndian}}
		for _, port := range list {
			s.elems = append(s.elems, nftables.SetElement{Key: ifname(port)})
		}
		p.sets = append(p.sets, s)
		return name
	}
	accept := &expr.Verdict{Kind: expr.VerdictAccept}
	if l.Mode == rules.ModePassthrough {
		// Nothing judged: every frame counted by EtherType as accepted.
		for _, e := range rules.EtherTypes {
			c := p.counter(e.Name, L2Accept)
			if e.Number != rules.EtherTypeVLAN {
				p.rules = append(p.rules, l2Match(e.Number, false, "", "", c, accept))
				p.rules = append(p.rules, l2Match(e.Number, true, "", "", c, accept))
			}
		}
		p.rules = append(p.rules, l2Match(rules.EtherTypeVLAN, false, "", "", p.counter("vlan", L2Accept), accept))
		p.rules = append(p.rules, []expr.Any{p.counter("other", L2Accept), accept})
		return p
	}
	for i := range l.Allow {
		e := &l.Allow[i]
		from, to := portSet(e.FromPorts), portSet(e.ToPorts)
		c := p.counter(l2KeyName(e.EtherType), L2Accept)
		p.rules = append(p.rules, l2Match(e.EtherType, false, from, to, c, accept))
		if e.EtherType != rules.EtherTypeVLAN {
			p.rules = append(p.rules, l2Match(e.EtherType, true, from, to, c, accept))
		}
	}
	verdict, word := &expr.Verdict{Kind: expr.VerdictDrop}, L2Drop
	if l.Mode != rules.ModeEnforce {
		verdict, word = accept, L2WouldDrop
	}
	refuse := func(match []expr.Any, name string) {
		c := p.counter(name, word)
		if logGroup == 0 {
			p.rules = append(p.rules, append(append(match, c), verdict))
			return
		}
		// The counter counts every frame; the log only the first few each second.
		logged := append(append(append([]expr.Any{}, match...), c), nflog(logGroup, l2LogRate, L2LogPrefix+l.Mode.String())...)
		logged = append(logged, verdict)
		p.rules = append(p.rules, logged, append(append([]expr.Any{}, match...), verdict))
	}
	for _, e := range rules.EtherTypes {
		if e.Number == rules.EtherTypeVLAN {
			continue
		}
		refuse(l2Match(e.Number, false, "", ""), e.Name)
		refuse(l2Match(e.Number, true, "", ""), e.Name)
	}
	refuse(l2Match(rules.EtherTypeVLAN, false, "", ""), "vlan")
	refuse(nil, "other")
	return p
}

// l2KeyName is the counter name of EtherType t: its vocabulary name, or
// its number.
func l2KeyName(t uint16) string { return rules.EtherTypeName(t) }

// counter returns the objref of the named counter of (ethertype, verdict).
func (p *l2program) counter(ethertype, verdict string) *expr.Objref {
	name := "l2_" + ethertype + "_" + verdict
	if _, ok := p.keyOf[name]; !ok {
		p.keyOf[name] = Layer2Key{EtherType: ethertype, Verdict: verdict}
		p.counters = append(p.counters, name)
	}
	return &expr.Objref{Type: 1, Name: name}
}

// l2Match matches frames of EtherType t (tagged: carried in an 802.1Q
// tag), coming in on a port of the set from and leaving by one of to
// ("" for any), followed by then.
func l2Match(t uint16, tagged bool, from, to string, then ...expr.Any) []expr.Any {
	var ex []expr.Any
	if tagged {
		ex = append(ex,
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 12, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(rules.EtherTypeVLAN)},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 16, Len: 2},
		)
	} else {
		ex = append(ex, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 12, Len: 2})
	}
	if t == rules.EtherTypeLLC {
		// An 802.3 length, not an EtherType (big-endian bytes compare as numbers).
		ex = append(ex, &expr.Cmp{Op: expr.CmpOpLt, Register: 1, Data: binaryutil.BigEndian.PutUint16(0x0600)})
	} else {
		ex = append(ex, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(t)})
	}
	if from != "" {
		ex = append(ex, &expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1}, &expr.Lookup{SourceRegister: 1, SetName: from})
	}
	if to != "" {
		ex = append(ex, &expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, &expr.Lookup{SourceRegister: 1, SetName: to})
	}
	return append(ex, then...)
}

// ifname is an interface name as the kernel compares it: IFNAMSIZ bytes,
// NUL-padded.
func ifname(s string) []byte {
	b := make([]byte, 16)
	copy(b, s)
	return b
}

var bridgeFamily = []nftables.TableFamily{nftables.TableFamilyBridge}

// buildLayer2 queues the bridge table into conn's batch: fresh, over a
// stale table (emptied, its base chain kept), or in place of old.
func buildLayer2(conn *nftables.Conn, prog *l2program, old *l2program, st *staleTable) {
	t := &nftables.Table{Name: TableName, Family: nftables.TableFamilyBridge}
	fwd := &nftables.Chain{Name: chainName, Table: t}
	switch {
	case old != nil:
		conn.FlushChain(fwd)
		for _, s := range old.sets {
			conn.DelSet(&nftables.Set{Name: s.set.Name, Table: t})
		}
		for _, name := range old.counters {
			conn.DeleteObject(&nftables.CounterObj{Table: t, Name: name})
		}
	case st != nil:
		st.empty(conn, t)
		if !st.base[chainName] {
			addL2Chain(conn, t)
		}
	default:
		conn.AddTable(t) // add-then-delete makes the delete valid whether or not one exists
		conn.DelTable(t)
		conn.AddTable(t)
		addL2Chain(conn, t)
	}
	ids := map[string]uint32{}
	for _, s := range prog.sets {
		set := s.set
		set.Table, set.ID = t, 0
		_ = conn.AddSet(&set, s.elems)
		ids[set.Name] = set.ID
	}
	for _, name := range prog.counters {
		conn.AddObj(&nftables.CounterObj{Table: t, Name: name})
	}
	for _, ex := range prog.rules {
		for _, e := range ex {
			if l, ok := e.(*expr.Lookup); ok {
				l.SetID = ids[l.SetName]
			}
		}
		conn.AddRule(&nftables.Rule{Table: t, Chain: fwd, Exprs: ex})
	}
}

// l2Priority is the bridge family's filter priority (NF_BR_PRI_FILTER_BRIDGED):
// before br_netfilter (0) hands IP to the inet table.
const l2Priority = -200

func addL2Chain(conn *nftables.Conn, t *nftables.Table) {
	accept := nftables.ChainPolicyAccept
	conn.AddChain(&nftables.Chain{Name: chainName, Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityRef(l2Priority), Policy: &accept})
}

// readL2Locked reads the bridge table's counters by key.
func (i *Installed) readL2Locked(conn *nftables.Conn) (map[Layer2Key]Counter, error) {
	out := map[Layer2Key]Counter{}
	if i.l2 == nil {
		return out, nil
	}
	objs, err := conn.GetObjects(&nftables.Table{Name: TableName, Family: nftables.TableFamilyBridge})
	if err != nil {
		return nil, fmt.Errorf("read nftables layer2 counters: %w", err)
	}
	for _, o := range objs {
		c, ok := o.(*nftables.CounterObj)
		if !ok {
			continue
		}
		k, ok := i.l2.keyOf[c.Name]
		if !ok {
			continue
		}
		out[k] = out[k].plus(counterOf(c))
	}
	return out, nil
}

// addL2BaseLocked keeps the counts of a bridge table about to go.
func (i *Installed) addL2BaseLocked(cur map[Layer2Key]Counter) {
	if i.l2base == nil {
		i.l2base = map[Layer2Key]Counter{}
	}
	for k, c := range cur {
		i.l2base[k] = i.l2base[k].plus(c)
	}
}

// Layer2Frames is one row of the layer2 counters.
type Layer2Frames struct {
	Layer2Key
	Counter
}

// SortedLayer2 returns the counters by EtherType, then verdict.
func SortedLayer2(m map[Layer2Key]Counter) []Layer2Frames {
	out := make([]Layer2Frames, 0, len(m))
	for k, c := range m {
		out = append(out, Layer2Frames{k, c})
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].EtherType != out[b].EtherType {
			return out[a].EtherType < out[b].EtherType
		}
		return out[a].Verdict < out[b].Verdict
	})
	return out
}

// ParseL2Prefix returns the mode of a layer2 NFLOG prefix.
func ParseL2Prefix(prefix []byte) (rules.Mode, bool) {
	s, ok := strings.CutPrefix(string(prefix), L2LogPrefix)
	if !ok {
		return 0, false
	}
	return rules.ParseMode(s)
}
