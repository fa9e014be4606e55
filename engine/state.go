package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/conduit-ot/conduit/internal/atomicfile"
)

// hitsState is the state file: rule counters keyed by rule name, so that
// "the cleanup rule has been quiet for 19 days" survives restarts.
type hitsState struct {
	Version int        `json:"version"`
	Saved   time.Time  `json:"saved"`
	Rules   []RuleHits `json:"rules"`
	// Coverage is what each rule carried (coverage.go); absent in files
	// written before it was recorded.
	Coverage []savedCoverage `json:"coverage,omitempty"`
}

const hitsStateVersion = 1

// SaveHits writes every rule's counters to path atomically (a temporary
// file renamed over it), creating its directory if needed.
func (e *Engine) SaveHits(path string) error {
	st := hitsState{Version: hitsStateVersion, Saved: time.Now().UTC(), Rules: e.Hits(), Coverage: e.coverageState()}
	b, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return fmt.Errorf("save hits: %w", err)
	}
	if err := atomicfile.Write(path, append(b, '\n'), 0o640); err != nil {
		return fmt.Errorf("save hits to %s: %w", path, err)
	}
	return nil
}

// LoadHits adds the counters saved in path to the engine's, by rule name,
// and returns how many rules it restored. A missing file restores nothing
// and is not an error.
func (e *Engine) LoadHits(path string) (int, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("load hits: %w", err)
	}
	var st hitsState
	if err := json.Unmarshal(b, &st); err != nil {
		return 0, fmt.Errorf("load hits from %s: %w", path, err)
	}
	if st.Version != hitsStateVersion {
		return 0, fmt.Errorf("load hits from %s: state version %d, want %d", path, st.Version, hitsStateVersion)
	}
	e.RestoreHits(st.Rules)
	e.restoreCoverage(st.Coverage)
	return len(st.Rules), nil
}

// RestoreHits adds saved counters to the engine's, by rule name (Index,
// Action and Cleanup are ignored: the policy in force says those). Safe to
// call while packets are being decided.
func (e *Engine) RestoreHits(saved []RuleHits) {
	restoreByName(e, saved, func(r *RuleHits) string { return r.Name }, func(c *ruleCounters, r *RuleHits) {
		c.packets.Add(r.Packets)
		c.bytes.Add(r.Bytes)
		c.flows.Add(r.Flows)
		c.requests.Add(r.Requests)
		c.wouldDrop.Add(r.WouldDrop)
		if r.FirstHit != nil {
			storeEarlier(&c.first, r.FirstHit.UnixNano())
		}
		if r.LastWouldDrop != nil {
			storeLater(&c.lastWouldDrop, r.LastWouldDrop.UnixNano())
		}
		if r.LastHit != nil {
			storeLater(&c.last, r.LastHit.UnixNano())
		}
	})
}

// restoreByName adds each saved record to the counters of the rule it
// names (the first worker's, under its table's lock), passing over a
// record without a name: what the state file restores, hits and coverage.
func restoreByName[T any](e *Engine, saved []T, name func(*T) string, add func(*ruleCounters, *T)) {
	h := &e.workers[0].hits
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range saved {
		if n := name(&saved[i]); n != "" {
			add(h.named(n), &saved[i])
		}
	}
}

// storeEarlier stores the clock ns in a unless a holds an earlier one (0:
// none yet); storeLater unless it holds a later one. Packets may be
// counted meanwhile.
func storeEarlier(a *atomic.Int64, ns int64) {
	for cur := a.Load(); (cur == 0 || cur > ns) && !a.CompareAndSwap(cur, ns); cur = a.Load() {
	}
}

func storeLater(a *atomic.Int64, ns int64) {
	for cur := a.Load(); cur < ns && !a.CompareAndSwap(cur, ns); cur = a.Load() {
	}
}
