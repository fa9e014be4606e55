package learn

import (
	"sync"
	"time"

	"github.com/conduit-ot/conduit/engine/packet"
)

// Live is a communication matrix kept by a running sensor (conduit
// observe) from the packets it sees, with the health figures of each
// service, for `conduit baseline save`. Each shard takes the packets of
// one reader; Snapshot merges them. It does not run learn's protocol
// inspection (the sensor's engine does that), and it is bounded: each
// shard follows at most MaxLiveFlows flows (idle ones are forgotten
// first) and MaxLiveServices services (packets of further ones are
// counted in Matrix.Overflow).
type Live struct {
	shards []liveShard
}

type liveShard struct {
	mu sync.Mutex
	l  *Learner
	_  [48]byte
}

// Bounds of a Live shard.
const (
	MaxLiveFlows    = 65536
	MaxLiveServices = 65536
	liveIdle        = int64(10 * time.Minute) // a flow idle this long is forgotten first
)

// NewLive returns an empty live matrix with n shards (at least 1).
func NewLive(n int) *Live {
	lv := &Live{shards: make([]liveShard, max(n, 1))}
	for i := range lv.shards {
		l := NewLearner()
		l.noInspect, l.maxFlows, l.maxServices = true, MaxLiveFlows, MaxLiveServices
		lv.shards[i].l = l
	}
	return lv
}

// Packet records the IP packet b, seen at ts (ns), in shard i.
func (lv *Live) Packet(i int, ts int64, b []byte) {
	sh := &lv.shards[i%len(lv.shards)]
	sh.mu.Lock()
	sh.l.Packet(ts, b)
	sh.mu.Unlock()
}

// Snapshot returns a copy of the matrix so far, the shards merged.
func (lv *Live) Snapshot() *Matrix {
	m := NewMatrix()
	for i := range lv.shards {
		sh := &lv.shards[i]
		sh.mu.Lock()
		m.Merge(sh.l.m)
		// The sessions still running count with their lifetime so far, in
		// the copy only: the shard records them when they end.
		for _, f := range sh.l.flows {
			if !f.h.lived && f.svc.Proto == packet.ProtoTCP && f.h.start != 0 {
				if d := m.Lookup(f.svc.ServiceKey); d != nil {
					d.health().Lifetimes.add(f.last - f.h.start)
				}
			}
		}
		sh.mu.Unlock()
	}
	return m
}

// prune makes room in the flow table: flows idle longer than liveIdle
// go first, then, if that freed too little, every other one. A forgotten
// flow's next packet starts a new one, as after a restart.
func (l *Learner) prune(ts int64) {
	for k, f := range l.flows {
		if ts-f.last > liveIdle {
			l.forget(k, f)
		}
	}
	if len(l.flows) < l.maxFlows*3/4 {
		return
	}
	n := 0
	for k, f := range l.flows {
		if n%2 == 0 {
			l.forget(k, f)
		}
		n++
	}
}

// forget drops flow f, recording its session's lifetime.
func (l *Learner) forget(k flowKey, f *flow) {
	if !f.h.lived && f.svc.Proto == packet.ProtoTCP && f.h.start != 0 {
		f.h.lived = true
		f.svc.health().Lifetimes.add(f.last - f.h.start)
	}
	delete(l.flows, k)
}
