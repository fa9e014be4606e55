package engine

import (
	"cmp"
	"net/netip"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/engine/inspect"
	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/proto"
)

// Coverage is what each rule carried: the distinct client/server/port
// tuples of its flows, and the industrial requests per tuple that its
// protocol condition passed. It is recorded per flow decision and per
// judged request, never per packet, and bounded: a rule keeps at most
// CoverTuples tuples per worker (and CoverFunctions request types per
// tuple); what lies beyond is counted, not itemized.
const (
	CoverTuples    = 256
	CoverFunctions = 32
)

// coverKey is one tuple, in the request direction (the rule's). For ICMP,
// Port is the type of the flow's first message.
type coverKey struct {
	client, server netip.Addr
	proto          uint8
	port           uint16
}

// funcKey is one request type, as a protocol condition names it.
type funcKey struct {
	kind  RequestKind
	mei   uint8
	code  uint16
	class uint32
}

type tupleCov struct {
	of              *ruleCoverage // the rule coverage holding it (a reload may give a flow another rule)
	flows, requests uint64
	first, last     int64 // clock ns
	units           [4]uint64
	funcs           []funcCount // few: scanned, not hashed
	funcsMore       uint64      // requests of request types beyond CoverFunctions
}

type funcCount struct {
	f funcKey
	n uint64
}

// addFunc counts n requests of f; bounded, a new type beyond
// CoverFunctions counts as more.
func (t *tupleCov) addFunc(f funcKey, n uint64, bounded bool) {
	for i := range t.funcs {
		if t.funcs[i].f == f {
			t.funcs[i].n += n
			return
		}
	}
	if bounded && len(t.funcs) >= CoverFunctions {
		t.funcsMore += n
		return
	}
	t.funcs = append(t.funcs, funcCount{f, n})
}

// ruleCoverage is one worker's coverage of one rule name (in its
// ruleCounters). Its lock is taken at a flow decision and at a judged
// request of the rule, by that worker and by readers.
type ruleCoverage struct {
	mu                      sync.Mutex
	tuples                  map[coverKey]*tupleCov
	moreFlows, moreRequests uint64 // of tuples beyond CoverTuples
}

// tupleFor returns k's record, creating it while there is room; nil when
// the rule is full (the caller counts it as more).
func (c *ruleCoverage) tupleFor(k coverKey, now int64) *tupleCov {
	t := c.tuples[k]
	if t == nil {
		if len(c.tuples) >= CoverTuples {
			return nil
		}
		if c.tuples == nil {
			c.tuples = make(map[coverKey]*tupleCov)
		}
		t = &tupleCov{of: c, first: now}
		c.tuples[k] = t
	}
	t.last = now
	return t
}

// flow records a flow decided by the rule.
func (c *ruleCoverage) flow(k coverKey, now int64) {
	c.mu.Lock()
	if t := c.tupleFor(k, now); t != nil {
		t.flows++
	} else {
		c.moreFlows++
	}
	c.mu.Unlock()
}

// request records a request the rule's condition passed.
func (c *ruleCoverage) request(k coverKey, f funcKey, unit uint8, now int64) {
	c.mu.Lock()
	t := c.tupleFor(k, now)
	if t == nil {
		c.moreRequests++
		c.mu.Unlock()
		return
	}
	t.count(f, unit)
	c.mu.Unlock()
}

// count records one request; one of an uncounted kind (CIP) is listed but
// not counted, as the rule counts the request carrying it (ENIP).
func (t *tupleCov) count(f funcKey, unit uint8) {
	t.tally(f.kind, unit)
	t.addFunc(f, 1, true)
}

// tally counts a request of kind k and its unit (both inline where a
// request is covered).
func (t *tupleCov) tally(k proto.Kind, unit uint8) {
	bits := proto.KindBits(k)
	if bits&proto.KindUncounted == 0 {
		t.requests++
	}
	if bits&proto.KindUnits != 0 {
		t.units[unit>>6] |= 1 << (unit & 63)
	}
}

