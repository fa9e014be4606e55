package s7

import (
	"gopkg.in/yaml.v3"

	"github.com/conduit-ot/conduit/internal/ipproto"
	"github.com/conduit-ot/conduit/proto/internal/core"
)

// Info is S7comm's line of proto's table.
var Info = core.Info{
	Key: "s7", Name: "S7", Keys: []string{"s7"}, Transports: []uint8{ipproto.TCP}, Port: Port,
	Kinds: []core.KindInfo{{Kind: RequestJob, Name: "s7"}, {Kind: RequestUserdata, Name: "s7-userdata"}},
	Protocol: core.Methods(core.Funcs{
		Decode:       func(d core.Decoder, _ string, n *yaml.Node, _ core.Cond) core.Cond { return decode(d, n) },
		Vocabulary:   map[string]func() []string{"s7.functions": FunctionNames, "s7.userdata_groups": GroupNames},
		NewInspector: func() core.Inspector { return &inspector{} },
		Attrs:        attrs,
		RequestName: func(r *core.Judged) string {
			if r.Kind == RequestUserdata {
				return GroupName(uint8(r.Code))
			}
			return FunctionName(uint8(r.Code))
		},
		Draft: draft,
	}),
}
