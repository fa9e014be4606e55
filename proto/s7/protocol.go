package s7

import (
	"log/slog"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/conduit-ot/conduit/internal/ipproto"
	"github.com/conduit-ot/conduit/proto/internal/core"
)

// Info is S7comm's line of proto's table.
var Info = core.Info{
	Key: "s7", Name: "S7", Keys: []string{"s7"}, Transports: []uint8{ipproto.TCP}, Port: Port,
	Kinds:    []core.KindInfo{{Kind: RequestJob, Name: "s7"}, {Kind: RequestUserdata, Name: "s7-userdata"}},
	Protocol: protocol{},
}

type protocol struct{ core.Sealed }

func (protocol) Decode(d core.Decoder, _ string, n *yaml.Node, _ core.Cond) core.Cond {
	return decode(d, n)
}

func (protocol) Vocabulary() map[string][]string {
	return map[string][]string{
		"s7.functions":       FunctionNames(),
		"s7.userdata_groups": GroupNames(),
	}
}

func (protocol) NewInspector() core.Inspector { return &inspector{} }

func (protocol) Attrs(e *core.Event, as []slog.Attr) []slog.Attr { return attrs(e, as) }

func (protocol) RequestName(r *core.Judged) string {
	if r.Kind == RequestUserdata {
		return GroupName(uint8(r.Code))
	}
	return FunctionName(uint8(r.Code))
}

func (protocol) Draft(s *core.Seen) (keys, notes []string) {
	var fields []string
	fns := s.List("s7")
	if !slices.Contains(fns, "setup_communication") {
		// Every S7 session opens with it: without it no new session
		// gets anywhere (conduit check warns about that).
		fns = append(fns, "setup_communication")
		sort.Strings(fns)
		notes = append(notes, "s7: setup_communication added: every session opens with it (the capture began mid-session)")
	}
	fields = append(fields, "functions: "+core.YAMLFlow(fns))
	if gs := s.List("s7-userdata"); len(gs) > 0 {
		fields = append(fields, "userdata_groups: "+core.YAMLFlow(gs))
	}
	return []string{"s7: {" + strings.Join(fields, ", ") + "}"}, notes
}

func (protocol) Annotate(string, []string) string { return "" }
