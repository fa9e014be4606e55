package nft

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/conduit-ot/conduit/rules"
	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// The kernel pre-filter drops, before the queue, the packets of enforce
// conduits that no allow rule could match by zones, addresses, protocol,
// ports and ICMP type. It only ever drops what the engine would drop too:
//
//   - Only packets the kernel's conntrack calls new are judged. Replies,
//     established and related packets, and invalid ones (the engine names
//     the reason) are queued.
//   - A new packet that is not a plain TCP SYN may be the first packet the
//     kernel sees of a session the engine already knows (the kernel's loose
//     pickup, or a kernel entry that timed out first): it is dropped only
//     when neither orientation could match an allow rule.
//   - Fragments that escaped reassembly, IPv6 packets with extension
//     headers and IPv6 neighbour discovery and MLD are queued.
//   - Zones are the engine's longest-prefix zones: the address space is cut
//     into intervals over which the zone and every rule CIDR is constant,
//     and each interval's class decides which rules' "from" it satisfies.
//   - Deny rules above an allow rule are ignored (the engine drops what
//     they shadow), so the filter errs towards queueing.
//
// A dropped packet is counted on a named counter of the first rule that
// denies it (the rule's name, or "default") and logged through NFLOG.

// program is what a policy compiles to for one table.
type program struct {
	sets     []*setSpec
	chains   []*chainSpec
	counters []string          // named counters, in creation order
	ruleOf   map[string]string // counter name → rule name
	entry    string            // chain the forward chain jumps to; "" for none
	appEntry string            // chain deciding the protocol-condition queue; "" for none
	// fastpath: the forward chain accepts CtMarkFastpath flows; alive:
	// only while the alive set's element lives (fastpath.go).
	fastpath, alive bool
}

type setSpec struct {
	set   nftables.Set
	elems []nftables.SetElement
}

type chainSpec struct {
	name  string
	rules [][]expr.Any
}

// FilterConfig is what the pre-filter needs besides the policy.
type FilterConfig struct {
	LogGroup uint16 // NFLOG group for kernel drops; 0: counters only
	LogRate  uint32 // NFLOG messages per second per rule (and burst); default 1000
}

// conntrack state bits (NF_CT_STATE_*_BIT), as the ct expression loads them.
const ctStateNew = 8

// compile builds the pre-filter of pol for a table holding fams.
func compile(pol *rules.Policy, fams []family, fc FilterConfig, app *appQueue) *program {
	p := &program{ruleOf: map[string]string{}}
	if pol == nil {
		return p
	}
	b := &builder{pol: pol, p: p, fc: fc, sets: map[string]*setSpec{}, counter: map[int]string{}, parts: map[string][]ival{}}
	if fc.LogRate == 0 {
		b.fc.LogRate = 1000
	}
	if app != nil && b.anyEnforce() {
		// Only enforce inspects to drop: a policy that enforces nowhere
		// keeps its protocol-condition flows on the queues it chose.
		b.appChains(fams, app)
	}
	if !b.mayDrop() {
		return p
	}
	entry := b.chain("prefilter")
	entry.rules = append(entry.rules, []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(ctStateNew)},
		&expr.Verdict{Kind: expr.VerdictReturn},
	})
	for _, f := range fams {
		name := b.family(f)
		if len(fams) == 1 {
			entry.rules = append(entry.rules, []expr.Any{&expr.Verdict{Kind: expr.VerdictGoto, Chain: name}})
			continue
		}
		proto := byte(unix.NFPROTO_IPV4)
		if f.v6 {
			proto = unix.NFPROTO_IPV6
		}
		entry.rules = append(entry.rules, []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
			&expr.Verdict{Kind: expr.VerdictGoto, Chain: name},
		})
	}
	p.entry = entry.name
	return p
}

type builder struct {
	pol     *rules.Policy
	p       *program
	fc      FilterConfig
	sets    map[string]*setSpec
	counter map[int]string // rule index (len(Rules) for default) → counter name
	parts   map[string][]ival
}

// mayDrop reports whether any packet could be dropped: some conduit
// enforces and something is denied by default.
func (b *builder) mayDrop() bool {
	return b.pol.Default != rules.ActionAllow && b.anyEnforce()
}