// flowCoverKey is the tuple of a flow: its key in the request direction.
func flowCoverKey(k conntrack.Key, reversed bool, icmpType uint8) coverKey {
	if reversed {
		k = k.Reverse()
	}
	ck := coverKey{client: k.Src, server: k.Dst, proto: k.Proto, port: k.DstPort}
	if k.Proto == packet.ProtoICMP || k.Proto == packet.ProtoICMPv6 {
		ck.port = uint16(icmpType)
	}
	return ck
}

// Cover (inspect.Observer) records requests the condition passed on the
// flow being inspected. The flow's tuple is looked up once and kept in its
// stream slot, so a packet's requests cost the lock and a short scan each.
func (o *watch) Cover(st *inspect.Stream, rs []proto.Judged) {
	c := o.cov
	c.mu.Lock()
	t := o.tup
	if t == nil {
		if kept, ok := stCov(st); ok && kept.of == c {
			t = kept
			t.last = o.now
		} else if t = c.tupleFor(flowCoverKey(o.flow.Key, markOf(o.flow).reversed(), 0), o.now); t != nil && st != nil {
			st.Cov = t
		}
		o.tup = t
	}
	for _, r := range rs {
		if t == nil {
			c.moreRequests++
			continue
		}
		f := funcKey{kind: r.Kind, code: r.Code, mei: r.MEI, class: r.Class}
		t.tally(f.kind, r.Unit) // count, inline on the packet path
		t.addFunc(f, 1, true)
	}
	c.mu.Unlock()
}

// stCov is the tuple kept in the flow's stream slot, if any.
func stCov(st *inspect.Stream) (*tupleCov, bool) {
	if st == nil {
		return nil, false
	}
	t, ok := st.Cov.(*tupleCov)
	return t, ok
}

// TupleCoverage is one tuple a rule carried, in the JSON of `conduit
// coverage`.
type TupleCoverage struct {
	Client    netip.Addr        `json:"client"`
	Server    netip.Addr        `json:"server"`
	Proto     string            `json:"proto"`
	Port      uint16            `json:"port"` // ICMP: the type
	Flows     uint64            `json:"flows"`
	Requests  uint64            `json:"requests"`
	Functions map[string]uint64 `json:"functions,omitempty"` // "modbus read_coils" -> requests
	// FunctionsMore counts the requests of request types beyond the bound.
	FunctionsMore uint64    `json:"functions_more,omitempty"`
	UnitIDs       []uint16  `json:"unit_ids,omitempty"` // Modbus unit ids of the requests
	FirstSeen     time.Time `json:"first_seen"`
	LastSeen      time.Time `json:"last_seen"`
}

// RuleCoverage is what one rule carried.
type RuleCoverage struct {
	Name    string          `json:"name"`
	Index   int             `json:"index"` // -1: no longer in the policy
	Action  string          `json:"action"`
	Cleanup bool            `json:"cleanup"`
	Conduit string          `json:"conduit,omitempty"`
	Tuples  []TupleCoverage `json:"tuples"`
	// MoreTuples counts the tuples left out of Tuples (a top-N answer);
	// MoreFlows and MoreRequests count what the bound kept from being
	// itemized at all.
	MoreTuples   int    `json:"more_tuples"`
	MoreFlows    uint64 `json:"more_flows"`
	MoreRequests uint64 `json:"more_requests"`
}

