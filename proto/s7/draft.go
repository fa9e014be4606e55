package s7

import (
	"slices"
	"sort"
	"strings"

	"github.com/conduit-ot/conduit/proto/internal/core"
)

// draft lists the functions seen, setup_communication always among them,
// and the userdata groups.
func draft(s *core.Seen) (keys, notes []string) {
	var fields []string
	fns := s.List("s7")
	if !slices.Contains(fns, "setup_communication") {
		// Every S7 session opens with it: without it no new session
		// gets anywhere (conduit check warns about that).
		fns = append(fns, "setup_communication")
		sort.Strings(fns)
		notes = append(notes, "s7: setup_communication added: every session opens with it (the capture began mid-session)")
	}
	fields = append(fields, "functions: "+core.YAMLFlow(fns))
	if gs := s.List("s7-userdata"); len(gs) > 0 {
		fields = append(fields, "userdata_groups: "+core.YAMLFlow(gs))
	}
	return []string{"s7: {" + strings.Join(fields, ", ") + "}"}, notes
}
