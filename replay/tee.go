package replay

import (
	"context"
	"log/slog"
)

// tee hands every record to two handlers: the JSON lines of --events and
// a caller's Handler.
type tee struct{ a, b slog.Handler }

// teeHandler is b alone when a is nil.
func teeHandler(a, b slog.Handler) slog.Handler {
	if a == nil {
		return b
	}
	return tee{a, b}
}

func (t tee) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}

func (t tee) Handle(ctx context.Context, r slog.Record) error {
	var err error
	if t.a.Enabled(ctx, r.Level) {
		err = t.a.Handle(ctx, r.Clone())
	}
	if t.b.Enabled(ctx, r.Level) {
		if e := t.b.Handle(ctx, r); err == nil {
			err = e
		}
	}
	return err
}

func (t tee) WithAttrs(as []slog.Attr) slog.Handler {
	return tee{t.a.WithAttrs(as), t.b.WithAttrs(as)}
}

func (t tee) WithGroup(name string) slog.Handler {
	return tee{t.a.WithGroup(name), t.b.WithGroup(name)}
}