// Coverage merges the workers' coverage of every rule of the policy in
// force, in policy order with "default" last, then rules no longer in
// it. Tuples are ordered by flows, then requests, then address; top > 0
// keeps that many per rule and counts the rest in MoreTuples.
func (e *Engine) Coverage(top int) []RuleCoverage {
	pol := e.store.Load().Policy
	type merged struct {
		tuples       map[coverKey]*tupleCov
		moreF, moreR uint64
		seen         bool
	}
	sum := map[string]*merged{}
	for _, w := range e.workers {
		w.hits.mu.Lock()
		for name, c := range w.hits.byName {
			c.cov.mu.Lock()
			m := sum[name]
			if m == nil {
				m = &merged{tuples: map[coverKey]*tupleCov{}}
				sum[name] = m
			}
			m.moreF += c.cov.moreFlows
			m.moreR += c.cov.moreRequests
			for k, t := range c.cov.tuples {
				mergeTuple(m.tuples, k, t)
			}
			c.cov.mu.Unlock()
		}
		w.hits.mu.Unlock()
	}
	build := func(name string, index int) RuleCoverage {
		rc := RuleCoverage{Name: name, Index: index, Tuples: []TupleCoverage{}}
		if index >= 0 {
			rc.Action = pol.ActionOf(index).String()
			if index < len(pol.Rules) && pol.Rules[index].Cleanup {
				rc.Cleanup, rc.Conduit = true, pol.Rules[index].CleanupConduit()
			}
		}
		m := sum[name]
		if m == nil {
			return rc
		}
		m.seen = true
		rc.MoreFlows, rc.MoreRequests = m.moreF, m.moreR
		for k, t := range m.tuples {
			rc.Tuples = append(rc.Tuples, t.export(k))
		}
		slices.SortFunc(rc.Tuples, func(a, b TupleCoverage) int {
			return cmp.Or(cmp.Compare(b.Flows, a.Flows), cmp.Compare(b.Requests, a.Requests),
				a.Client.Compare(b.Client), a.Server.Compare(b.Server), cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port))
		})
		if top > 0 && len(rc.Tuples) > top {
			rc.MoreTuples = len(rc.Tuples) - top
			rc.Tuples = rc.Tuples[:top]
		}
		return rc
	}
	out := make([]RuleCoverage, 0, len(pol.Rules)+1)
	for i := 0; i <= len(pol.Rules); i++ {
		out = append(out, build(pol.RuleName(i), i))
	}
	var rest []string
	for name, m := range sum {
		if !m.seen && (len(m.tuples) > 0 || m.moreF > 0 || m.moreR > 0) {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	for _, name := range rest {
		out = append(out, build(name, -1))
	}
	return out
}

func mergeTuple(into map[coverKey]*tupleCov, k coverKey, t *tupleCov) {
	m := into[k]
	if m == nil {
		m = &tupleCov{first: t.first}
		into[k] = m
	}
	m.flows += t.flows
	m.requests += t.requests
	m.funcsMore += t.funcsMore
	if t.first != 0 && (m.first == 0 || t.first < m.first) {
		m.first = t.first
	}
	m.last = max(m.last, t.last)
	for i := range m.units {
		m.units[i] |= t.units[i]
	}
	for _, fc := range t.funcs {
		m.addFunc(fc.f, fc.n, false)
	}
}

func (t *tupleCov) export(k coverKey) TupleCoverage {
	tc := TupleCoverage{Client: k.client.Unmap(), Server: k.server.Unmap(), Proto: packet.ProtoName(k.proto), Port: k.port,
		Flows: t.flows, Requests: t.requests, FunctionsMore: t.funcsMore,
		FirstSeen: time.Unix(0, t.first).UTC(), LastSeen: time.Unix(0, t.last).UTC()}
	for _, fc := range t.funcs {
		if tc.Functions == nil {
			tc.Functions = map[string]uint64{}
		}
		f := fc.f
		r := RequestSeen{Kind: f.kind, Code: f.code, MEI: f.mei, Class: f.class}
		tc.Functions[f.kind.String()+" "+r.Name()] += fc.n
	}
	for u := range 256 {
		if t.units[u>>6]&(1<<(u&63)) != 0 {
			tc.UnitIDs = append(tc.UnitIDs, uint16(u))
		}
	}
	return tc
}

// savedTuple is a tuple in the state file, with the request types as the
// engine codes them (names can change with the vocabulary; codes do not).
type savedTuple struct {
	Client    netip.Addr  `json:"client"`
	Server    netip.Addr  `json:"server"`
	Proto     uint8       `json:"proto"`
	Port      uint16      `json:"port"`
	Flows     uint64      `json:"flows"`
	Requests  uint64      `json:"requests"`
	First     int64       `json:"first_ns"`
	Last      int64       `json:"last_ns"`
	Units     [4]uint64   `json:"units,omitempty"`
	Funcs     []savedFunc `json:"funcs,omitempty"`
	FuncsMore uint64      `json:"funcs_more,omitempty"`
}

type savedFunc struct {
	Kind  RequestKind `json:"kind"`
	MEI   uint8       `json:"mei,omitempty"`
	Code  uint16      `json:"code"`
	Class uint32      `json:"class,omitempty"`
	N     uint64      `json:"n"`
}

// savedCoverage is one rule's coverage in the state file.
type savedCoverage struct {
	Name         string       `json:"name"`
	Tuples       []savedTuple `json:"tuples"`
	MoreFlows    uint64       `json:"more_flows,omitempty"`
	MoreRequests uint64       `json:"more_requests,omitempty"`
}

// coverageState is every rule's coverage, merged over the workers, for
// the state file.
func (e *Engine) coverageState() []savedCoverage {
	sum := map[string]*savedCoverage{}
	tuples := map[string]map[coverKey]*tupleCov{}
	for _, w := range e.workers {
		w.hits.mu.Lock()
		for name, c := range w.hits.byName {
			c.cov.mu.Lock()
			if len(c.cov.tuples) > 0 || c.cov.moreFlows > 0 || c.cov.moreRequests > 0 {
				s := sum[name]
				if s == nil {
					s = &savedCoverage{Name: name}
					sum[name], tuples[name] = s, map[coverKey]*tupleCov{}
				}
				s.MoreFlows += c.cov.moreFlows
				s.MoreRequests += c.cov.moreRequests
				for k, t := range c.cov.tuples {
					mergeTuple(tuples[name], k, t)
				}
			}
			c.cov.mu.Unlock()
		}
		w.hits.mu.Unlock()
	}
	out := make([]savedCoverage, 0, len(sum))
	for name, s := range sum {
		for k, t := range tuples[name] {
			st := savedTuple{Client: k.client, Server: k.server, Proto: k.proto, Port: k.port, Flows: t.flows, Requests: t.requests,
				First: t.first, Last: t.last, Units: t.units, FuncsMore: t.funcsMore}
			for _, fc := range t.funcs {
				f := fc.f
				st.Funcs = append(st.Funcs, savedFunc{Kind: f.kind, MEI: f.mei, Code: f.code, Class: f.class, N: fc.n})
			}
			slices.SortFunc(st.Funcs, func(a, b savedFunc) int {
				return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Code, b.Code), cmp.Compare(a.MEI, b.MEI), cmp.Compare(a.Class, b.Class))
			})
			s.Tuples = append(s.Tuples, st)
		}
		slices.SortFunc(s.Tuples, func(a, b savedTuple) int {
			return cmp.Or(a.Client.Compare(b.Client), a.Server.Compare(b.Server), cmp.Compare(a.Proto, b.Proto), cmp.Compare(a.Port, b.Port))
		})
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b savedCoverage) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// restoreCoverage adds the state file's coverage to the engine's, by rule
// name and tuple. Safe to call while packets are being decided.
func (e *Engine) restoreCoverage(saved []savedCoverage) {
	restoreByName(e, saved, func(r *savedCoverage) string { return r.Name }, func(c *ruleCounters, r *savedCoverage) {
		c.cov.mu.Lock()
		c.cov.moreFlows += r.MoreFlows
		c.cov.moreRequests += r.MoreRequests
		for _, st := range r.Tuples {
			k := coverKey{client: st.Client, server: st.Server, proto: st.Proto, port: st.Port}
			fresh := c.cov.tuples[k] == nil
			t := c.cov.tupleFor(k, st.Last)
			if t == nil {
				c.cov.moreFlows += st.Flows
				c.cov.moreRequests += st.Requests
				continue
			}
			if fresh || st.First != 0 && st.First < t.first {
				t.first = st.First
			}
			t.last = max(t.last, st.Last)
			t.flows += st.Flows
			t.requests += st.Requests
			t.funcsMore += st.FuncsMore
			for i := range t.units {
				t.units[i] |= st.Units[i]
			}
			for _, sf := range st.Funcs {
				t.addFunc(funcKey{kind: sf.Kind, mei: sf.MEI, code: sf.Code, class: sf.Class}, sf.N, true)
			}
		}
		c.cov.mu.Unlock()
	})
}
