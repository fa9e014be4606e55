package learn

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/inforce"
	"github.com/conduit-ot/conduit/proto"
	"github.com/conduit-ot/conduit/rules"
)

// Which requests a draft condition must allow is whatever the engine's
// protocol inspection judges, so learn asks the engine: it feeds the
// packets of industrial services through an engine of its own, under a
// policy whose rules inspect every such flow and refuse nothing, and
// records what the engine reports (engine.Config.OnRequest): the
// requests it judges (Service.Functions, named as a condition names
// them) and the packets it cannot judge (Service.Unparsed), which a rule
// with a condition drops unless on_unparsed allows them.

// appOf is the industrial protocol learn reads on a service, by its port.
func appOf(l4 uint8, port uint16) rules.AppProto { return proto.ByPort(l4, port) }

// Function is one industrial request type: the policy condition it
// belongs to (modbus, dnp3, s7, s7-userdata, enip, cip) and its name
// there, a word of the condition's vocabulary or a number.
type Function struct {
	Proto, Name string
}

func (f Function) String() string { return f.Proto + " " + f.Name }

// observePolicy inspects every flow to an industrial port (appOf) with a
// condition that allows every request, and lets what cannot be judged
// through: nothing is refused, so every packet moves the engine's stream
// state on as it would pass in enforce under the draft. Like the draft,
// it allows each service in its request direction only (default deny):
// a UDP flow first seen from its server is not taken in that orientation,
// and a TCP one picked up mid-stream is taken in the rule's.
//
// The connection table never fills during a capture (the largest
// capacity a policy may give; it grows as used), and established TCP and
// UDP flows never idle out: the draft gives each rule an idle_timeout
// above the largest gap its flows had. Handshake and closing timeouts are
// the daemon's.
var observePolicy = observeYAML()

// observeYAML writes observePolicy: one rule per protocol of proto's
// table and transport it runs on, to its well-known port.
func observeYAML() string {
	var b strings.Builder
	b.WriteString(`mode: enforce
default: deny
zones:
  all: {level: 2, cidrs: [0.0.0.0/0, "::/0"]}
conntrack:
  capacity: 67108864
  timeouts: {tcp_established: 87600h, udp: 87600h}
rules:
`)
	for _, id := range proto.All() {
		info := proto.Table[id]
		var conds []string
		for _, k := range info.Keys {
			conds = append(conds, k+": {}")
		}
		for _, l4 := range info.Transports {
			name := info.Key
			if len(info.Transports) > 1 {
				name += "-" + rules.ProtoName(l4)
			}
			fmt.Fprintf(&b, "  - {name: %s, from: all, to: all, proto: %s, dport: %d, %s, on_unparsed: allow}\n",
				name, rules.ProtoName(l4), info.Port, strings.Join(conds, ", "))
		}
	}
	return b.String()
}

const (
	// observeLargeBuffers: large stream buffers the engine may lend at
	// once (4 KB each, allocated as used). The daemon lends 64 per queue
	// and flows idle out; here flows that stop mid-PDU keep theirs, and a
	// PDU must not go unparsed for want of one.
	observeLargeBuffers = 4096
	// observeSweep: capture time between sweeps of the connection table,
	// which give back the stream state of flows that ended.
	observeSweep = int64(time.Minute)
)

// observer is learn's engine.
type observer struct {
	eng       *engine.Engine
	w         *engine.Worker
	now       int64 // the engine's clock: the latest timestamp fed
	lastSweep int64
	svc       *Service // the service of the packet being decided
	names     map[requestType]string
}

// requestType is what names a request: RequestSeen less the flow and
// the verdict.
type requestType struct {
	kind  engine.RequestKind
	mei   uint8
	code  uint16
	class uint32
}

func newObserver() *observer {
	p, err := rules.Parse("observe.yaml", []byte(observePolicy))
	if err != nil {
		panic(fmt.Sprintf("learn: the observing policy does not parse: %v", err))
	}
	o := &observer{names: map[requestType]string{}}
	o.eng = engine.New(engine.Config{
		Store:        inforce.NewStore(p),
		Workers:      1,
		Log:          slog.New(slog.DiscardHandler),
		Now:          func() int64 { return o.now },
		EventBuffer:  1, // no one reads the events: they are dropped
		OnRequest:    o.seen,
		LargeBuffers: observeLargeBuffers,
	})
	o.w = o.eng.Worker(0)
	return o
}

// observe feeds packet b of service s, captured at ts, to the engine.
func (l *Learner) observe(s *Service, ts int64, b []byte) {
	o := l.obs
	if o == nil {
		o = newObserver()
		l.obs = o
	}
	// The engine's clock never runs backwards: a timestamp earlier than
	// the latest (out of order, or a capture dated before the previous
	// one) is taken as the latest.
	o.now = max(o.now, ts)
	if o.now-o.lastSweep >= observeSweep {
		o.eng.Conntrack().Sweep(o.now)
		o.lastSweep = o.now
	}
	o.svc = s
	o.w.Decide(b)
	o.svc = nil
}

// seen records a report of the engine about the packet being decided.
func (o *observer) seen(r engine.RequestSeen) {
	s := o.svc
	if s == nil {
		return
	}
	if r.Kind == engine.KindUnparsed {
		if s.Unparsed == nil {
			s.Unparsed = map[string]uint64{}
		}
		s.Unparsed[unparsedReason(&r)]++
		return
	}
	if s.Functions == nil {
		s.Functions = map[string]uint64{}
	}
	n := uint64(0)
	_, k := proto.KindOf(r.Kind)
	if r.Counted || k.Uncounted {
		// A request of an uncounted kind (CIP) is counted once, where it
		// is judged: the rule counts the request carrying it (ENIP).
		n = 1
	}
	s.Functions[o.name(&r)] += n
	if k.Units {
		s.units.Add(r.Unit)
	}
}

// name is the Function string of a request, made once per request type.
func (o *observer) name(r *engine.RequestSeen) string {
	t := requestType{kind: r.Kind, code: r.Code, class: r.Class, mei: r.MEI}
	name, ok := o.names[t]
	if !ok {
		name = Function{r.Kind.String(), r.Name()}.String()
		o.names[t] = name
	}
	return name
}

// unparsedReason is the reason a packet could not be judged, with what
// the verdict line details: "malformed-modbus (bad-length)",
// "unparsed-s7 (s7comm-plus)"; a stream gap is a stream gap.
func unparsedReason(r *engine.RequestSeen) string {
	d := r.Detail
	if d == "" {
		d = r.Err
	}
	if d == "" || r.Reason == engine.ReasonStreamGap {
		return r.Reason
	}
	return r.Reason + " (" + d + ")"
}
