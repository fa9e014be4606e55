// Package planttest gives tests a network-namespace plant that is torn
// down when the test ends. It is apart from internal/plant so that the
// binaries that build plants (cmd/demo, cmd/plant) do not link testing.
package planttest

import (
	"testing"

	"github.com/conduit-ot/conduit/internal/plant"
)

// New builds a plant with a unique prefix for t and tears it down when
// t ends. It skips t when plants cannot be built here.
func New(t testing.TB) *plant.Plant {
	t.Helper()
	if why := plant.Available(); why != "" {
		t.Skip(why)
	}
	p, err := plant.Up(plant.UniquePrefix("t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Down(); err != nil {
			t.Errorf("plant down: %v", err)
		}
	})
	return p
}