// anyEnforce reports whether the global mode or some conduit enforces.
func (b *builder) anyEnforce() bool {
	if b.pol.Mode == rules.ModeEnforce {
		return true
	}
	for _, c := range b.pol.Conduits {
		if c.Mode == rules.ModeEnforce {
			return true
		}
	}
	return false
}

func (b *builder) chain(name string) *chainSpec {
	c := &chainSpec{name: name}
	b.p.chains = append(b.p.chains, c)
	return c
}

// class is a set of address intervals over which the zone and the rules
// whose "from" holds them are the same.
type class struct {
	zone  rules.ZoneID
	from  []int // rule indices whose From holds the class
	ivals []ival
	name  string
}

// family builds the chains and sets of one IP version and returns its entry chain.
func (b *builder) family(f family) string {
	pol := b.pol
	parts := b.partsFor(f)

	// Group the intervals into classes.
	var classes []*class
	bySig := map[string]*class{}
	of := make([]*class, len(parts))
	for i, iv := range parts {
		z := pol.Zone(iv.lo)
		var from []int
		var sig strings.Builder
		fmt.Fprintf(&sig, "%d:", z)
		for r := range pol.Rules {
			if endpointHolds(pol, &pol.Rules[r].From, iv.lo) {
				from = append(from, r)
				fmt.Fprintf(&sig, "%d,", r)
			}
		}
		c := bySig[sig.String()]
		if c == nil {
			c = &class{zone: z, from: from, name: fmt.Sprint(len(classes))}
			bySig[sig.String()] = c
			classes = append(classes, c)
		}
		c.ivals = append(c.ivals, iv)
		of[i] = c
	}
	vmap := func(name, prefix string) {
		// Adjacent intervals of one class merge; each interval has its end
		// element (the kernel pairs every start with an end) but the last.
		var elems []nftables.SetElement
		for i := 0; i < len(parts); {
			target := prefix + of[i].name
			j := i
			for j+1 < len(parts) && of[j+1] == of[i] {
				j++
			}
			elems = append(elems, nftables.SetElement{Key: parts[i].lo.AsSlice(),
				VerdictData: &expr.Verdict{Kind: expr.VerdictGoto, Chain: target}})
			if parts[j].hi != maxAddr(f) {
				elems = append(elems, nftables.SetElement{Key: parts[j].hi.Next().AsSlice(), IntervalEnd: true})
			}
			i = j + 1
		}
		b.addSet(&setSpec{set: nftables.Set{Name: name, Interval: true, IsMap: true, KeyType: addrType(f),
			DataType: nftables.TypeVerdict}, elems: elems})
	}
	fwd, rev, deny := "f"+f.suffix+"_", "r"+f.suffix+"_", "d"+f.suffix+"_"
	vmap("cls"+f.suffix, fwd)
	vmap("rcls"+f.suffix, rev)
	vmap("dcls"+f.suffix, deny)

	entry := b.chain("pf" + f.suffix)
	if f.v6 {
		// Extension headers (the fragment header among them) and link
		// control go to the engine, which walks and names them.
		b.addSet(&setSpec{set: nftables.Set{Name: "l4v6", KeyType: nftables.TypeInetProto},
			elems: []nftables.SetElement{{Key: []byte{rules.ProtoTCP}}, {Key: []byte{rules.ProtoUDP}}, {Key: []byte{rules.ProtoICMPv6}}}})
		entry.rules = append(entry.rules, []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 6, Len: 1},
			&expr.Lookup{SourceRegister: 1, SetName: "l4v6", Invert: true},
			&expr.Verdict{Kind: expr.VerdictReturn},
		})
	} else {
		// A fragment that escaped reassembly: offset or more-fragments set.
		entry.rules = append(entry.rules, []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 6, Len: 2},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 2, Mask: []byte{0x3f, 0xff}, Xor: []byte{0, 0}},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: []byte{0, 0}},
			&expr.Verdict{Kind: expr.VerdictReturn},
		})
	}
	// Neighbour discovery and MLD pass in the engine by their type (it
	// checks the hop limit too, whatever the IP version says).
	var lc []nftables.SetElement
	for _, t := range []byte{130, 131, 132, 133, 134, 135, 136, 137, 143} {
		lc = append(lc, nftables.SetElement{Key: []byte{t}})
	}
	b.addSet(&setSpec{set: nftables.Set{Name: "lc6", KeyType: nftables.TypeICMP6Type}, elems: lc})
	entry.rules = append(entry.rules, []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{rules.ProtoICMPv6}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		&expr.Lookup{SourceRegister: 1, SetName: "lc6"},
		&expr.Verdict{Kind: expr.VerdictReturn},
	})
	entry.rules = append(entry.rules,
		[]expr.Any{loadAddr(f, false), &expr.Lookup{SourceRegister: 1, SetName: "cls" + f.suffix, IsDestRegSet: true, DestRegister: 0}},
		[]expr.Any{&expr.Verdict{Kind: expr.VerdictReturn}})

	// The zones a request from each zone may reach without enforce.
	relaxed := map[rules.ZoneID]string{}
	modeSkip := func(z rules.ZoneID, peerIsDst bool) []expr.Any {
		name, ok := relaxed[z]
		if !ok {
			var iv []ival
			for _, p := range parts {
				if pol.ModeFor(z, pol.Zone(p.lo)) != rules.ModeEnforce {
					iv = append(iv, p)
				}
			}
			iv = merge(iv)
			switch {
			case len(iv) == 0:
				name = ""
			case len(iv) == 1 && iv[0].lo == f.zero && iv[0].hi == maxAddr(f):
				name = "*"
			default:
				name = fmt.Sprintf("m%s_%d", f.suffix, z)
				b.addrSet(name, f, iv)
			}
			relaxed[z] = name
		}
		switch name {
		case "":
			return nil
		case "*":
			return []expr.Any{&expr.Verdict{Kind: expr.VerdictReturn}}
		}
		return []expr.Any{loadAddr(f, peerIsDst), &expr.Lookup{SourceRegister: 1, SetName: name}, &expr.Verdict{Kind: expr.VerdictReturn}}
	}

	for _, c := range classes {
		fc := b.chain(fwd + c.name)
		rc := b.chain(rev + c.name)
		dc := b.chain(deny + c.name)
		if r := modeSkip(c.zone, true); r != nil {
			fc.rules = append(fc.rules, r)
		}
		if r := modeSkip(c.zone, false); r != nil {
			rc.rules = append(rc.rules, r)
		}
		for _, i := range c.from {
			r := &pol.Rules[i]
			if r.Action == rules.ActionAllow {
				if m, ok := b.match(f, i, false); ok {
					fc.rules = append(fc.rules, append(m, &expr.Verdict{Kind: expr.VerdictReturn}))
				}
				if m, ok := b.match(f, i, true); ok {
					rc.rules = append(rc.rules, append(m, &expr.Verdict{Kind: expr.VerdictReturn}))
				}
				continue
			}
			if m, ok := b.match(f, i, false); ok {
				dc.rules = append(dc.rules, b.drop(m, i)...)
			}
		}
		// A plain SYN opens a session in its own direction only.
		fc.rules = append(fc.rules, append(plainSYN(), &expr.Verdict{Kind: expr.VerdictGoto, Chain: dc.name}),
			[]expr.Any{loadAddr(f, true), &expr.Lookup{SourceRegister: 1, SetName: "rcls" + f.suffix, IsDestRegSet: true, DestRegister: 0}},
			[]expr.Any{&expr.Verdict{Kind: expr.VerdictReturn}})
		rc.rules = append(rc.rules,
			[]expr.Any{loadAddr(f, false), &expr.Lookup{SourceRegister: 1, SetName: "dcls" + f.suffix, IsDestRegSet: true, DestRegister: 0}},
			[]expr.Any{&expr.Verdict{Kind: expr.VerdictReturn}})
		dc.rules = append(dc.rules, b.drop(nil, len(pol.Rules))...)
	}
	return entry.name
}

