package learn

import "testing"

// TestCopiesArrival: of the captures of one forwarded frame on several
// bridge ports, only the earliest counts as where it came in; captures
// stamped with the same time cannot be told apart, so neither counts.
func TestCopiesArrival(t *testing.T) {
	type capt struct {
		ts   int64
		port string
		in   bool
		undo string
	}
	frame := []byte("one forwarded frame")
	for _, tc := range []struct {
		name string
		seq  []capt
	}{
		{"in order", []capt{{1000, "vsup", true, ""}, {1005, "vctl", false, ""}}},
		{"copy written first", []capt{{1005, "vctl", true, ""}, {1000, "vsup", true, "vctl"}}},
		{"same time", []capt{{1000, "vctl", true, ""}, {1000, "vsup", false, "vctl"}}},
		{"same time, then a later copy", []capt{{1000, "vctl", true, ""}, {1000, "vsup", false, "vctl"}, {1003, "vops", false, ""}}},
		{"same time, then the earlier arrival", []capt{{1000, "vctl", true, ""}, {1000, "vops", false, "vctl"}, {990, "vsup", true, ""}}},
		{"far apart: two frames", []capt{{0, "vsup", true, ""}, {copyWindow + 1, "vctl", true, ""}}},
		{"same port: a resend", []capt{{1000, "vsup", true, ""}, {1001, "vsup", true, ""}}},
	} {
		var c copies
		for i, k := range tc.seq {
			in, undo := c.arrival(k.ts, frame, k.port)
			if in != k.in || undo != k.undo {
				t.Errorf("%s: capture %d (%s at %d): in %v undo %q, want %v %q", tc.name, i, k.port, k.ts, in, undo, k.in, k.undo)
			}
		}
	}
}
