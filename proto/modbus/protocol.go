package modbus

import (
	"gopkg.in/yaml.v3"

	"github.com/conduit-ot/conduit/internal/ipproto"
	"github.com/conduit-ot/conduit/proto/internal/core"
)

// Info is Modbus/TCP's line of proto's table.
var Info = core.Info{
	Key: "modbus", Name: "Modbus", Keys: []string{"modbus"}, Transports: []uint8{ipproto.TCP}, Port: Port,
	Kinds: []core.KindInfo{{Kind: KindRequest, Name: "modbus", Units: true}},
	Protocol: core.Methods(core.Funcs{
		Decode: func(d core.Decoder, _ string, n *yaml.Node, _ core.Cond) core.Cond { return decode(d, n) },
		Vocabulary: map[string]func() []string{
			"modbus.functions": FunctionNames,
			"modbus.preset":    func() []string { return append([]string(nil), presetWords...) },
		},
		NewInspector: func() core.Inspector { return &inspector{} },
		Attrs:        attrs,
		RequestName:  requestName,
		Draft:        draft,
		Annotate:     annotate,
	}),
}

// requestName: function 43 with an MEI type other than
// read_device_identification's has no name; a condition lists it by
// number.
func requestName(r *core.Judged) string {
	if r.Code == EncapsulatedInterface && r.MEI != MEIReadDeviceIdentification {
		return ""
	}
	return FunctionName(uint8(r.Code))
}
