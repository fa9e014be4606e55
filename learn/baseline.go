package learn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"time"
)

// A baseline is a matrix saved with its health figures (conduit baseline
// save), so that after insertion the inline daemon's traffic, or a
// capture of it, can be compared with what the plant did before
// (learn --diff BASELINE AFTER). It is one JSON object whose first key is
// "baseline", the format's version.

// BaselineVersion is the format written.
const BaselineVersion = 1

type baselineFile struct {
	Baseline  int               `json:"baseline"`
	Sources   []string          `json:"sources"`
	Packets   uint64            `json:"packets"`
	Malformed uint64            `json:"malformed"`
	Overflow  uint64            `json:"overflow,omitempty"`
	First     int64             `json:"first_ns"`
	Last      int64             `json:"last_ns"`
	Services  []baselineService `json:"services"`
}

type baselineService struct {
	ServiceKey
	Flows            uint64            `json:"flows"`
	Packets          uint64            `json:"packets"`
	Bytes            uint64            `json:"bytes"`
	ToServer         uint64            `json:"to_server"`
	ToClient         uint64            `json:"to_client"`
	First            int64             `json:"first_ns"`
	Last             int64             `json:"last_ns"`
	MaxGap           int64             `json:"max_gap_ns"`
	MaxGapClientPort uint16            `json:"max_gap_client_port"`
	ReversedStarts   uint64            `json:"reversed_starts,omitempty"`
	Denied           uint64            `json:"denied,omitempty"`
	Partial          uint64            `json:"partial,omitempty"`
	Functions        map[string]uint64 `json:"functions,omitempty"`
	Unparsed         map[string]uint64 `json:"unparsed,omitempty"`
	Health           *baselineHealth   `json:"health,omitempty"`
	// Uninspected: what was asked is unknown (a live matrix), so a draft
	// gets no protocol condition for it.
	Uninspected bool `json:"uninspected,omitempty"`
}

type baselineHealth struct {
	Requests        uint64         `json:"requests"`
	Replies         uint64         `json:"replies"`
	Retransmissions uint64         `json:"retransmissions"`
	Resets          uint64         `json:"resets"`
	Periods         baselineSample `json:"periods"`
	Responses       baselineSample `json:"responses"`
	Lifetimes       baselineSample `json:"lifetimes"`
	StallNS         int64          `json:"stall_ns"`
	StallAt         int64          `json:"stall_at_ns"`
	StallClientPort uint16         `json:"stall_client_port"`
	StallRetrans    bool           `json:"stall_retransmitted"`
}

type baselineSample struct {
	Values []int64 `json:"values_ns"`
	Count  uint64  `json:"count"`
}

// WriteBaseline writes m as a baseline.
func WriteBaseline(w io.Writer, m *Matrix) error {
	f := baselineFile{Baseline: BaselineVersion, Sources: m.Sources, Packets: m.Packets, Malformed: m.Malformed, Overflow: m.Overflow,
		First: m.First, Last: m.Last, Services: []baselineService{}}
	if f.Sources == nil {
		f.Sources = []string{}
	}
	for _, s := range m.Services() {
		b := baselineService{ServiceKey: s.ServiceKey, Flows: s.Flows,
			Packets: s.Packets, Bytes: s.Bytes, ToServer: s.ToServer, ToClient: s.ToClient, First: s.First, Last: s.Last,
			MaxGap: s.MaxGap, MaxGapClientPort: s.MaxGapClientPort, ReversedStarts: s.ReversedStarts, Denied: s.Denied,
			Partial: s.Partial, Functions: s.Functions, Unparsed: s.Unparsed, Uninspected: s.uninspected || s.logged}
		if h := s.Health; h != nil {
			b.Health = &baselineHealth{Requests: h.Requests, Replies: h.Replies, Retransmissions: h.Retransmissions,
				Resets: h.Resets, Periods: baselineSample{h.Periods.v, h.Periods.n},
				Responses: baselineSample{h.Responses.v, h.Responses.n}, Lifetimes: baselineSample{h.Lifetimes.v, h.Lifetimes.n},
				StallNS: int64(h.Stall.Gap), StallAt: h.Stall.At, StallClientPort: h.Stall.ClientPort, StallRetrans: h.Stall.Retransmitted}
		}
		f.Services = append(f.Services, b)
	}
	enc := json.NewEncoder(w)
	return enc.Encode(f)
}

