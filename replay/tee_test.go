package replay

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/conduit-ot/conduit/engine"
)

type countHandler struct{ events map[string]int }

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *countHandler) WithGroup(string) slog.Handler            { return h }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "event" {
			h.events[a.Value.String()]++
		}
		return true
	})
	return nil
}

// TestHandler: a Handler sees every event line --events writes, with or
// without them, and OnRequest sees the requests the rules counted.
func TestHandler(t *testing.T) {
	p := loadPolicy(t, filepath.Join(testdata, "plant.yaml"))
	pcap := filepath.Join(testdata, "plant.pcap")
	_, lines, _ := run(t, p, pcap)
	want := map[string]int{}
	for _, l := range lines {
		want[l["event"].(string)]++
	}
	for _, withEvents := range []bool{false, true} {
		h := &countHandler{events: map[string]int{}}
		counted := 0
		cfg := Config{Policy: p, Handler: h, OnRequest: func(r engine.RequestSeen) {
			if r.Counted {
				counted++
			}
		}}
		var ev bytes.Buffer
		if withEvents {
			cfg.Events = &ev
		}
		r := New(cfg)
		if err := r.Open(pcap); err != nil {
			t.Fatal(err)
		}
		res, err := r.Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(h.events) != len(want) || want["verdict"] == 0 {
			t.Errorf("events %v; --events wrote %v", h.events, want)
		}
		for k, n := range want {
			if h.events[k] != n {
				t.Errorf("events=%v: %s seen %d times; --events wrote %d", withEvents, k, h.events[k], n)
			}
		}
		if withEvents && bytes.Count(ev.Bytes(), []byte("\n")) != len(lines) {
			t.Errorf("--events beside the handler wrote %d lines; alone %d", bytes.Count(ev.Bytes(), []byte("\n")), len(lines))
		}
		var requests uint64
		for _, h := range res.Rules {
			requests += h.Requests
		}
		if uint64(counted) != requests {
			t.Errorf("OnRequest saw %d counted requests; the rules counted %d", counted, requests)
		}
	}
}
