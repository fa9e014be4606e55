package dnp3

import (
	"log/slog"

	"gopkg.in/yaml.v3"

	"github.com/conduit-ot/conduit/internal/ipproto"
	"github.com/conduit-ot/conduit/proto/internal/core"
)

// Info is DNP3's line of proto's table: over TCP or UDP, a UDP flow
// keeping the fragment its master's segments build across datagrams.
var Info = core.Info{
	Key: "dnp3", Name: "DNP3", Keys: []string{"dnp3"}, Transports: []uint8{ipproto.TCP, ipproto.UDP}, Port: Port,
	Datagrams: true,
	Kinds:     []core.KindInfo{{Kind: KindRequest, Name: "dnp3"}},
	Protocol:  protocol{},
}

type protocol struct{ core.Sealed }

func (protocol) Decode(d core.Decoder, _ string, n *yaml.Node, _ core.Cond) core.Cond {
	return decode(d, n)
}

func (protocol) Vocabulary() map[string][]string {
	return map[string][]string{"dnp3.functions": FunctionNames()}
}

func (protocol) NewInspector() core.Inspector { return &inspector{} }

func (protocol) Attrs(e *core.Event, as []slog.Attr) []slog.Attr { return attrs(e, as) }

func (protocol) RequestName(r *core.Judged) string { return FunctionName(uint8(r.Code)) }

func (protocol) Draft(s *core.Seen) (keys, notes []string) {
	return []string{"dnp3: {functions: " + core.YAMLFlow(s.List("dnp3")) + "}"}, nil
}

func (protocol) Annotate(string, []string) string { return "" }
