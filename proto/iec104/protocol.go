package iec104

import (
	"gopkg.in/yaml.v3"

	"github.com/conduit-ot/conduit/internal/ipproto"
	"github.com/conduit-ot/conduit/proto/internal/core"
)

// Info is IEC 60870-5-104's line of proto's table.
var Info = core.Info{
	Key: "iec104", Name: "IEC 104", Keys: []string{"iec104"}, Transports: []uint8{ipproto.TCP}, Port: Port,
	Kinds: []core.KindInfo{
		{Kind: KindRequest, Name: "iec104"},
		{Kind: KindCommonAddr, Name: "iec104-common_address", Uncounted: true},
	},
	Failures: []core.FailureInfo{
		{Failure: FailTypeID, Name: "type_ids"},
		{Failure: FailCause, Name: "causes"},
		{Failure: FailCommonAddress, Name: "common_addresses"},
	},
	Protocol: core.Methods(core.Funcs{
		Decode:       func(d core.Decoder, _ string, n *yaml.Node, _ core.Cond) core.Cond { return decode(d, n) },
		Vocabulary:   map[string]func() []string{"iec104.type_ids": TypeNames, "iec104.causes": CauseNames},
		NewInspector: func() core.Inspector { return &inspector{} },
		Attrs:        attrs,
		RequestName:  requestName,
		Draft:        draft,
	}),
}

// requestName names a type id by the standard's name; a private or
// reserved type, and a common address, by number.
func requestName(r *core.Judged) string {
	if r.Kind == KindRequest && r.Code < 256 {
		return TypeName(uint8(r.Code))
	}
	return ""
}
