package opcua

import (
	"gopkg.in/yaml.v3"

	"github.com/conduit-ot/conduit/internal/ipproto"
	"github.com/conduit-ot/conduit/proto/internal/core"
)

// Info is OPC UA binary's line of proto's table.
var Info = core.Info{
	Key: "opcua", Name: "OPC UA", Keys: []string{"opcua"}, Transports: []uint8{ipproto.TCP}, Port: Port,
	Kinds: []core.KindInfo{{Kind: KindService, Name: "opcua"},
		{Kind: KindMode, Name: "opcua-mode", Uncounted: true}, {Kind: KindPolicy, Name: "opcua-policy", Uncounted: true}},
	Failures: []core.FailureInfo{{Failure: FailSecurityMode, Name: "security_modes"},
		{Failure: FailSecurityPolicy, Name: "security_policies"}},
	Protocol: core.Methods(core.Funcs{
		Decode: func(d core.Decoder, _ string, n *yaml.Node, _ core.Cond) core.Cond { return decode(d, n) },
		Vocabulary: map[string]func() []string{
			"opcua.services":          serviceVoc.Names,
			"opcua.security_modes":    ModeNames,
			"opcua.security_policies": policyVoc.Names,
		},
		NewInspector: func() core.Inspector { return &inspector{} },
		Attrs:        attrs,
		RequestName:  requestName,
		Draft:        draft,
	}),
}

// requestName names a service by its policy word (a number where it has
// none), a mode and a policy by theirs.
func requestName(r *core.Judged) string {
	switch r.Kind {
	case KindService:
		if s, resp := ServiceOf(uint32(r.Code)); requestService(s) && !resp {
			return s.String()
		}
	case KindMode:
		return Mode(r.Code).String()
	case KindPolicy:
		if r.Code >= 1 && int(r.Code) <= len(Policies) {
			return Policies[r.Code-1]
		}
	}
	return ""
}
