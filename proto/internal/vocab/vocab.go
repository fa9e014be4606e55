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

// MapCode returns the code whose name is name in a vocabulary kept as a
// map (sparse codes: ENIP commands, CIP classes, S7 functions). "" is never
// a name.
func MapCode[K comparable](m map[K]string, name string) (K, bool) {
	if name != "" {
		for code, n := range m {
			if n == name {
				return code, true
			}
		}
	}
	var zero K
	return zero, false
}

// MapNames lists a map vocabulary's names, sorted.
func MapNames[K comparable](m map[K]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}
