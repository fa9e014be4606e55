package engine

import "testing"

// BenchmarkDecideWouldDrop times the packets the policy refuses, the path
// the zone-pair counters add to: a denied flow tracked in monitor, and a
// denied flow's retransmissions in enforce (not tracked).
func BenchmarkDecideWouldDrop(b *testing.B) {
	b.Run("monitor/denied-established", func(b *testing.B) {
		benchDecide(b, "monitor", tcp(hist, plc, 40000, 9999, fSYN), tcp(hist, plc, 40000, 9999, fACK|fPSH))
	})
	b.Run("enforce/denied-again", func(b *testing.B) {
		pkt := tcp(hist, plc, 40000, 9999, fSYN)
		benchDecide(b, "enforce", pkt, pkt)
	})
}
