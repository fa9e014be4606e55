package rules

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/conduit-ot/conduit/proto"
)

// maxDiagnostics bounds the error list on garbage input.
const maxDiagnostics = 100

// decoder walks a yaml.Node tree, collecting every problem it finds rather
// than stopping at the first, each with the node's line and column.
type decoder struct {
	file  string
	diags []Diagnostic
}

func (d *decoder) errAt(line, col int, format string, a ...any) {
	if len(d.diags) > maxDiagnostics {
		return
	}
	if len(d.diags) == maxDiagnostics {
		d.diags = append(d.diags, Diagnostic{File: d.file, Line: line, Col: col, Msg: "too many errors; fix these first"})
		return
	}
	if line < 1 {
		line, col = 1, 1
	}
	d.diags = append(d.diags, Diagnostic{File: d.file, Line: line, Col: col, Msg: fmt.Sprintf(format, a...)})
}

func (d *decoder) errf(n *yaml.Node, format string, a ...any) {
	d.errAt(n.Line, n.Column, format, a...)
}

// sortDiags returns the diagnostics in file order (stable for equal positions).
func sortDiags(ds []Diagnostic) []Diagnostic {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int { return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col)) })
	return ds
}

// describe names what a node is, for "must be X, not Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "empty"
		}
		return strconv.Quote(n.Value)
	}
	return "something else"
}

// field is one key: value pair of a mapping.
type field struct{ key, val *yaml.Node }

// fields checks that n is a mapping whose keys are all in allowed and
// unique, and returns them by name. ctx prefixes messages ("rule x: ").
func (d *decoder) fields(n *yaml.Node, ctx, what string, allowed []string) map[string]field {
	if n.Kind != yaml.MappingNode {
		d.errf(n, "%s%s must be a mapping (key: value lines), not %s", ctx, what, describe(n))
		return nil
	}
	out := make(map[string]field, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.errf(k, "%skeys must be plain words, not %s", ctx, describe(k))
			continue
		}
		if !slices.Contains(allowed, k.Value) {
			d.errf(k, "%sunknown key %q%s", ctx, k.Value, suggest(k.Value, allowed))
			continue
		}
		if prev, dup := out[k.Value]; dup {
			d.errf(k, "%s%s is set twice (first at line %d)", ctx, k.Value, prev.key.Line)
			continue
		}
		out[k.Value] = field{k, v}
	}
	return out
}

// suggest returns "; did you mean "x"?" for a near miss, else the list of
// allowed words.
func suggest(s string, allowed []string) string {
	best, bestD := "", 3
	for _, a := range allowed {
		if dd := editDistance(s, a); dd < bestD {
			best, bestD = a, dd
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	if len(allowed) > 12 {
		return ""
	}
	return " (expected one of: " + strings.Join(allowed, ", ") + ")"
}

// editDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and swaps of neighbours ("dprot" -> "dport") cost 1.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+c)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// scalar checks that n is a non-empty scalar.
func (d *decoder) scalar(n *yaml.Node, ctx, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errf(n, "%s%s must be a single value, not %s", ctx, key, describe(n))
		return "", false
	}
	if n.Tag == "!!null" || n.Value == "" {
		d.errf(n, "%s%s is empty", ctx, key)
		return "", false
	}
	return n.Value, true
}

// str accepts any scalar as text (descriptions, paths); empty is allowed.
func (d *decoder) str(n *yaml.Node, ctx, key string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errf(n, "%s%s must be text, not %s", ctx, key, describe(n))
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	return n.Value, true
}

// word checks that n is one of the allowed words.
func (d *decoder) word(n *yaml.Node, ctx, key string, allowed []string) (string, bool) {
	s, ok := d.scalar(n, ctx, key)
	if !ok {
		return "", false
	}
	if !slices.Contains(allowed, s) {
		d.errf(n, "%s%s must be %s, not %q", ctx, key, orList(allowed), s)
		return "", false
	}
	return s, true
}

func orList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

func (d *decoder) boolean(n *yaml.Node, ctx, key string) (bool, bool) {
	s, ok := d.scalar(n, ctx, key)
	if !ok {
		return false, false
	}
	if n.Tag == "!!bool" {
		if b, err := strconv.ParseBool(strings.ToLower(s)); err == nil {
			return b, true
		}
	}
	d.errf(n, "%s%s must be true or false, not %q", ctx, key, s)
	return false, false
}

// boolField sets *dst from the mapping's boolean key when it is present
// and valid: most keys of a mapping are plain flags.
func (d *decoder) boolField(f map[string]field, ctx, key string, dst *bool) {
	if v, ok := f[key]; ok {
		if b, ok := d.boolean(v.val, ctx, key); ok {
			*dst = b
		}
	}
}

// parseInt parses a YAML integer: decimal, or 0x/0o/0b prefixed.
func parseInt(s string) (int64, bool) { return proto.ParseInt(s) }

// integer checks that n is an integer within [lo, hi].
func (d *decoder) integer(n *yaml.Node, ctx, key string, lo, hi int64) (int64, bool) {
	s, ok := d.scalar(n, ctx, key)
	if !ok {
		return 0, false
	}
	v, ok := parseInt(s)
	if !ok || n.Tag != "!!int" && n.Tag != "!!str" {
		d.errf(n, "%s%s must be a whole number, not %q", ctx, key, s)
		return 0, false
	}
	if v < lo || v > hi {
		d.errf(n, "%s%s must be between %d and %d, not %d", ctx, key, lo, hi, v)
		return 0, false
	}
	return v, true
}

// items returns n's elements if it is a list, or n itself if it is a scalar.
func (d *decoder) items(n *yaml.Node, ctx, key string) ([]*yaml.Node, bool) {
	switch n.Kind {
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			d.errf(n, "%s%s is an empty list", ctx, key)
			return nil, false
		}
		return n.Content, true
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			d.errf(n, "%s%s is empty", ctx, key)
			return nil, false
		}
		return []*yaml.Node{n}, true
	}
	d.errf(n, "%s%s must be a value or a list of values, not %s", ctx, key, describe(n))
	return nil, false
}

// checkTree reports the first anchor, the first alias and nesting deeper
// than any policy needs, without following aliases: a billion-laughs
// document is refused in time proportional to its size.
func (d *decoder) checkTree(n *yaml.Node, depth int, seen *[2]bool) {
	if n.Kind == yaml.AliasNode {
		if !seen[1] {
			d.errf(n, "aliases (*%s) are not allowed in a policy; write the value out", n.Value)
			seen[1] = true
		}
		return
	}
	if n.Anchor != "" && !seen[0] {
		d.errf(n, "anchors (&%s) are not allowed in a policy; write values out where they are used", n.Anchor)
		seen[0] = true
	}
	if depth > maxDepth {
		d.errf(n, "nesting is too deep (more than %d levels)", maxDepth)
		return
	}
	for _, c := range n.Content {
		d.checkTree(c, depth+1, seen)
		if depth+1 > maxDepth {
			return // one report per over-deep node is enough
		}
	}
}

// maxDepth is well above the deepest valid policy (document, top mapping,
// rules list, rule, modbus mapping, functions list, value).
const maxDepth = 16
