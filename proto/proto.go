// Package proto is the table of the industrial protocols conduit parses.
// Each protocol has one folder below it (proto/modbus, proto/dnp3,
// proto/enip, proto/s7) holding everything about it: its wire parser and
// vocabulary, its rule condition (decode, check, rendering), its stream
// adapter (framing, reassembly), its verdict-line fields and what learn
// drafts from what it saw. This package indexes them by ID, so the
// policy decoder, the engine's inspection, learn and check work through
// the table and never name a protocol. The table is an array indexed by
// ID: a lookup is an index, a call an interface call, no map and no
// allocation.
//
// The contract the protocols implement lives in proto/internal/core and
// is re-exported here (types.go); see the README's "Adding a protocol".
package proto

import (
	"strconv"

	"github.com/conduit-ot/conduit/internal/ipproto"
	"github.com/conduit-ot/conduit/proto/dnp3"
	"github.com/conduit-ot/conduit/proto/enip"
	"github.com/conduit-ot/conduit/proto/iec104"
	"github.com/conduit-ot/conduit/proto/internal/core"
	"github.com/conduit-ot/conduit/proto/modbus"
	"github.com/conduit-ot/conduit/proto/opcua"
	"github.com/conduit-ot/conduit/proto/s7"
)

// ID is an industrial protocol a rule's flows are parsed as. The zero
// value, None, is no protocol.
type ID uint8

const (
	None   ID = iota
	Modbus    // Modbus/TCP
	DNP3      // DNP3 over TCP or UDP
	ENIP      // EtherNet/IP and the CIP it carries (keys enip and cip)
	S7        // S7comm over ISO-on-TCP
	OPCUA     // OPC UA binary over TCP (UA TCP, secure conversation)
	IEC104    // IEC 60870-5-104
	// Count is one past the last protocol: the table's length.
	Count
)

// IP protocol numbers of the transports a protocol runs on.
const (
	TCP uint8 = ipproto.TCP
	UDP uint8 = ipproto.UDP
)

// Table holds each protocol's Info (and implementation) at its ID;
// Table[None] is empty. Adding a protocol is its folder, its ID above and
// its line here.
var Table = [Count]Info{
	Modbus: modbus.Info,
	DNP3:   dnp3.Info,
	ENIP:   enip.Info,
	S7:     s7.Info,
	OPCUA:  opcua.Info,
	IEC104: iec104.Info,
}

func init() {
	for _, id := range all {
		for _, k := range Table[id].Kinds {
			if k.Kind == Unparsed || core.Kinds[k.Kind].Name != "" {
				panic("proto: " + id.String() + " reports kind " + k.Kind.String() + ", which is taken")
			}
			core.Kinds[k.Kind] = k
			kindProto[k.Kind] = id
			if k.Uncounted {
				kindFlags[k.Kind] |= flagUncounted
			}
			if k.Units {
				kindFlags[k.Kind] |= flagUnits
			}
		}
		for _, f := range Table[id].Failures {
			if core.FailureNames[f.Failure] != "" || f.Failure == Pass {
				panic("proto: " + id.String() + " names failure " + f.Failure.String() + ", which is taken")
			}
			core.FailureNames[f.Failure] = f.Name
		}
	}
}

// kindProto is the protocol owning each Kind; kindFlags, compact for the
// packet path, its KindInfo's Uncounted and Units.
var (
	kindProto [256]ID
	kindFlags [256]uint8
)

// The bits of KindBits.
const (
	flagUncounted = 1 << iota
	flagUnits
	KindUncounted = flagUncounted // KindInfo.Uncounted
	KindUnits     = flagUnits     // KindInfo.Units
)

// KindBits is k's KindUncounted and KindUnits, one load for the packet
// path.
func KindBits(k Kind) uint8 { return kindFlags[k] }

// Uncounted reports KindInfo.Uncounted of k: the rule counts the request
// carrying it.
func Uncounted(k Kind) bool { return kindFlags[k]&flagUncounted != 0 }

// HasUnits reports KindInfo.Units of k: its requests' units are recorded.
func HasUnits(k Kind) bool { return kindFlags[k]&flagUnits != 0 }

// KindOf returns the protocol owning a request kind and the kind's
// description (None for Unparsed or a kind no protocol owns).
func KindOf(k Kind) (ID, *KindInfo) { return kindProto[k], &core.Kinds[k] }

// RequestName names a judged request as its condition lists it: the
// vocabulary's word, or the number where the vocabulary has none;
// "" for Unparsed.
func RequestName(r *Judged) string {
	id := kindProto[r.Kind]
	if id == None {
		return ""
	}
	if n := Table[id].RequestName(r); n != "" {
		return n
	}
	return strconv.Itoa(int(r.Code))
}

// Vocabulary lists the valid names of every protocol condition field,
// keyed "modbus.functions", "cip.services", ...
func Vocabulary() map[string][]string {
	out := map[string][]string{}
	for _, id := range all {
		if Table[id].Protocol == nil {
			continue
		}
		for k, v := range Table[id].Vocabulary() {
			out[k] = v
		}
	}
	return out
}

// All lists the protocols in table order, None excluded.
func All() []ID { return all[:] }

var all = func() (ids [Count - 1]ID) {
	for i := range ids {
		ids[i] = ID(i + 1)
	}
	return ids
}()

// Names lists the protocols' names for prose: "Modbus, DNP3, EtherNet/IP
// and S7".
func Names() string {
	var s string
	for i, id := range all {
		switch {
		case i == 0:
		case i == len(all)-1:
			s += " and "
		default:
			s += ", "
		}
		s += Table[id].Name
	}
	return s
}

// String returns the protocol's policy key.
func (id ID) String() string {
	if id < Count {
		return Table[id].Key
	}
	return "app(" + strconv.Itoa(int(id)) + ")"
}

// Runs reports whether the protocol's condition may be used on transport
// l4 (an IP protocol number).
func (id ID) Runs(l4 uint8) bool {
	if id >= Count {
		return false
	}
	for _, t := range Table[id].Transports {
		if t == l4 {
			return true
		}
	}
	return false
}

// ByPort returns the protocol served on its well-known port on transport
// l4, or None.
func ByPort(l4 uint8, port uint16) ID {
	for _, id := range all {
		if Table[id].Port == port && id.Runs(l4) {
			return id
		}
	}
	return None
}

// ByKey returns the protocol a rule condition key selects, or None.
func ByKey(key string) ID {
	for _, id := range all {
		for _, k := range Table[id].Keys {
			if k == key {
				return id
			}
		}
	}
	return None
}
