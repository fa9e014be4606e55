package opcua

import (
	"strings"

	"github.com/conduit-ot/conduit/proto/internal/core"
)

// draft writes the services, modes and policies seen. Services seen on
// clear channels are left out when a sign_and_encrypt channel was seen
// too: that channel's requests cannot be read, and a services list would
// make them unparsed.
func draft(s *core.Seen) (keys, notes []string) {
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
