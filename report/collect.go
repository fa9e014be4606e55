package report

import (
	"context"
	"github.com/conduit-ot/conduit/proto"
	"log/slog"
	"net/netip"
	"sort"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/engine/packet"
)

// Collector gathers the matrix from the engine's event records and the
// requests the inspection judged. Give it to replay as Config.Handler and
// Config.OnRequest; it is not safe for concurrent use (replay writes its
// events and judges its requests on one goroutine).
//
// A tracked flow is announced by its verdict record (in the rule's
// request direction) and counted when it ends (flow_end, eviction) or, at
// the end, from the table (Finish). A denied packet the engine does not
// track (enforce) is its own verdict record: one packet, its bytes
// unknown; the engine logs such a flow once per 10 s, so its packets are
// a lower bound (the rule counters are exact).
type Collector struct {
	rows  map[rowKey]*Row
	flows map[uint64]*Row
	reqs  map[svcKey]map[fnKey]uint64
	// The last service a request was seen on: a flow's requests come in
	// runs, so most skip the outer lookup.
	lastSvc  svcKey
	lastReqs map[fnKey]uint64

	Malformed, Spoofed uint64
}

type rowKey struct {
	from, to, client, server, proto string
	port                            int
	rule, mode, verdict             string
}

type svcKey struct {
	client, server netip.Addr
	proto          uint8
	port           uint16
}

type fnKey struct {
	kind    engine.RequestKind
	code    uint16
	mei     uint8
	class   uint32
	refused bool
}

// NewCollector starts an empty matrix.
func NewCollector() *Collector {
	return &Collector{rows: map[rowKey]*Row{}, flows: map[uint64]*Row{}, reqs: map[svcKey]map[fnKey]uint64{}}
}

// OnRequest records a request the protocol inspection judged.
func (c *Collector) OnRequest(r engine.RequestSeen) {
	if r.Kind == engine.KindUnparsed {
		return
	}
	k := svcKey{r.Client.Unmap(), r.Server.Unmap(), r.Proto, r.Port}
	m := c.lastReqs
	if m == nil || k != c.lastSvc {
		m = c.reqs[k]
		if m == nil {
			m = map[fnKey]uint64{}
			c.reqs[k] = m
		}
		c.lastSvc, c.lastReqs = k, m
	}
	m[fnKey{r.Kind, r.Code, r.MEI, r.Class, r.Failure != proto.Pass}]++
}

// refusedSuffix marks a function the rule's protocol condition refused.
const refusedSuffix = " (refused)"

// line holds the attributes of an event record the collector uses.
type line struct {
	event, mode, verdict, would, rule, reason string
	from, to, proto, src, dst                 string
	dport, icmpType                           int
	flow                                      uint64
	packets, bytes                            uint64
}

// Verdict reasons that start a flow (or, untracked, are its packet).
var startReasons = map[string]bool{
	engine.ReasonNewFlow: true, engine.ReasonPickup: true, engine.ReasonPickupDenied: true,
	engine.ReasonNoFlow: true, engine.ReasonPassthrough: true, engine.ReasonKernelDeny: true,
	engine.ReasonSynPayload: true, engine.ReasonSeeded: true,
}

func (c *Collector) Enabled(context.Context, slog.Level) bool { return true }
func (c *Collector) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *Collector) WithGroup(string) slog.Handler            { return c }

// Handle reads one event record.
func (c *Collector) Handle(_ context.Context, r slog.Record) error {
	l := line{dport: -1, icmpType: -1}
	r.Attrs(func(a slog.Attr) bool {
		v := a.Value
		switch a.Key {
		case "event":
			l.event = v.String()
		case "mode":
			l.mode = v.String()
		case "verdict":
			l.verdict = v.String()
		case "would":
			l.would = v.String()
		case "rule":
			l.rule = v.String()
		case "reason":
			l.reason = v.String()
		case "from_zone":
			l.from = v.String()
		case "to_zone":
			l.to = v.String()
		case "proto":
			l.proto = v.String()
		case "src":
			l.src = v.String()
		case "dst":
			l.dst = v.String()
		case "dport":
			l.dport = int(number(v))
		case "icmp_type":
			l.icmpType = int(number(v))
		case "flow":
			l.flow = number(v)
		case "packets_orig", "packets_reply":
			l.packets += number(v)
		case "bytes_orig", "bytes_reply":
			l.bytes += number(v)
		}
		return true
	})
	switch l.event {
	case "verdict":
		c.verdict(&l)
	case "flow_end", "eviction":
		if row := c.flows[l.flow]; row != nil {
			delete(c.flows, l.flow)
			row.Packets += l.packets
			row.Bytes += l.bytes
		}
	}
	return nil
}

func number(v slog.Value) uint64 {
	switch v.Kind() {
	case slog.KindUint64:
		return v.Uint64()
	case slog.KindInt64:
		return uint64(v.Int64())
	}
	return 0
}

