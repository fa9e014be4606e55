package core

import (
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Cond is a rule's condition of one protocol, as decoded and built by its
// Protocol.Decode.
type Cond interface {
	// String renders the condition the way it could be written in the
	// policy ("modbus: {functions: read_coils}").
	String() string
	// Describe renders it under each policy key it was written with, in
	// the policy's vocabulary (conduit check).
	Describe() []Section
	// Lint returns warnings about the condition ("s7 functions lack
	// setup_communication, ...").
	Lint() []string
	// Build prepares the condition for its checks once all its keys are
	// decoded (the policy's compile calls it, also for a condition made in
	// code); it may run again, deriving anew all it sets.
	Build()
	sealed()
}

// Section is a condition under one policy key, as conduit check shows it.
type Section struct {
	Key  string // "modbus", "cip", ...
	JSON any    // check --json's object under Key
	Text string // the summary's line: "modbus: functions read_coils; unit_ids 1"
}

// TextLine renders a summary line of key from name, value pairs, leaving
// out empty values: "modbus: functions read_coils,write_coil; unit_ids 1".
// With no value it is "key: {}" (only well-formed traffic of the protocol).
func TextLine(key string, fields ...string) string {
	var parts []string
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] != "" {
			parts = append(parts, fields[i]+" "+fields[i+1])
		}
	}
	if len(parts) == 0 {
		return key + ": {}"
	}
	return key + ": " + strings.Join(parts, "; ")
}

// Braced renders a condition key the way the policy writes it from name,
// value pairs, leaving out empty values: "dnp3: {functions: read,
// sources: 1}".
func Braced(key string, fields ...string) string {
	var parts []string
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] != "" {
			parts = append(parts, fields[i]+": "+fields[i+1])
		}
	}
	return key + ": {" + strings.Join(parts, ", ") + "}"
}

// Scalars calls each with every scalar item (and its text) of the list
// under f[name], if present; key names it in messages.
func Scalars(d Decoder, f map[string]Field, name, key string, each func(it *yaml.Node, s string)) {
	v, ok := f[name]
	if !ok {
		return
	}
	items, _ := d.Items(v.Val, key)
	for _, it := range items {
		if s, ok := d.Scalar(it, key); ok {
			each(it, s)
		}
	}
}

// Field is one key: value pair of a YAML mapping.
type Field struct{ Key, Val *yaml.Node }

// Decoder is what the policy decoder offers a condition decoder. Every
// problem is reported (with the node's line:col, prefixed by the rule it
// is in) and decoding goes on, so that one check lists them all. key
// arguments name the field in messages ("modbus.unit_ids").
type Decoder interface {
	// Errf reports a problem at n.
	Errf(n *yaml.Node, format string, a ...any)
	// Cond checks the mapping of a condition key ({} allowed: only
	// well-formed traffic) and returns its fields by name.
	Cond(n *yaml.Node, key string, allowed []string) map[string]Field
	// Fields checks a nested mapping.
	Fields(n *yaml.Node, key string, allowed []string) map[string]Field
	// Items returns the items of a list, or the scalar as a list of one.
	Items(n *yaml.Node, key string) ([]*yaml.Node, bool)
	// Scalar returns a scalar's text.
	Scalar(n *yaml.Node, key string) (string, bool)
	// Word returns a scalar that must be one of words.
	Word(n *yaml.Node, key string, words []string) (string, bool)
	// Codes decodes a name or number of voc, or a list of them, calling
	// add for each.
	Codes(n *yaml.Node, key string, voc *Vocab, add func(code int64, byName bool))
	// Number accepts s (of n) as a number within voc's range; anything
	// else is reported as an unknown name, with the valid ones.
	Number(n *yaml.Node, s, key string, voc *Vocab) (int64, bool)
	// UnknownName reports s as outside voc.
	UnknownName(n *yaml.Node, s, key string, voc *Vocab)
	// Range decodes a number or "a-b" within [0, max].
	Range(n *yaml.Node, key string, max int64) (Range, bool)
	// Ranges decodes a list of them.
	Ranges(n *yaml.Node, key string, max int64) []Range
}

// Vocab is a field whose values are protocol names or numbers.
type Vocab struct {
	What     string // "modbus function"
	Min, Max int64
	Names    func() []string
	Code     func(string) (int64, bool) // nil: names are looked up otherwise
}

// CodeOf adapts a vocabulary's name lookup to Vocab.Code.
func CodeOf[T uint8 | uint16 | uint32](code func(string) (T, bool)) func(string) (int64, bool) {
	return func(s string) (int64, bool) {
		c, ok := code(s)
		return int64(c), ok
	}
}

