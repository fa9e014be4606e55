package core

import "sort"

// Seen is what learn saw of the services of one protocol that a draft
// rule allows, for Protocol.Draft: every request type, by kind name and
// request name (the vocabulary's word, or a number), and the units seen.
type Seen struct {
	Funcs  map[string]map[string]uint64 // Kind name -> request name -> requests
	Units  Set256                       // units of the kinds with Units
	NUnits int                          // how many
}

// List returns the request names seen of a kind, sorted.
func (s *Seen) List(kind string) []string {
	var out []string
	for n := range s.Funcs[kind] {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