// endpointHolds reports whether address a satisfies e, as rules.Policy.Match
// decides it: by a's longest-prefix zone, or a CIDR holding it.
func endpointHolds(pol *rules.Policy, e *rules.Endpoint, a netip.Addr) bool {
	if e.Any {
		return true
	}
	z := pol.Zone(a)
	for _, ez := range e.Zones {
		if ez == z {
			return true
		}
	}
	u := a.Unmap()
	for _, c := range e.CIDRs {
		if canon(c).Contains(u) {
			return true
		}
	}
	return false
}

// match returns the expressions matching rule i in the packet's own
// orientation, or with the packet taken as the reply (reversed: the
// request's source is the packet's destination). The caller has checked
// the request's source. ok is false when the rule cannot match this family.
func (b *builder) match(f family, i int, reversed bool) (ex []expr.Any, ok bool) {
	r := &b.pol.Rules[i]
	if !r.To.Any {
		name, ok := b.endpointSet(f, &r.To, fmt.Sprintf("to%s_%d", f.suffix, i))
		if !ok {
			return nil, false
		}
		ex = append(ex, loadAddr(f, !reversed), &expr.Lookup{SourceRegister: 1, SetName: name})
	}
	if r.Proto != rules.ProtoAny {
		ex = append(ex, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{r.Proto}})
	}
	dport, sport := uint32(2), uint32(0)
	if reversed {
		dport, sport = 0, 2
	}
	if len(r.DPorts) > 0 {
		ex = append(ex, thPort(dport), &expr.Lookup{SourceRegister: 1, SetName: b.portSet(fmt.Sprintf("dp_%d", i), r.DPorts)})
	}
	if len(r.SPorts) > 0 {
		ex = append(ex, thPort(sport), &expr.Lookup{SourceRegister: 1, SetName: b.portSet(fmt.Sprintf("sp_%d", i), r.SPorts)})
	}
	if len(r.ICMPTypes) > 0 && !reversed {
		// A reply's type is not the request's: the reversed orientation
		// ignores the condition.
		name := fmt.Sprintf("it_%d", i)
		if _, done := b.sets[name]; !done {
			var el []nftables.SetElement
			seen := map[uint8]bool{}
			for _, t := range r.ICMPTypes {
				if !seen[t] {
					seen[t] = true
					el = append(el, nftables.SetElement{Key: []byte{t}})
				}
			}
			b.addSet(&setSpec{set: nftables.Set{Name: name, KeyType: nftables.TypeICMPType}, elems: el})
		}
		ex = append(ex, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
			&expr.Lookup{SourceRegister: 1, SetName: name})
	}
	return ex, true
}

