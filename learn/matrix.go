package learn

import (
	"cmp"
	"github.com/conduit-ot/conduit/proto"
	"net/netip"
	"slices"
	"time"
)

// ServiceKey identifies one service between two hosts: the client opens
// flows to the server's port. For ICMP, Port is the type of the flows'
// first messages (8 for echo); for other IP protocols it is 0. The tags
// are a baseline's names for it (baseline.go).
type ServiceKey struct {
	Client netip.Addr `json:"client"`
	Server netip.Addr `json:"server"`
	Proto  uint8      `json:"proto"`
	Port   uint16     `json:"port"`
}

// Service is what was seen of one client->server service.
type Service struct {
	ServiceKey
	Flows            uint64
	Packets, Bytes   uint64
	ToServer         uint64 // packets client -> server
	ToClient         uint64 // packets server -> client (replies)
	span                    // First, Last: ns
	MaxGap           int64  // ns: the largest silence inside one flow
	MaxGapClientPort uint16 // the client port of the flow with that gap
	// ReversedStarts counts UDP flows whose first packet came from the
	// server: enforce judges a flow by its first packet, so a rule in the
	// service's direction does not let that packet through.
	ReversedStarts uint64
	// Denied counts flows a verdict log shows dropped or denied.
	Denied uint64
	// Partial counts flows of a verdict log that had not ended when it
	// did: their packets, bytes and gaps are unknown (each counts one).
	Partial uint64
	// Functions counts the industrial requests seen by name, e.g.
	// "modbus read_holding_registers": the requests the engine's protocol
	// inspection would judge, named as a condition lists them.
	Functions map[string]uint64
	// Unparsed counts the packets that inspection could not judge, by the
	// engine's reason ("stream-gap", "malformed-modbus bad-length", ...):
	// a rule with a protocol condition drops them unless on_unparsed
	// allows them.
	Unparsed map[string]uint64
	// Health: polling, response times, retransmissions, resets, session
	// lifetimes and the largest stall (health.go); nil when learned from
	// verdict logs only.
	Health *Health

	units  proto.Set256 // unit ids of the requests (of a kind with Units: Modbus)
	logged bool         // learned from a verdict log, which does not say what was asked
	// uninspected: learned by a live matrix (conduit observe), which does
	// not run learn's protocol inspection: what was asked is unknown.
	uninspected bool
}

// Name is the service's short name (modbus, dns, tcp-5450, ping, ...).
func (s *Service) Name() string { return serviceName(s.Proto, s.Port) }

// MaxGapDuration is MaxGap as a duration.
func (s *Service) MaxGapDuration() time.Duration { return time.Duration(s.MaxGap) }

// span is when a service or a matrix was seen first and last (ns; 0 for
// not yet): one type, so that both widen and merge alike.
type span struct{ First, Last int64 }

func (s *span) seen(t int64) {
	if s.First == 0 || t < s.First {
		s.First = t
	}
	if t > s.Last {
		s.Last = t
	}
}

// add widens s to cover o.
func (s *span) add(o span) {
	if o.First != 0 {
		s.seen(o.First)
	}
	if o.Last != 0 {
		s.seen(o.Last)
	}
}

func (s *Service) gap(g int64, clientPort uint16) {
	if g > s.MaxGap {
		s.MaxGap, s.MaxGapClientPort = g, clientPort
	}
}

// Matrix is the communication matrix learned from captures and verdict logs.
type Matrix struct {
	services map[ServiceKey]*Service

	Sources   []string // the files it was learned from
	Packets   uint64   // IP packets seen
	Malformed uint64   // packets the decoder refused (not in any service)
	Spoofed   uint64   // verdict lines of forged source addresses (spoofed-source), not learned
	Overflow  uint64   // packets of services a full live matrix did not take (live.go)
	span               // First, Last: ns

	ingress map[netip.Addr]*Ingress // where each source's packets came in (ingress.go)
	l2      layer2                  // frames without IP by EtherType (layer2.go)
}

// NewMatrix returns an empty matrix.
func NewMatrix() *Matrix { return &Matrix{services: map[ServiceKey]*Service{}} }

// service returns the service for k, creating it.
func (m *Matrix) service(k ServiceKey) *Service {
	s := m.services[k]
	if s == nil {
		s = &Service{ServiceKey: k}
		m.services[k] = s
	}
	return s
}

// Lookup returns the service for k, or nil.
func (m *Matrix) Lookup(k ServiceKey) *Service { return m.services[k] }

// Services returns every service, ordered by server, port, protocol and
// client.
func (m *Matrix) Services() []*Service {
	out := make([]*Service, 0, len(m.services))
	for _, s := range m.services {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *Service) int { return compareKeys(a.ServiceKey, b.ServiceKey) })
	return out
}

func compareKeys(a, b ServiceKey) int {
	return cmp.Or(a.Server.Compare(b.Server), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Proto, b.Proto), a.Client.Compare(b.Client))
}
