package iec104

import (
	"sort"
	"strconv"
	"strings"

	"github.com/conduit-ot/conduit/proto/internal/core"
)

// maxCommonAddrs: a drafted condition lists the common addresses seen
// while there are at most this many; beyond, the client is a gateway's
// or a front end's and any address goes.
const maxCommonAddrs = 16

// draft lists the type ids and, while few, the common addresses seen, and
// points out process commands.
func draft(s *core.Seen) (keys, notes []string) {
	types := s.List("iec104")
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
	for a := range s.Funcs["iec104-common_address"] {
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
