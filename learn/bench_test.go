package learn

import (
	"bytes"
	"sync"
	"testing"

	"github.com/conduit-ot/conduit/capture/synth"
)

var benchCapture = sync.OnceValues(func() ([]byte, error) {
	var buf bytes.Buffer
	_, err := synth.Write(&buf, synth.Config{Seed: 1, Packets: 500_000})
	return buf.Bytes(), err
})

// BenchmarkLearnCapture learns a generated 500,000-frame plant capture
// (gencap's default plant, seed 1): the throughput of `conduit learn`
// without the draft.
func BenchmarkLearnCapture(b *testing.B) {
	data, err := benchCapture()
	if err != nil {
		b.Fatal(err)
	}
	var pkts uint64
	for b.Loop() {
		pkts = learnCapture(b, "bench", bytes.NewReader(data)).Packets
	}
	b.ReportMetric(float64(pkts)*float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
}
