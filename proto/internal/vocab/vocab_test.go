package vocab

import (
	"slices"
	"testing"
)

func TestCodeAndNames(t *testing.T) {
	table := []string{"", "read", "", "write"}
	for _, tc := range []struct {
		name string
		code uint8
		ok   bool
	}{{"read", 1, true}, {"write", 3, true}, {"", 0, false}, {"erase", 0, false}} {
		if code, ok := Code(table, tc.name); code != tc.code || ok != tc.ok {
			t.Errorf("Code(%q) = %d, %v; want %d, %v", tc.name, code, ok, tc.code, tc.ok)
		}
	}
	if got := Names(table); !slices.Equal(got, []string{"read", "write"}) {
		t.Errorf("Names = %v", got)
	}
}