// endpointSet adds the set of addresses satisfying e and returns its
// name; ok is false when no address of the family does.
func (b *builder) endpointSet(f family, e *rules.Endpoint, name string) (string, bool) {
	if s, done := b.sets[name]; done {
		return name, len(s.elems) > 0
	}
	var iv []ival
	for _, p := range b.partsFor(f) {
		if endpointHolds(b.pol, e, p.lo) {
			iv = append(iv, p)
		}
	}
	b.addrSet(name, f, merge(iv))
	return name, len(iv) > 0
}

// partsFor returns (and caches) the partition of the family's address
// space by every prefix in the policy.
func (b *builder) partsFor(f family) []ival {
	if p, ok := b.parts[f.suffix]; ok {
		return p
	}
	var pfx []netip.Prefix
	for _, z := range b.pol.Zones {
		pfx = append(pfx, z.CIDRs...)
	}
	for i := range b.pol.Rules {
		pfx = append(pfx, b.pol.Rules[i].From.CIDRs...)
		pfx = append(pfx, b.pol.Rules[i].To.CIDRs...)
	}
	p := partition(f, pfx)
	b.parts[f.suffix] = p
	return p
}

// drop returns the rules that count, log and drop what m matches, charged
// to rule i (len(Rules): the default). The first logs under a rate limit;
// the second drops what the limit held back.
func (b *builder) drop(m []expr.Any, i int) [][]expr.Any {
	name := b.counterFor(i)
	first := append(append([]expr.Any{}, m...), &expr.Objref{Type: 1, Name: name}) // NFT_OBJECT_COUNTER
	if b.fc.LogGroup != 0 {
		prefix := b.pol.RuleName(i)
		if len(prefix) > 127 {
			prefix = prefix[:127]
		}
		first = append(first, nflog(b.fc.LogGroup, b.fc.LogRate, prefix)...)
	}
	first = append(first, &expr.Verdict{Kind: expr.VerdictDrop})
	if b.fc.LogGroup == 0 {
		return [][]expr.Any{first}
	}
	return [][]expr.Any{first, append(append([]expr.Any{}, m...), &expr.Verdict{Kind: expr.VerdictDrop})}
}

