package enip

import (
	"slices"

	"github.com/conduit-ot/conduit/proto/internal/core"
)

// draft lists the commands and CIP services seen, and warns when a
// session's opening was not.
func draft(s *core.Seen) (keys, notes []string) {
	cmds := s.List("enip")
	keys = append(keys, "enip: {commands: "+core.YAMLFlow(cmds)+"}")
	if svcs := s.List("cip"); len(svcs) > 0 {
		keys = append(keys, "cip: {services: "+core.YAMLFlow(svcs)+"}")
	}
	if !slices.Contains(cmds, "register_session") &&
		(slices.Contains(cmds, "send_rr_data") || slices.Contains(cmds, "send_unit_data")) {
		notes = append(notes, "enip: no register_session seen (the capture began mid-session): a new session needs it; add it (and for send_unit_data, cip forward_open) before enforce")
	}
	return keys, notes
}
