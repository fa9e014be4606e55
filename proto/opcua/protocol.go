package opcua

import (
	"log/slog"
	"strings"

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
	Protocol: protocol{},
}

type protocol struct{ core.Sealed }

func (protocol) Decode(d core.Decoder, _ string, n *yaml.Node, _ core.Cond) core.Cond {
	return decode(d, n)
}

func (protocol) Vocabulary() map[string][]string {
	return map[string][]string{
		"opcua.services":          RequestServiceNames(),
		"opcua.security_modes":    ModeNames(),
		"opcua.security_policies": append([]string(nil), Policies...),
	}
}

func (protocol) NewInspector() core.Inspector { return &inspector{} }

func (protocol) Attrs(e *core.Event, as []slog.Attr) []slog.Attr { return attrs(e, as) }

// RequestName names a service by its policy word (a number where it has
// none), a mode and a policy by theirs.
func (protocol) RequestName(r *core.Judged) string {
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

// Draft writes the services, modes and policies seen. Services seen on
// clear channels are left out when a sign_and_encrypt channel was seen
// too: that channel's requests cannot be read, and a services list would
// make them unparsed.
func (protocol) Draft(s *core.Seen) (keys, notes []string) {
	var fields []string
	modes := s.List("opcua-mode")
	encrypted := false
	for _, m := range modes {
		encrypted = encrypted || m == ModeSignAndEncrypt.String()
	}
	switch svc := s.List("opcua"); {
	case encrypted:
		notes = append(notes, "opcua: sign_and_encrypt channels seen: their services cannot be read, so none are listed")
	case len(svc) > 0:
		fields = append(fields, "services: "+core.YAMLFlow(svc))
	}
	if len(modes) > 0 {
		fields = append(fields, "security_modes: "+core.YAMLFlow(sortModes(modes)))
		for _, m := range modes {
			if m == ModeNone.String() {
				notes = append(notes, "opcua: security mode none seen: the channel is neither signed nor encrypted")
			}
		}
	}
	if p := s.List("opcua-policy"); len(p) > 0 {
		fields = append(fields, "security_policies: "+core.YAMLFlow(p))
	}
	return []string{"opcua: {" + strings.Join(fields, ", ") + "}"}, notes
}

// sortModes orders mode names as the standard does.
func sortModes(names []string) []string {
	var out []string
	for _, m := range ModeNames() {
		for _, n := range names {
			if n == m {
				out = append(out, m)
			}
		}
	}
	return out
}

func (protocol) Annotate(kind string, names []string) string { return "" }
