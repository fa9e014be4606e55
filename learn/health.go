package learn

import (
	"slices"
	"time"

	"github.com/conduit-ot/conduit/engine/packet"
)

// Health is how a service behaved, beyond being there: the figures an
// insertion (a box put inline) can spoil while every service still shows
// up. Learned from captures; a verdict log does not carry them.
type Health struct {
	Requests uint64 // client->server packets with data (TCP: new data only; UDP: every one)
	Replies  uint64 // server->client data packets that answered a request
	// Periods are the intervals between successive requests of a flow
	// (the polling period and jitter are taken from their Cycle),
	// Responses the times from a request to the first data the server
	// sent back, Lifetimes the durations of the TCP sessions (first to
	// last packet) — each a bounded sample.
	Periods, Responses, Lifetimes sample
	Retransmissions               uint64 // TCP segments whose data was already sent
	Resets                        uint64 // TCP RSTs, either side
	// Stall is the service's largest silence inside a flow, and what
	// ended it.
	Stall Stall
}

// Stall is a silence inside one flow.
type Stall struct {
	Gap        time.Duration
	At         int64  // ns: when the silence ended
	ClientPort uint16 // of the flow
	// Retransmitted: the packet that ended the silence, or one of the two
	// after it, resent data (the sender had given up waiting).
	Retransmitted bool
}

// maxSample bounds each sample; past it, values replace earlier ones in
// turn, so a long capture still weighs its end.
const maxSample = 4096

type sample struct {
	v []int64 // ns
	n uint64  // values offered
}

func (s *sample) add(v int64) {
	if len(s.v) < maxSample {
		s.v = append(s.v, v)
	} else {
		s.v[s.n%maxSample] = v
	}
	s.n++
}

// Count is how many values the sample was offered.
func (s *sample) Count() uint64 { return s.n }

// Quantile returns the q-quantile (0..1) of the sample, 0 when it is empty.
func (s *sample) Quantile(q float64) time.Duration {
	if len(s.v) == 0 {
		return 0
	}
	c := slices.Clone(s.v)
	slices.Sort(c)
	return time.Duration(c[min(len(c)-1, int(q*float64(len(c)-1)+0.5))])
}

// Jitter is the spread of the sample: its 90th percentile minus its 10th.
func (s *sample) Jitter() time.Duration { return s.Quantile(0.9) - s.Quantile(0.1) }

// Cycle is the polling cycle of a sample of request intervals: the
// intervals of at least a quarter of the 90th percentile, so that the
// requests a client sends back to back within one poll (registers 0-9,
// then register 100) do not pass for the period. It is a sample itself.
func (s *sample) Cycle() *sample {
	floor := int64(s.Quantile(0.9)) / 4
	c := &sample{}
	for _, v := range s.v {
		if v >= floor {
			c.add(v)
		}
	}
	return c
}

// flowHealth is what a flow needs to measure its service's health.
type flowHealth struct {
	start, lastReq, pending int64
	seqEnd                  [2]uint32 // highest sequence end sent, to server [0] and to client [1]
	seqKnown                [2]bool
	afterGap                uint8 // packets after a new stall left to check for a retransmission
	lived                   bool  // lifetime recorded
}

// health updates s's figures with the packet in hand (l.p), which came at
// ts after a silence of gap (0: the flow's first packet).
func (l *Learner) health(f *flow, s *Service, ts, gap int64, toServer bool) {
	p := &l.p
	h := s.health()
	fh := &f.h
	if fh.start == 0 {
		fh.start = ts
	}
	retrans := false
	data := len(p.Payload) > 0
	if p.Proto == packet.ProtoTCP {
		if p.TCPFlags&packet.TCPRst != 0 {
			h.Resets++
		}
		side := 1
		if toServer {
			side = 0
		}
		end := p.Seq + uint32(len(p.Payload))
		if p.TCPFlags&(packet.TCPSyn|packet.TCPFin) != 0 {
			end++
		}
		if end != p.Seq { // the packet carries sequence space
			if fh.seqKnown[side] && int32(end-fh.seqEnd[side]) <= 0 {
				retrans = true
				h.Retransmissions++
			} else {
				fh.seqEnd[side], fh.seqKnown[side] = end, true
			}
		}
	}
	if gap > 0 && time.Duration(gap) > h.Stall.Gap {
		h.Stall = Stall{Gap: time.Duration(gap), At: ts, ClientPort: f.clientPort, Retransmitted: retrans}
		fh.afterGap = 2
	} else if fh.afterGap > 0 {
		fh.afterGap--
		if retrans && h.Stall.ClientPort == f.clientPort {
			h.Stall.Retransmitted = true
		}
	}
	if !data || retrans {
		return
	}
	if toServer {
		h.Requests++
		if fh.lastReq != 0 {
			h.Periods.add(ts - fh.lastReq)
		}
		fh.lastReq = ts
		if fh.pending == 0 {
			fh.pending = ts
		}
	} else if fh.pending != 0 {
		h.Replies++
		h.Responses.add(ts - fh.pending)
		fh.pending = 0
	}
}

func (s *Service) health() *Health {
	if s.Health == nil {
		s.Health = &Health{}
	}
	return s.Health
}

// lifetimes records the duration of every TCP flow not recorded yet.
func (l *Learner) lifetimes() {
	for _, f := range l.flows {
		if f.h.lived || f.svc.Proto != packet.ProtoTCP || f.h.start == 0 {
			continue
		}
		f.h.lived = true
		f.svc.health().Lifetimes.add(f.last - f.h.start)
	}
}
