package core

import (
	"encoding/json"
	"testing"
)

// Listed writes what a struct of omitempty lists wrote: the fields with
// values, in order, and the summary line of TextLine.
func TestListed(t *testing.T) {
	for _, tc := range []struct {
		values     [][]string
		json, text string
	}{
		{[][]string{nil, {}}, `{}`, "k: {}"},
		{[][]string{{"read", "<w&>"}, nil}, `{"functions":["read","\u003cw\u0026\u003e"]}`, "k: functions read,<w&>"},
		{[][]string{{"1-9"}, {"x"}}, `{"functions":["1-9"],"units":["x"]}`, "k: functions 1-9; units x"},
	} {
		s := Listed("k", []string{"functions", "units"}, tc.values...)
		j, err := json.Marshal(s.JSON)
		if err != nil || string(j) != tc.json || s.Text != tc.text || s.Key != "k" {
			t.Errorf("%v: %s %v %q, want %s %q", tc.values, j, err, s.Text, tc.json, tc.text)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Listed took two names for one list")
		}
	}()
	Listed("k", []string{"a", "b"}, nil)
}
