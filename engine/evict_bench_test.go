package engine

import (
	"encoding/binary"
	"testing"
)

// BenchmarkDecideAtCapacity: the first packet of a new flow in a full table
// (1024 flows, one worker), so every packet evicts: an allowed client's
// SYNs among established sessions, and a monitored zone's denied SYNs
// among established sessions (which they must not displace).
func BenchmarkDecideAtCapacity(b *testing.B) {
	for _, bc := range []struct {
		name     string
		src      string
		dport    uint16
		protects bool
	}{
		{"allowed-syn", hmi, 502, false},
		{"denied-syn-monitor", hist, 503, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			te := newTestEngine(b, pol{mode: "monitor", pickup: "true, capacity: 1024"}) // pol has no capacity field
			w := te.Worker(0)
			for i := range 512 { // established allowed sessions, half the table
				port := uint16(10000 + i)
				w.Decide(tcp(hmi, plc, port, 502, fSYN))
				w.Decide(tcp(plc, hmi, 502, port, fSYN|fACK))
				w.Decide(tcp(hmi, plc, port, 502, fACK))
			}
			pkt := tcp(bc.src, plc, 0, bc.dport, fSYN)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// A new source port and address every packet: a new flow.
				binary.BigEndian.PutUint16(pkt[20:], uint16(20000+i%40000))
				pkt[15] = byte(10 + i/40000%200)
				w.Decide(pkt)
				i++
			}
		})
	}
}
