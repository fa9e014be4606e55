package report

import (
	"io"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/capture/synth"
	"github.com/conduit-ot/conduit/replay"
)

// BenchmarkReportVsReplay times, side by side on the 1,000,000-frame plant
// capture of cmd/gencap, `conduit replay` (the engine alone) and `conduit
// report` (the same replay with the collector, then the model and the
// page), and reports the ratio of the best runs; the target is under 2.
// Run it with -benchtime 5x.
func BenchmarkReportVsReplay(b *testing.B) {
	path := filepath.Join(b.TempDir(), "plant-1m.pcap")
	if _, err := synth.WriteFile(path, synth.Config{Packets: 1_000_000, Seed: 1}); err != nil {
		b.Fatal(err)
	}
	pol, _ := plant(b)

	// The machine is shared: each side's best run is the one least
	// disturbed, and the two alternate so that both see the same load.
	replayT, reportT := time.Duration(1<<62), time.Duration(1<<62)
	var packets uint64
	var rows int
	for b.Loop() {
		runtime.GC()
		t0 := time.Now()
		r := replay.New(replay.Config{Policy: pol})
		if err := r.Open(path); err != nil {
			b.Fatal(err)
		}
		res, _ := r.Result()
		replayT = min(replayT, time.Since(t0))

		runtime.GC()
		t1 := time.Now()
		ev, rep := offlineReport(b, pol, path)
		res2 := ev.Result
		if err := Render(io.Discard, rep); err != nil {
			b.Fatal(err)
		}
		reportT = min(reportT, time.Since(t1))
		if res.Packets != res2.Packets {
			b.Fatalf("replay %d packets, report %d", res.Packets, res2.Packets)
		}
		packets, rows = res.Packets, rep.RowCount()
	}
	ratio := float64(reportT) / float64(replayT)
	b.ReportMetric(float64(replayT.Nanoseconds())/1e6, "replay-ms")
	b.ReportMetric(float64(reportT.Nanoseconds())/1e6, "report-ms")
	b.ReportMetric(ratio, "report/replay")
	b.ReportMetric(float64(rows), "rows")
	b.Logf("%d packets: replay %v, report %v, best of %d (%.2fx)", packets, replayT, reportT, b.N, ratio)
	if ratio >= 2 {
		b.Errorf("report takes %.2fx the time of replay; the target is under 2x", ratio)
	}
}
