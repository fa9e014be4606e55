package inforce

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/conduit-ot/conduit/rules"
)

// Reloader replaces the active policy from its file.
type Reloader struct {
	Path  string
	Store *Store
	Log   *slog.Logger
	// Load reads and compiles a policy; rules.Load unless a test swaps it.
	Load func(path string) (*rules.Policy, error)
	// OnSwap, if set, runs after a new generation is in force.
	OnSwap func(old, cur *Active)
	// Prepare, if set, runs before the swap with the policy about to take
	// over (the kernel's table is replaced there). An error refuses the
	// reload: the running policy stays in force.
	Prepare func(old *Active, next *rules.Policy) error
	// OnWatch, if set, runs once Watch has armed its watches and compared
	// the file with the policy in force: every change after it is seen.
	OnWatch func()

	mu sync.Mutex // one reload at a time: SIGHUP, the file watcher and the control socket race

	refusedMu sync.Mutex
	refused   *Refusal // the last refused file, until a reload succeeds
}

// Refusal is the last file a reload refused while the policy in force
// stayed: status shows it beside the running generation.
type Refusal struct {
	File    string    `json:"file"`
	SHA256  string    `json:"file_sha256,omitempty"`
	Errors  []string  `json:"errors"`
	Time    time.Time `json:"time"`
	Trigger string    `json:"trigger"`
}

// LastRefused returns the last refused file, or nil when the last reload
// succeeded (or found the file unchanged) or none was refused.
func (r *Reloader) LastRefused() *Refusal {
	r.refusedMu.Lock()
	defer r.refusedMu.Unlock()
	return r.refused
}

func (r *Reloader) setRefused(f *Refusal) {
	r.refusedMu.Lock()
	r.refused = f
	r.refusedMu.Unlock()
}

// Result says what a reload did.
type Result struct {
	Changed  bool // a new generation is in force
	Old, New *Active
	Err      error // the file was refused; Old stays in force
}

// Reload parses, validates and compiles the file, then swaps it in. An
// invalid file is refused with every error and the running policy stays.
// A file whose content did not change is a no-op.
func (r *Reloader) Reload(trigger string) Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	load := r.Load
	if load == nil {
		load = rules.Load
	}
	old := r.Store.Load()
	p, err := load(r.Path)
	if err != nil {
		attrs := []any{"event", "reload", "result", "error", "trigger", trigger, "file", r.Path,
			"running_sha256", old.Policy.SHA256, "running_mode", old.Policy.Mode.String(), "error", err.Error()}
		// Which content was refused: the file may be edited again before
		// anyone reads the log.
		ref := &Refusal{File: r.Path, Time: time.Now().UTC(), Trigger: trigger, Errors: []string{err.Error()}}
		if b, rerr := os.ReadFile(r.Path); rerr == nil {
			sum := sha256.Sum256(b)
			ref.SHA256 = hex.EncodeToString(sum[:])
			attrs = append(attrs, "file_sha256", ref.SHA256)
		}
		var perr *rules.Errors
		if errors.As(err, &perr) {
			msgs := make([]string, 0, len(perr.List))
			for _, d := range perr.List {
				msgs = append(msgs, d.String())
			}
			attrs = append(attrs, "errors", msgs)
			ref.Errors = msgs
		}
		r.setRefused(ref)
		r.Log.Error("reload refused; the running policy stays in force", attrs...)
		return Result{Old: old, New: old, Err: err}
	}
	r.setRefused(nil)
	if p.SHA256 == old.Policy.SHA256 {
		r.Log.Debug("reload: policy unchanged", "trigger", trigger, "sha256", p.SHA256)
		return Result{Old: old, New: old}
	}
	if r.Prepare != nil {
		if err := r.Prepare(old, p); err != nil {
			r.Log.Error("reload refused by the kernel; the running policy stays in force", "event", "reload",
				"result", "error", "trigger", trigger, "file", r.Path, "running_sha256", old.Policy.SHA256,
				"sha256", p.SHA256, "error", err.Error())
			return Result{Old: old, New: old, Err: err}
		}
	}
	old, cur := r.Store.swap(p)
	r.Log.Info("policy reloaded", "event", "reload", "result", "ok", "trigger", trigger, "file", r.Path,
		"old_sha256", old.Policy.SHA256, "sha256", cur.Policy.SHA256, "generation", cur.Generation,
		"old_mode", old.Policy.Mode.String(), "mode", cur.Policy.Mode.String(), "rules", len(p.Rules))
	for _, c := range ModeChanges(old.Policy, cur.Policy) {
		r.Log.Warn("mode changed", "event", "mode_change", "conduit", c.Conduit,
			"old_mode", c.Old, "new_mode", c.New, "old_sha256", old.Policy.SHA256, "sha256", cur.Policy.SHA256,
			"generation", cur.Generation, "trigger", trigger)
	}
	if old.Policy.Queue != cur.Policy.Queue {
		r.Log.Warn("queue settings changed in the file; they take effect at the next restart",
			"event", "reload", "running_queue", old.Policy.Queue, "file_queue", cur.Policy.Queue)
	}
	if r.OnSwap != nil {
		r.OnSwap(old, cur)
	}
	return Result{Changed: true, Old: old, New: cur}
}

// ModeChange is one mode that differs between two policies: the global mode
// (Conduit "") or one conduit's effective mode.
type ModeChange struct {
	Conduit  string // "from->to", or "" for the global mode
	Old, New string
}

// ModeChanges lists the effective mode changes from a to b, global first.
// A conduit that appears or disappears changes from or to the global mode.
func ModeChanges(a, b *rules.Policy) []ModeChange {
	var out []ModeChange
	if a.Mode != b.Mode {
		out = append(out, ModeChange{Old: a.Mode.String(), New: b.Mode.String()})
	}
	modes := func(p *rules.Policy) map[string]rules.Mode {
		m := make(map[string]rules.Mode, len(p.Conduits))
		for _, c := range p.Conduits {
			m[c.From+"->"+c.To] = c.Mode
		}
		return m
	}
	am, bm := modes(a), modes(b)
	seen := map[string]bool{}
	for _, p := range []*rules.Policy{a, b} {
		for _, c := range p.Conduits {
			k := c.From + "->" + c.To
			if seen[k] {
				continue
			}
			seen[k] = true
			om, ok := am[k]
			if !ok {
				om = a.Mode
			}
			nm, ok := bm[k]
			if !ok {
				nm = b.Mode
			}
			if om != nm {
				out = append(out, ModeChange{Conduit: k, Old: om.String(), New: nm.String()})
			}
		}
	}
	return out
}
