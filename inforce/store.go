package inforce

import (
	"sync/atomic"
	"time"

	"github.com/conduit-ot/conduit/rules"
)

// Active is a policy in force and the generation that identifies it.
type Active struct {
	Policy     *rules.Policy
	Generation uint64
	Since      time.Time
}

// Store holds the active policy for lock-free reads on the packet path.
type Store struct {
	p atomic.Pointer[Active]
}

// NewStore starts at generation 1 with p.
func NewStore(p *rules.Policy) *Store {
	s := &Store{}
	s.p.Store(&Active{Policy: p, Generation: 1, Since: time.Now()})
	return s
}

// Load returns the active policy. It never blocks.
func (s *Store) Load() *Active { return s.p.Load() }

// swap installs p as the next generation and returns the old and new.
func (s *Store) swap(p *rules.Policy) (old, cur *Active) {
	for {
		old = s.p.Load()
		cur = &Active{Policy: p, Generation: old.Generation + 1, Since: time.Now()}
		if s.p.CompareAndSwap(old, cur) {
			return old, cur
		}
	}
}
