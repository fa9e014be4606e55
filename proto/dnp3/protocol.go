package dnp3

import (
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
	Protocol: core.Methods(core.Funcs{
		Decode:       func(d core.Decoder, _ string, n *yaml.Node, _ core.Cond) core.Cond { return decode(d, n) },
		Vocabulary:   map[string]func() []string{"dnp3.functions": FunctionNames},
		NewInspector: func() core.Inspector { return &inspector{} },
		Attrs:        attrs,
		RequestName:  func(r *core.Judged) string { return FunctionName(uint8(r.Code)) },
		Draft: func(s *core.Seen) (keys, notes []string) {
			return []string{"dnp3: {functions: " + core.YAMLFlow(s.List("dnp3")) + "}"}, nil
		},
	}),
}
