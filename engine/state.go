package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
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
	h := &e.workers[0].hits
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range saved {
		if r.Name == "" {
			continue
		}
		c := h.named(r.Name)
		c.packets.Add(r.Packets)
		c.bytes.Add(r.Bytes)
		c.flows.Add(r.Flows)
		c.requests.Add(r.Requests)
		c.wouldDrop.Add(r.WouldDrop)
		if r.FirstHit != nil {
			ns := r.FirstHit.UnixNano()
			for {
				cur := c.first.Load()
				if cur != 0 && cur <= ns || c.first.CompareAndSwap(cur, ns) {
					break
				}
			}
		}
		if r.LastWouldDrop != nil {
			ns := r.LastWouldDrop.UnixNano()
			for {
				cur := c.lastWouldDrop.Load()
				if cur >= ns || c.lastWouldDrop.CompareAndSwap(cur, ns) {
					break
				}
			}
		}
		if r.LastHit != nil {
			ns := r.LastHit.UnixNano()
			for {
				cur := c.last.Load()
				if cur >= ns || c.last.CompareAndSwap(cur, ns) {
					break
				}
			}
		}
	}
}
