package core

import (
	"log/slog"
	"testing"

	"gopkg.in/yaml.v3"
)

// Methods calls the table's funcs, gives fresh vocabulary lists, a ""
// annotation without Annotate, and refuses a table missing a required
// func.
func TestMethods(t *testing.T) {
	words := []string{"a", "b"}
	f := Funcs{
		Decode:       func(Decoder, string, *yaml.Node, Cond) Cond { return nil },
		Vocabulary:   map[string]func() []string{"p.words": func() []string { return append([]string(nil), words...) }},
		NewInspector: func() Inspector { return nil },
		Attrs:        func(_ *Event, as []slog.Attr) []slog.Attr { return append(as, slog.Int("x", 1)) },
		RequestName:  func(r *Judged) string { return itoa(int(r.Code)) },
		Draft:        func(*Seen) (keys, notes []string) { return []string{"p: {}"}, nil },
	}
	p := Methods(f)
	if got := p.RequestName(&Judged{Code: 7}); got != "7" {
		t.Errorf("RequestName = %q", got)
	}
	if as := p.Attrs(nil, nil); len(as) != 1 || as[0].Key != "x" {
		t.Errorf("Attrs = %v", as)
	}
	if keys, _ := p.Draft(&Seen{}); len(keys) != 1 || keys[0] != "p: {}" {
		t.Errorf("Draft = %v", keys)
	}
	if got := p.Annotate("p", words); got != "" {
		t.Errorf("Annotate without a func = %q", got)
	}
	v := p.Vocabulary()
	v["p.words"][0] = "changed"
	if got := p.Vocabulary()["p.words"]; len(v) != 1 || got[0] != "a" || words[0] != "a" {
		t.Errorf("Vocabulary shares its lists: %v", got)
	}
	f.Annotate = func(kind string, _ []string) string { return " (" + kind + ")" }
	if got := Methods(f).Annotate("p", nil); got != " (p)" {
		t.Errorf("Annotate = %q", got)
	}
	f.Draft = nil
	defer func() {
		if recover() == nil {
			t.Error("Methods took a table without Draft")
		}
	}()
	Methods(f)
}
