package s7

import (
	"testing"

	"github.com/conduit-ot/conduit/internal/pcaptest"
)

// capSegment is one non-empty TCP or UDP payload of a capture.
type capSegment struct {
	frame            int
	srcPort, dstPort uint16
	data             []byte
}

// captureDir returns the real-capture directory, or "" when it is absent.
func captureDir() string {
	dir, ok := pcaptest.Lookup()
	if !ok {
		return ""
	}
	return dir
}

// captureSegments returns the non-empty TCP/UDP payloads of a capture file
// that have port at either end.
func captureSegments(tb testing.TB, path string, port uint16) []capSegment {
	tb.Helper()
	segs, err := pcaptest.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var out []capSegment
	for _, s := range segs {
		if len(s.Payload) > 0 && (s.Src.Port() == port || s.Dst.Port() == port) {
			out = append(out, capSegment{s.Frame, s.Src.Port(), s.Dst.Port(), s.Payload})
		}
	}
	return out
}
