package modbus

import (
	"fmt"
	"strings"

	"github.com/conduit-ot/conduit/proto/internal/core"
)

// maxUnitIDs: a drafted condition lists the unit ids seen while there are
// at most this many; beyond, the client is a gateway's and any unit goes.
const maxUnitIDs = 8

func draft(s *core.Seen) (keys, notes []string) {
	var fields []string
	if fns := s.List("modbus"); readOnlyNames(fns) {
		// The preset rather than the reads seen: it says what the
		// engineer checks for (this client cannot write), and an HMI's
		// poll list changes with its screens, so a read the capture
		// missed keeps working. The reads seen are in the evidence.
		fields = append(fields, "preset: read_only")
		notes = append(notes, "modbus: only reads seen: preset read_only (every read, no write)")
	} else {
		fields = append(fields, "functions: "+core.YAMLFlow(fns))
	}
	if s.NUnits <= maxUnitIDs {
		var us []string
		for u := range 256 {
			if s.Units.Has(uint8(u)) {
				us = append(us, fmt.Sprint(u))
			}
		}
		fields = append(fields, "unit_ids: "+core.YAMLFlow(us))
	}
	return []string{"modbus: {" + strings.Join(fields, ", ") + "}"}, notes
}

// annotate marks a read-only client in learn's evidence comment.
func annotate(_ string, names []string) string {
	if readOnlyNames(names) {
		return " (read-only)"
	}
	return ""
}