func (c *Collector) verdict(l *line) {
	if l.reason == engine.ReasonSpoofed {
		c.Spoofed++
		return
	}
	if !startReasons[l.reason] {
		if l.rule == "" && l.reason != engine.ReasonReevaluated {
			c.Malformed++
		}
		// A packet of a tracked flow that the rule's protocol condition
		// (or the stream's inspection) refused: one line each.
		if row := c.flows[l.flow]; row != nil && l.flow != 0 && l.would == "drop" && l.reason != engine.ReasonReevaluated {
			row.Refused++
			if l.verdict == "drop" {
				row.RefusedDropped++
			}
		}
		return
	}
	k := rowKey{from: l.from, to: l.to, client: l.src, server: l.dst, proto: l.proto, port: l.dport,
		rule: l.rule, mode: l.mode, verdict: Allowed}
	switch {
	case l.verdict == "drop":
		k.verdict = Denied
	case l.would == "drop":
		k.verdict = WouldDrop
	}
	if l.proto == "icmp" || l.proto == "icmpv6" {
		k.port = l.icmpType
	} else if l.proto != "tcp" && l.proto != "udp" {
		k.port = -1
	}
	row := c.row(k)
	row.Flows++
	if l.flow == 0 {
		row.Packets++
		return
	}
	c.flows[l.flow] = row
}

// row returns the matrix row for k, creating it.
func (c *Collector) row(k rowKey) *Row {
	row := c.rows[k]
	if row == nil {
		row = &Row{From: k.from, To: k.to, Client: k.client, Server: k.server, Proto: k.proto, Port: k.port,
			Rule: k.rule, Mode: k.mode, Verdict: k.verdict}
		c.rows[k] = row
	}
	return row
}

// FlowCounter is what Finish reads the flows still tracked from
// (*engine.Engine).
type FlowCounter interface {
	Flows(fn func(engine.FlowInfo) bool)
}

// Finish counts the flows still in the table at the end of the evidence.
func (c *Collector) Finish(e FlowCounter) {
	e.Flows(func(fi engine.FlowInfo) bool {
		if row := c.flows[fi.ID]; row != nil {
			delete(c.flows, fi.ID)
			row.Packets += fi.PacketsOrig + fi.PacketsReply
			row.Bytes += fi.BytesOrig + fi.BytesReply
		}
		return true
	})
}

// AddFlow adds a flow known from a daemon's table (conduit flows).
func (c *Collector) AddFlow(fi engine.FlowInfo) {
	verdict := Allowed
	if !fi.Allowed && fi.Mode != "passthrough" {
		verdict = WouldDrop
		if fi.Mode == "enforce" {
			verdict = Denied
		}
	}
	port := int(fi.Dport)
	if fi.Proto != "tcp" && fi.Proto != "udp" {
		port = -1
	}
	k := rowKey{from: fi.FromZone, to: fi.ToZone, client: fi.Src.Unmap().String(), server: fi.Dst.Unmap().String(),
		proto: fi.Proto, port: port, rule: fi.Rule, mode: fi.Mode, verdict: verdict}
	row := c.row(k)
	row.Flows++
	row.Packets += fi.PacketsOrig + fi.PacketsReply
	row.Bytes += fi.BytesOrig + fi.BytesReply
}

// Rows returns the matrix, each row with its service name and the
// functions seen between its client and server, ordered by conduit, then
// client, server, protocol and port.
func (c *Collector) Rows() []Row {
	fns := map[string][]string{}
	for k, m := range c.reqs {
		names := make([]string, 0, len(m))
		for f := range m {
			rs := engine.RequestSeen{Kind: f.kind, Code: f.code, MEI: f.mei, Class: f.class}
			name := f.kind.String() + " " + rs.Name()
			if f.refused {
				name += refusedSuffix
			}
			names = append(names, name)
		}
		key := svcString(k.client.String(), k.server.String(), packet.ProtoName(k.proto), int(k.port))
		fns[key] = append(fns[key], names...)
	}
	out := make([]Row, 0, len(c.rows))
	for _, r := range c.rows {
		row := *r
		row.Service = ServiceName(row.Proto, row.Port)
		if f := fns[svcString(row.Client, row.Server, row.Proto, row.Port)]; len(f) > 0 {
			row.Functions = uniqueSorted(f)
		}
		out = append(out, row)
	}
	sort.Slice(out, func(i, j int) bool { return rowLess(&out[i], &out[j]) })
	return out
}

func svcString(client, server, proto string, port int) string {
	return client + "|" + server + "|" + proto + "|" + itoa(port)
}

func rowLess(a, b *Row) bool {
	switch {
	case a.From != b.From:
		return a.From < b.From
	case a.To != b.To:
		return a.To < b.To
	case a.Client != b.Client:
		return addrLess(a.Client, b.Client)
	case a.Server != b.Server:
		return addrLess(a.Server, b.Server)
	case a.Proto != b.Proto:
		return a.Proto < b.Proto
	case a.Port != b.Port:
		return a.Port < b.Port
	case a.Rule != b.Rule:
		return a.Rule < b.Rule
	}
	return a.Verdict < b.Verdict
}

func addrLess(a, b string) bool {
	x, err1 := netip.ParseAddr(a)
	y, err2 := netip.ParseAddr(b)
	if err1 != nil || err2 != nil {
		return a < b
	}
	return x.Less(y)
}

func uniqueSorted(s []string) []string {
	sort.Strings(s)
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}
