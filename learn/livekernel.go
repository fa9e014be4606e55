package learn

import "github.com/conduit-ot/conduit/engine/packet"

// Counted adds to the service of the flow from src:sport to dst:dport
// what the kernel forwarded of it on its own (an inline daemon's fast
// path): packets and bytes in the flow's first direction ([0]) and the
// other ([1]), by ts (ns). Only counts: the kernel gives no timing, so the
// health figures keep what the packets before the offload showed. A flow
// whose service the matrix does not hold (it never saw a packet of it) is
// left out; Counted reports whether it was found.
func (lv *Live) Counted(k ServiceKey, srcPort uint16, packets, bytes [2]uint64, ts int64) bool {
	sh := &lv.shards[0]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	m := sh.l.m
	toServer, toClient := packets[0], packets[1]
	s := m.Lookup(k)
	if s == nil && (k.Proto == packet.ProtoTCP || k.Proto == packet.ProtoUDP) {
		// The matrix took the flow's destination for its client.
		s = m.Lookup(ServiceKey{Client: k.Server, Server: k.Client, Proto: k.Proto, Port: srcPort})
		toServer, toClient = toClient, toServer
	}
	if s == nil {
		return false
	}
	n := packets[0] + packets[1]
	m.Packets += n
	m.seen(ts)
	s.Packets += n
	s.Bytes += bytes[0] + bytes[1]
	s.ToServer += toServer
	s.ToClient += toClient
	s.seen(ts)
	return true
}
