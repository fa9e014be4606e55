package enip

import (
	"log/slog"
	"slices"

	"gopkg.in/yaml.v3"

	"github.com/conduit-ot/conduit/internal/ipproto"
	"github.com/conduit-ot/conduit/proto/internal/core"
)

// Info is EtherNet/IP's line of proto's table: the keys enip (the
// encapsulation) and cip (the requests it carries) make one condition.
var Info = core.Info{
	Key: "enip", Name: "EtherNet/IP", Keys: []string{"enip", "cip"}, Transports: []uint8{ipproto.TCP, ipproto.UDP}, Port: Port,
	Kinds:    []core.KindInfo{{Kind: KindCommand, Name: "enip"}, {Kind: KindCIP, Name: "cip", Uncounted: true}},
	Protocol: protocol{},
}

type protocol struct{ core.Sealed }

func (protocol) Decode(d core.Decoder, key string, n *yaml.Node, into core.Cond) core.Cond {
	c, _ := into.(*Cond)
	return decode(d, key, n, c)
}

func (protocol) Vocabulary() map[string][]string {
	return map[string][]string{
		"enip.commands": CommandNames(),
		"cip.services":  ServiceNames(),
		"cip.classes":   ClassNames(),
	}
}

func (protocol) NewInspector() core.Inspector { return &inspector{} }

func (protocol) Attrs(e *core.Event, as []slog.Attr) []slog.Attr { return attrs(e, as) }

func (protocol) RequestName(r *core.Judged) string {
	if r.Kind == KindCIP {
		return ServiceName(uint8(r.Code), r.Class)
	}
	return CommandName(r.Code)
}

func (protocol) Draft(s *core.Seen) (keys, notes []string) {
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

func (protocol) Annotate(string, []string) string { return "" }
