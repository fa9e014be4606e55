package report

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/replay"
	"github.com/conduit-ot/conduit/rules"
)

// Evidence is what an offline replay gives: the input for Build, replay's
// result, and the engine (its coverage and flows, for annotators).
type Evidence struct {
	Input  Input
	Result replay.Result
	Engine *engine.Engine
}

// Offline replays the captures, in the order given, through the engine of
// package replay (exactly what `conduit replay` runs) and returns the
// evidence for Build with replay's result. A capture that could not be
// read to its end is reported in the error; what was read counts.
func Offline(pol *rules.Policy, paths []string) (Evidence, error) {
	c := NewCollector()
	r := replay.New(replay.Config{Policy: pol, Handler: c, OnRequest: c.OnRequest})
	errs := r.OpenAll(paths)
	res, err := r.Result()
	if err != nil {
		errs = append(errs, err)
	}
	c.Finish(r.Engine())
	in := Input{
		Totals: Totals{Packets: res.Packets, Flows: res.Flows, Malformed: res.Malformed,
			Accepted: res.Verdicts.Accept, Dropped: res.Verdicts.Drop, WouldDrop: res.WouldDrop, Spoofed: c.Spoofed},
		Rules: res.Rules,
		Rows:  c.Rows(),
	}
	names := make([]string, 0, len(res.Captures))
	for _, f := range res.Captures {
		names = append(names, fmt.Sprintf("%s (%s, %d packets)", filepath.Base(f.Name), f.Format, f.Packets))
		if f.First != nil && (in.First == nil || f.First.Before(*in.First)) {
			in.First = f.First
		}
		if f.Last != nil && (in.Last == nil || f.Last.After(*in.Last)) {
			in.Last = f.Last
		}
		if f.Error != "" {
			in.Notes = append(in.Notes, fmt.Sprintf("%s: reading stopped: %s", f.Name, f.Error))
		}
	}
	in.Source = "replay of " + strings.Join(names, ", ")
	enforce := pol.Mode == rules.ModeEnforce
	for _, c := range pol.Conduits {
		enforce = enforce || c.Mode == rules.ModeEnforce
	}
	if enforce {
		in.Notes = append(in.Notes, "In enforce, a denied flow the engine does not track counts one packet per logged line (once per 10 s); the rule counters are exact.")
	}
	return Evidence{Input: in, Result: res, Engine: r.Engine()}, errors.Join(errs...)
}
