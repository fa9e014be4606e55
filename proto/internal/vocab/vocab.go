// Package vocab looks up protocol vocabularies kept as tables indexed by
// code (function codes and the like), shared by the protocol parsers.
package vocab

import "sort"

// Code returns the code whose name is name. "" is never a name.
func Code(table []string, name string) (uint8, bool) {
	if name == "" {
		return 0, false
	}
	for code, n := range table {
		if n == name {
			return uint8(code), true
		}
	}
	return 0, false
}

// Names lists the table's names, sorted.
func Names(table []string) []string {
	var out []string
	for _, n := range table {
		if n != "" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
