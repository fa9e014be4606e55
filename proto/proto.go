// Package proto is the table of the industrial protocols conduit parses.
// Each protocol has one folder below it (proto/modbus, proto/dnp3,
// proto/enip, proto/s7) holding its wire parser and vocabulary; this
// package indexes them by ID, so the policy decoder, learn and the other
// consumers ask the table for a protocol's policy keys, transports and
// default port instead of naming the protocol. The table is an array
// indexed by ID: a lookup is an index, no map and no allocation.
package proto

import (
	"strconv"

	"github.com/conduit-ot/conduit/internal/ipproto"
	"github.com/conduit-ot/conduit/proto/dnp3"
	"github.com/conduit-ot/conduit/proto/enip"
	"github.com/conduit-ot/conduit/proto/modbus"
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
	// Count is one past the last protocol: the table's length.
	Count
)

// IP protocol numbers of the transports a protocol runs on.
const (
	TCP uint8 = ipproto.TCP
	UDP uint8 = ipproto.UDP
)

// Info is what conduit knows of a protocol without naming it.
type Info struct {
	// Key is the protocol's policy key and its name in logs ("enip" for
	// enip and cip together).
	Key string
	// Keys are the rule condition keys that select the protocol, in the
	// order the policy reference lists them.
	Keys []string
	// Transports are the IP protocols its condition may be used with.
	Transports []uint8
	// Port is its well-known server port.
	Port uint16
}

// Table holds each protocol's Info at its ID; Table[None] is empty.
var Table = [Count]Info{
	Modbus: {Key: "modbus", Keys: []string{"modbus"}, Transports: []uint8{TCP}, Port: modbus.Port},
	DNP3:   {Key: "dnp3", Keys: []string{"dnp3"}, Transports: []uint8{TCP, UDP}, Port: dnp3.Port},
	ENIP:   {Key: "enip", Keys: []string{"enip", "cip"}, Transports: []uint8{TCP, UDP}, Port: enip.Port},
	S7:     {Key: "s7", Keys: []string{"s7"}, Transports: []uint8{TCP}, Port: s7.Port},
}

// All lists the protocols in table order, None excluded.
func All() []ID { return all[:] }

var all = [Count - 1]ID{Modbus, DNP3, ENIP, S7}

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