// Codes decodes the codes of field name of f, if present, as T (voc.Max
// fits it); key names the field in errors.
func Codes[T uint8 | uint16 | uint32](d Decoder, f map[string]Field, name, key string, voc *Vocab) []T {
	v, ok := f[name]
	if !ok {
		return nil
	}
	var out []T
	d.Codes(v.Val, key, voc, func(code int64, _ bool) { out = append(out, T(code)) })
	return out
}

// SetOf is the set of codes.
func SetOf(codes []uint8) (s Set256) {
	for _, c := range codes {
		s.Add(c)
	}
	return s
}

// IsNumeric reports whether s is written as a number.
func IsNumeric(s string) bool { return s != "" && (s[0] >= '0' && s[0] <= '9') }

// ParseInt parses a number as the policy writes them: decimal, or 0x,
// 0o, 0b; underscores allowed.
func ParseInt(s string) (int64, bool) {
	s = strings.ReplaceAll(s, "_", "")
	base := 10
	if len(s) > 2 && s[0] == '0' && strings.ContainsRune("xXoObB", rune(s[1])) {
		base = 0
	}
	v, err := strconv.ParseInt(s, base, 64)
	return v, err == nil
}

// Range is an inclusive range of ports, unit ids, addresses.
type Range struct{ Lo, Hi uint16 }

// String returns "502" or "1024-2048".
func (r Range) String() string {
	if r.Lo == r.Hi {
		return strconv.Itoa(int(r.Lo))
	}
	return strconv.Itoa(int(r.Lo)) + "-" + strconv.Itoa(int(r.Hi))
}

// FormatRanges renders a list the way it can be written back: "any"
// when empty.
func FormatRanges(rs []Range) string {
	if len(rs) == 0 {
		return "any"
	}
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	if len(s) == 1 {
		return s[0]
	}
	return "[" + strings.Join(s, ", ") + "]"
}

// List renders items as FlowList does, "" for none.
func List(items []string) string {
	if len(items) == 0 {
		return ""
	}
	return FlowList(items)
}

// Ranges renders a list as FormatRanges does, "" for none.
func Ranges(rs []Range) string {
	if len(rs) == 0 {
		return ""
	}
	return FormatRanges(rs)
}

// RangeStrings renders each range.
func RangeStrings(rs []Range) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.String())
	}
	return out
}

// MergeRanges sorts rs and merges overlapping and adjacent ranges, into a
// new slice.
func MergeRanges(rs []Range) []Range {
	out := append([]Range(nil), rs...)
	if len(out) == 0 {
		return out
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Lo < out[j].Lo })
	k := 0
	for _, r := range out[1:] {
		if int(r.Lo) <= int(out[k].Hi)+1 {
			if r.Hi > out[k].Hi {
				out[k].Hi = r.Hi
			}
			continue
		}
		k++
		out[k] = r
	}
	return out[:k+1]
}

// MergedOrNil is MergeRanges, nil for none (a condition field not set).
func MergedOrNil(rs []Range) []Range {
	if len(rs) == 0 {
		return nil
	}
	return MergeRanges(rs)
}

// Within reports whether [lo, lo+n-1] lies inside one of the merged
// ranges.
func Within(rs []Range, lo, n uint16) bool {
	hi := uint32(lo) + uint32(n) - 1
	if n == 0 {
		hi = uint32(lo)
	}
	for _, r := range rs {
		if r.Lo <= lo && hi <= uint32(r.Hi) {
			return true
		}
	}
	return false
}

// InRange reports whether v lies inside one of the merged ranges.
func InRange(rs []Range, v uint16) bool { return Within(rs, v, 1) }

// Set256 is a set of byte values.
type Set256 [4]uint64

func (s *Set256) Add(v uint8)      { s[v>>6] |= 1 << (v & 63) }
func (s *Set256) Has(v uint8) bool { return s[v>>6]&(1<<(v&63)) != 0 }

// CodeNames names each code (the number where name gives "").
func CodeNames(codes []uint8, name func(uint8) string) []string {
	var out []string
	for _, c := range codes {
		out = append(out, CodeName(name(c), int(c)))
	}
	return out
}

// CodeName returns name, or the code where it is "".
func CodeName(name string, code int) string {
	if name != "" {
		return name
	}
	return strconv.Itoa(code)
}

// FlowList renders items as a YAML flow list, one item bare.
func FlowList(items []string) string {
	if len(items) == 1 {
		return items[0]
	}
	return "[" + strings.Join(items, ", ") + "]"
}

// YAMLFlow renders items as a YAML flow list, brackets always.
func YAMLFlow(items []string) string { return "[" + strings.Join(items, ", ") + "]" }
