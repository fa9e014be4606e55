package core

import (
	"log/slog"

	"gopkg.in/yaml.v3"
)

// Funcs is a protocol's implementation given as its functions and values;
// Methods makes the Protocol of it. A protocol's protocol.go is then one
// table of what it does instead of a forwarding method per entry of the
// contract. Each field is the Protocol method of its name.
type Funcs struct {
	Decode func(d Decoder, key string, n *yaml.Node, into Cond) Cond
	// Vocabulary maps each "<key>.<field>" to the func listing its names;
	// every call of the method gets fresh lists.
	Vocabulary   map[string]func() []string
	NewInspector func() Inspector
	Attrs        func(e *Event, as []slog.Attr) []slog.Attr
	RequestName  func(r *Judged) string
	Draft        func(s *Seen) (keys, notes []string)
	// Annotate may be nil: the protocol adds nothing to learn's evidence
	// comment.
	Annotate func(kind string, names []string) string
}

// Methods returns the Protocol whose methods call f's fields. Every field
// but Annotate is required: a missing one panics here, at package init,
// not when the first rule or packet needs it.
func Methods(f Funcs) Protocol {
	if f.Decode == nil || f.NewInspector == nil || f.Attrs == nil || f.RequestName == nil || f.Draft == nil {
		panic("core: Methods without Decode, NewInspector, Attrs, RequestName or Draft")
	}
	return &methods{f: f}
}

type methods struct {
	Sealed
	f Funcs
}

func (m *methods) Decode(d Decoder, key string, n *yaml.Node, into Cond) Cond {
	return m.f.Decode(d, key, n, into)
}

func (m *methods) Vocabulary() map[string][]string {
	out := make(map[string][]string, len(m.f.Vocabulary))
	for k, names := range m.f.Vocabulary {
		out[k] = names()
	}
	return out
}

func (m *methods) NewInspector() Inspector { return m.f.NewInspector() }

func (m *methods) Attrs(e *Event, as []slog.Attr) []slog.Attr { return m.f.Attrs(e, as) }

func (m *methods) RequestName(r *Judged) string { return m.f.RequestName(r) }

func (m *methods) Draft(s *Seen) (keys, notes []string) { return m.f.Draft(s) }

func (m *methods) Annotate(kind string, names []string) string {
	if m.f.Annotate == nil {
		return ""
	}
	return m.f.Annotate(kind, names)
}
