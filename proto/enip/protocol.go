package enip

import (
	"gopkg.in/yaml.v3"

	"github.com/conduit-ot/conduit/internal/ipproto"
	"github.com/conduit-ot/conduit/proto/internal/core"
)

// Info is EtherNet/IP's line of proto's table: the keys enip (the
// encapsulation) and cip (the requests it carries) make one condition.
var Info = core.Info{
	Key: "enip", Name: "EtherNet/IP", Keys: []string{"enip", "cip"}, Transports: []uint8{ipproto.TCP, ipproto.UDP}, Port: Port,
	Kinds: []core.KindInfo{{Kind: KindCommand, Name: "enip"}, {Kind: KindCIP, Name: "cip", Uncounted: true}},
	Protocol: core.Methods(core.Funcs{
		Decode: func(d core.Decoder, key string, n *yaml.Node, into core.Cond) core.Cond {
			c, _ := into.(*Cond)
			return decode(d, key, n, c)
		},
		Vocabulary:   map[string]func() []string{"enip.commands": CommandNames, "cip.services": ServiceNames, "cip.classes": ClassNames},
		NewInspector: func() core.Inspector { return &inspector{} },
		Attrs:        attrs,
		RequestName: func(r *core.Judged) string {
			if r.Kind == KindCIP {
				return ServiceName(uint8(r.Code), r.Class)
			}
			return CommandName(r.Code)
		},
		Draft: draft,
	}),
}
