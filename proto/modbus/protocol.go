package modbus

import (
	"fmt"
	"log/slog"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/conduit-ot/conduit/internal/ipproto"
	"github.com/conduit-ot/conduit/proto/internal/core"
)

// Info is Modbus/TCP's line of proto's table.
var Info = core.Info{
	Key: "modbus", Name: "Modbus", Keys: []string{"modbus"}, Transports: []uint8{ipproto.TCP}, Port: Port,
	Kinds:    []core.KindInfo{{Kind: KindRequest, Name: "modbus", Units: true}},
	Protocol: protocol{},
}

type protocol struct{ core.Sealed }

func (protocol) Decode(d core.Decoder, _ string, n *yaml.Node, _ core.Cond) core.Cond {
	return decode(d, n)
}

func (protocol) Vocabulary() map[string][]string {
	return map[string][]string{
		"modbus.functions": FunctionNames(),
		"modbus.preset":    append([]string(nil), presetWords...),
	}
}

func (protocol) NewInspector() core.Inspector { return &inspector{} }

func (protocol) Attrs(e *core.Event, as []slog.Attr) []slog.Attr { return attrs(e, as) }

// RequestName: function 43 with an MEI type other than
// read_device_identification's has no name; a condition lists it by
// number.
func (protocol) RequestName(r *core.Judged) string {
	if r.Code == EncapsulatedInterface && r.MEI != MEIReadDeviceIdentification {
		return ""
	}
	return FunctionName(uint8(r.Code))
}

// maxUnitIDs: a drafted condition lists the unit ids seen while there are
// at most this many; beyond, the client is a gateway's and any unit goes.
const maxUnitIDs = 8

func (protocol) Draft(s *core.Seen) (keys, notes []string) {
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

func (protocol) Annotate(_ string, names []string) string {
	if readOnlyNames(names) {
		return " (read-only)"
	}
	return ""
}