// ReadBaseline reads a baseline written by WriteBaseline.
func ReadBaseline(r io.Reader) (*Matrix, error) {
	var f baselineFile
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	if f.Baseline != BaselineVersion {
		return nil, fmt.Errorf("baseline: version %d, this conduit reads %d", f.Baseline, BaselineVersion)
	}
	m := NewMatrix()
	m.Sources, m.Packets, m.Malformed, m.Overflow, m.First, m.Last = f.Sources, f.Packets, f.Malformed, f.Overflow, f.First, f.Last
	for _, b := range f.Services {
		if !b.Client.IsValid() || !b.Server.IsValid() {
			return nil, fmt.Errorf("baseline: a service without its client or server")
		}
		s := m.service(b.ServiceKey)
		s.Flows, s.Packets, s.Bytes, s.ToServer, s.ToClient = b.Flows, b.Packets, b.Bytes, b.ToServer, b.ToClient
		s.First, s.Last, s.MaxGap, s.MaxGapClientPort = b.First, b.Last, b.MaxGap, b.MaxGapClientPort
		s.ReversedStarts, s.Denied, s.Partial = b.ReversedStarts, b.Denied, b.Partial
		s.Functions, s.Unparsed, s.uninspected = b.Functions, b.Unparsed, b.Uninspected
		if h := b.Health; h != nil {
			s.Health = &Health{Requests: h.Requests, Replies: h.Replies, Retransmissions: h.Retransmissions, Resets: h.Resets,
				Periods: readSample(h.Periods), Responses: readSample(h.Responses), Lifetimes: readSample(h.Lifetimes),
				Stall: Stall{Gap: time.Duration(h.StallNS), At: h.StallAt, ClientPort: h.StallClientPort, Retransmitted: h.StallRetrans}}
		}
	}
	return m, nil
}

func readSample(b baselineSample) sample {
	v := b.Values
	if len(v) > maxSample {
		v = v[:maxSample]
	}
	return sample{v: v, n: max(b.Count, uint64(len(v)))}
}

// Merge adds the services and figures of src to m (the matrices of
// several workers, or of several periods).
func (m *Matrix) Merge(src *Matrix) {
	m.Sources = append(m.Sources, src.Sources...)
	m.Packets += src.Packets
	m.Malformed += src.Malformed
	m.Overflow += src.Overflow
	m.span.add(src.span)
	for k, s := range src.services {
		d := m.service(k)
		d.Flows += s.Flows
		d.Packets += s.Packets
		d.Bytes += s.Bytes
		d.ToServer += s.ToServer
		d.ToClient += s.ToClient
		d.span.add(s.span)
		d.gap(s.MaxGap, s.MaxGapClientPort)
		d.ReversedStarts += s.ReversedStarts
		d.Denied += s.Denied
		d.Partial += s.Partial
		d.Functions = addCounts(d.Functions, s.Functions)
		d.Unparsed = addCounts(d.Unparsed, s.Unparsed)
		for i := range d.units {
			d.units[i] |= s.units[i]
		}
		d.logged = d.logged || s.logged
		d.uninspected = d.uninspected || s.uninspected
		if h := s.Health; h != nil {
			dh := d.health()
			dh.Requests += h.Requests
			dh.Replies += h.Replies
			dh.Retransmissions += h.Retransmissions
			dh.Resets += h.Resets
			dh.Periods.merge(&h.Periods)
			dh.Responses.merge(&h.Responses)
			dh.Lifetimes.merge(&h.Lifetimes)
			if h.Stall.Gap > dh.Stall.Gap {
				dh.Stall = h.Stall
			}
		}
	}
}

func addCounts(dst, src map[string]uint64) map[string]uint64 {
	if len(src) == 0 {
		return dst
	}
	if dst == nil {
		return maps.Clone(src)
	}
	for k, v := range src {
		dst[k] += v
	}
	return dst
}

func (s *sample) merge(o *sample) {
	for _, v := range o.v {
		s.add(v)
	}
	s.n += o.n - uint64(len(o.v)) // the values o had let go of still count
}

// Baseline adds a saved baseline to the learner's matrix, as if its
// traffic had been seen (learn --diff BASELINE AFTER).
func (l *Learner) Baseline(name string, r io.Reader) error {
	m, err := ReadBaseline(r)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	l.m.Merge(m)
	l.m.Sources = append(l.m.Sources, name)
	return nil
}

// IsBaseline reports whether the first bytes of a file are a baseline's.
func IsBaseline(head []byte) bool { return bytes.HasPrefix(head, []byte(`{"baseline":`)) }
