package iec104

import (
	"log/slog"
	"sort"
	"strconv"
	"strings"

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
	Protocol: protocol{},
}

type protocol struct{ core.Sealed }

func (protocol) Decode(d core.Decoder, _ string, n *yaml.Node, _ core.Cond) core.Cond {
	return decode(d, n)
}

func (protocol) Vocabulary() map[string][]string {
	return map[string][]string{
		"iec104.type_ids": TypeNames(),
		"iec104.causes":   CauseNames(),
	}
}

func (protocol) NewInspector() core.Inspector { return &inspector{} }

func (protocol) Attrs(e *core.Event, as []slog.Attr) []slog.Attr { return attrs(e, as) }

// RequestName names a type id by the standard's name; a private or
// reserved type, and a common address, by number.
func (protocol) RequestName(r *core.Judged) string {
	if r.Kind == KindRequest && r.Code < 256 {
		return TypeName(uint8(r.Code))
	}
	return ""
}

// maxCommonAddrs: a drafted condition lists the common addresses seen
// while there are at most this many; beyond, the client is a gateway's
// or a front end's and any address goes.
const maxCommonAddrs = 16

func (protocol) Draft(s *core.Seen) (keys, notes []string) {
	types := s.List(Info.Kinds[0].Name)
	fields := []string{"type_ids: " + core.YAMLFlow(types)}
	var cmds []string
	for _, t := range types {
		if c, ok := TypeCode(t); ok && c >= C_SC_NA_1 && c <= C_BO_TA_1 {
			cmds = append(cmds, t)
		}
	}
	if len(cmds) > 0 {
		notes = append(notes, "iec104: the client sent process commands ("+strings.Join(cmds, ", ")+
			"): keep them only if this station is meant to operate the plant")
	}
	var addrs []int
	for a := range s.Funcs[Info.Kinds[1].Name] {
		if v, err := strconv.Atoi(a); err == nil {
			addrs = append(addrs, v)
		}
	}
	sort.Ints(addrs)
	switch {
	case len(addrs) > 0 && len(addrs) <= maxCommonAddrs:
		as := make([]string, len(addrs))
		for i, a := range addrs {
			as[i] = strconv.Itoa(a)
		}
		fields = append(fields, "common_addresses: "+core.YAMLFlow(as))
	case len(addrs) > maxCommonAddrs:
		notes = append(notes, "iec104: "+strconv.Itoa(len(addrs))+" common addresses seen: any address allowed")
	}
	return []string{"iec104: {" + strings.Join(fields, ", ") + "}"}, notes
}

func (protocol) Annotate(string, []string) string { return "" }
