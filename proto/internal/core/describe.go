package core

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Listed is the Section of a condition under key whose fields are lists
// of the policy's words, names[i] listing values[i]: check --json shows
// the fields that have values, in order ({"functions":["read"]}), the
// summary line each field's values joined by commas (TextLine). It spares
// each protocol a JSON struct and a TextLine call that repeat its field
// names.
func Listed(key string, names []string, values ...[]string) Section {
	if len(names) != len(values) {
		panic("core: Listed " + key + ": " + strconv.Itoa(len(names)) + " names, " + strconv.Itoa(len(values)) + " lists")
	}
	fields := make([]string, 0, 2*len(names))
	for i, n := range names {
		fields = append(fields, n, strings.Join(values[i], ","))
	}
	return Section{Key: key, JSON: listedJSON{names, values}, Text: TextLine(key, fields...)}
}

// listedJSON is Listed's JSON object: the fields in order, empty ones left
// out, as a struct with omitempty tags would write them.
type listedJSON struct {
	names  []string
	values [][]string
}

func (l listedJSON) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, n := range l.names {
		if len(l.values[i]) == 0 {
			continue
		}
		if len(b) > 1 {
			b = append(b, ',')
		}
		k, _ := json.Marshal(n)
		v, err := json.Marshal(l.values[i])
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}
