package engine

import "testing"

// BenchmarkDecideWouldDrop times the packets the policy refuses, the path
// the zone-pair counters add to: a denied flow tracked in monitor, and a
// denied flow's retransmissions in enforce (not tracked).
func BenchmarkDecideWouldDrop(b *testing.B) {
	b.Run("monitor/denied-established", func(b *testing.B) {
		te := newTestEngine(b, pol{mode: "monitor"})
		w := te.Worker(0)
		w.Decide(tcp(hist, plc, 40000, 9999, fSYN))
		pkt := tcp(hist, plc, 40000, 9999, fACK|fPSH)
		b.ReportAllocs()
		for b.Loop() {
			w.Decide(pkt)
		}
	})
	b.Run("enforce/denied-again", func(b *testing.B) {
		te := newTestEngine(b, pol{mode: "enforce"})
		w := te.Worker(0)
		pkt := tcp(hist, plc, 40000, 9999, fSYN)
		w.Decide(pkt)
		b.ReportAllocs()
		for b.Loop() {
			w.Decide(pkt)
		}
	})
}
