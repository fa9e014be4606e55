package replay

import (
	"io"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/capture/synth"
	"github.com/conduit-ot/conduit/rules"
)

// benchCapture writes the 1,000,000-frame plant capture of cmd/gencap into
// a temporary directory.
func benchCapture(b *testing.B) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "plant-1m.pcap")
	if _, err := synth.WriteFile(path, synth.Config{Packets: 1_000_000, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkReplay replays a 1,000,000-frame mixed OT capture (read from
// the file, decided by the engine) on one goroutine and reports packets per
// second; the target is 1,000,000/s on one core. Run it with -cpu 1.
func BenchmarkReplay(b *testing.B) {
	path := benchCapture(b)
	plant, err := rules.Load(filepath.Join(testdata, "plant.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"monitor", "enforce", "monitor+events"} {
		b.Run(mode, func(b *testing.B) {
			p := *plant
			m, events := mode, io.Writer(nil)
			if mode == "monitor+events" {
				m, events = "monitor", io.Discard
			}
			p.Mode, _ = rules.ParseMode(m)
			var packets uint64
			runtime.GC()
			for b.Loop() {
				r := New(Config{Policy: &p, Events: events})
				if err := r.Open(path); err != nil {
					b.Fatal(err)
				}
				res, _ := r.Result()
				packets += res.Packets
			}
			b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "pkts/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(packets), "ns/pkt")
		})
	}
	// The floor: reading the capture alone.
	b.Run("read-only", func(b *testing.B) {
		var packets uint64
		for b.Loop() {
			r, err := capture.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			var p capture.Packet
			for r.Next(&p) != io.EOF {
				packets++
			}
			r.Close()
		}
		b.ReportMetric(float64(packets)/b.Elapsed().Seconds(), "pkts/s")
	})
}
