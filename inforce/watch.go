package inforce

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"

	"github.com/conduit-ot/conduit/internal/fswatch"
)

// Debounce is how long the watcher waits after the last change to the file
// before reloading: editors write in several steps.
const Debounce = fswatch.Debounce

// Watch reloads when the policy file changes on disk, until ctx ends
// (internal/fswatch says how it follows the path and its symlinks). A
// change reloads only when the resolved bytes differ from the policy in
// force (and from the last attempt), so the burst of events of one
// deployment reloads once.
func (r *Reloader) Watch(ctx context.Context) error {
	w := &watcher{r: r}
	lost := func(err error) { r.Log.Warn("policy file watch lost; reload with SIGHUP", "file", r.Path, "err", err) }
	return fswatch.Watch(ctx, fswatch.Config{Path: r.Path, Log: r.Log, Changed: w.check, Armed: r.OnWatch, Lost: lost})
}

// watcher is what Watch remembers between changes.
type watcher struct {
	r       *Reloader
	refused string // sha256 of the content the last reload refused
}

// check reloads when the file's content differs from the policy in force.
// A file refused once is not tried again until its content changes, so
// stray events do not repeat the refusal.
func (w *watcher) check() {
	r := w.r
	b, err := os.ReadFile(r.Path)
	if err != nil {
		r.Log.Warn("policy file is gone; the running policy stays in force", "file", r.Path, "err", err)
		return
	}
	h := sha256.Sum256(b)
	sum := hex.EncodeToString(h[:])
	if sum == r.Store.Load().Policy.SHA256 {
		w.refused = ""
		r.Log.Debug("policy file event without a change of content", "file", r.Path, "sha256", sum)
		return
	}
	if sum == w.refused {
		return
	}
	w.refused = ""
	if res := r.Reload("file-change"); res.Err != nil {
		w.refused = sum
	}
}