// nflog is the statements that log a packet to NFLOG group with prefix, at
// most rate packets a second (and bursts of rate): a drop rule's trace for
// engine/nflog's reader. The whole packet goes: the reader's copy range
// decides, and the rate limit keeps a flood from costing much.
func nflog(group uint16, rate uint32, prefix string) []expr.Any {
	return []expr.Any{
		&expr.Limit{Type: expr.LimitTypePkts, Rate: uint64(rate), Unit: expr.LimitTimeSecond, Burst: rate},
		&expr.Log{Key: 1<<unix.NFTA_LOG_GROUP | 1<<unix.NFTA_LOG_PREFIX, Group: group, Data: []byte(prefix)},
	}
}

// counterFor names rule i's kernel counter after the rule when the name is
// plain, "rule<i>" otherwise.
func (b *builder) counterFor(i int) string {
	if n, ok := b.counter[i]; ok {
		return n
	}
	rule := b.pol.RuleName(i)
	name := rule
	if !plainName(name) || (name == "default" && i < len(b.pol.Rules)) {
		name = fmt.Sprintf("rule%d", i)
	}
	b.counter[i] = name
	b.p.counters = append(b.p.counters, name)
	b.p.ruleOf[name] = rule
	return name
}

func plainName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func (b *builder) addSet(s *setSpec) {
	if _, ok := b.sets[s.set.Name]; ok {
		return
	}
	s.set.Constant = false
	b.sets[s.set.Name] = s
	b.p.sets = append(b.p.sets, s)
}

// addrSet adds an interval set of addresses; iv is merged, in order.
func (b *builder) addrSet(name string, f family, iv []ival) {
	if len(iv) == 0 {
		// The kernel refuses nothing here, but an empty set matches nothing:
		// keep it so that names stay stable.
		b.addSet(&setSpec{set: nftables.Set{Name: name, Interval: true, KeyType: addrType(f)}})
		return
	}
	b.addSet(&setSpec{set: nftables.Set{Name: name, Interval: true, KeyType: addrType(f)}, elems: intervalElems(iv, f)})
}

func intervalElems(iv []ival, f family) []nftables.SetElement {
	var el []nftables.SetElement
	for _, v := range iv {
		el = append(el, nftables.SetElement{Key: v.lo.AsSlice()})
		if v.hi != maxAddr(f) {
			el = append(el, nftables.SetElement{Key: v.hi.Next().AsSlice(), IntervalEnd: true})
		}
	}
	return el
}

// portSet adds an interval set of ports and returns its name.
func (b *builder) portSet(name string, rs []rules.PortRange) string {
	if _, ok := b.sets[name]; ok {
		return name
	}
	// Sort and merge: the kernel refuses overlapping intervals.
	var on [65536]bool
	for _, r := range rs {
		for p := int(r.Lo); p <= int(r.Hi); p++ {
			on[p] = true
		}
	}
	var el []nftables.SetElement
	for p := 0; p < 65536; {
		if !on[p] {
			p++
			continue
		}
		lo := p
		for p < 65536 && on[p] {
			p++
		}
		el = append(el, nftables.SetElement{Key: be16(uint16(lo))})
		if p < 65536 {
			el = append(el, nftables.SetElement{Key: be16(uint16(p)), IntervalEnd: true})
		}
	}
	b.addSet(&setSpec{set: nftables.Set{Name: name, Interval: true, KeyType: nftables.TypeInetService}, elems: el})
	return name
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func addrType(f family) nftables.SetDatatype {
	if f.v6 {
		return nftables.TypeIP6Addr
	}
	return nftables.TypeIPAddr
}

// loadAddr loads the packet's source (or destination) address into register 1.
func loadAddr(f family, dst bool) expr.Any {
	off := f.saddrOff
	if dst {
		off = f.daddrOff
	}
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: f.addrLen}
}

func thPort(off uint32) expr.Any {
	return &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2}
}

// plainSYN matches a TCP segment with SYN and neither ACK nor RST: the
// opening of a session, which the engine judges in its own direction only.
func plainSYN() []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{rules.ProtoTCP}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 13, Len: 1},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 1, Mask: []byte{0x16}, Xor: []byte{0}},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{0x02}},
	}
}
