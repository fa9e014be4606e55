package rules

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/conduit-ot/conduit/proto"
)

// Decoding of the industrial-protocol conditions. The names are the
// parser packages' own vocabulary, so a name in a rule and the name in a
// verdict log line are the same word.

var (
	appKeys        = conditionKeys()
	unparsedWords  = []string{"deny", "allow"}
	violationWords = []string{"drop", "reset"}
)

// togetherHint names the keys that may go together: "enip and cip may go
// together".
var togetherHint = func() string {
	var hs []string
	for _, id := range proto.All() {
		if ks := proto.Table[id].Keys; len(ks) > 1 {
			hs = append(hs, strings.Join(ks, " and ")+" may go together")
		}
	}
	return strings.Join(hs, "; ")
}()

// conditionKeys lists every protocol's condition keys in table order.
func conditionKeys() []string {
	var keys []string
	for _, id := range proto.All() {
		keys = append(keys, proto.Table[id].Keys...)
	}
	return keys
}

// vocab is a field whose values are protocol names or numbers.
type vocab struct {
	what     string // "modbus function"
	min, max int64
	names    func() []string
	code     func(string) (int64, bool)
}

// appCond decodes the protocol condition keys present in a rule's fields
// into one AppCond, or returns nil when there is none. The keys of one
// protocol may be combined (enip and cip judge the same stream); keys of
// two protocols are an error.
func (d *decoder) appCond(f map[string]field, ctx string, r *Rule, protoKnown bool) *AppCond {
	var keys []string
	for _, k := range appKeys {
		if _, ok := f[k]; ok {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	first := f[keys[0]].key
	c := &AppCond{Line: first.Line, Col: first.Column}
	for _, k := range keys[1:] {
		if proto.ByKey(k) != proto.ByKey(keys[0]) {
			d.errf(first, "%sonly one protocol condition per rule (%s), not %s", ctx, togetherHint, strings.Join(keys, " and "))
			break
		}
	}
	for _, k := range keys {
		v := f[k]
		if app := proto.ByKey(k); protoKnown && !app.Runs(r.Proto) {
			ts := proto.Table[app].Transports
			names := make([]string, len(ts))
			for i, p := range ts {
				names[i] = ProtoName(p)
			}
			d.errf(v.key, "%s%s conditions need proto %s (proto is %s)", ctx, k, orList(names), ProtoName(r.Proto))
		}
		c.Proto = proto.ByKey(k)
		c.Cond = proto.Table[c.Proto].Decode(condDecoder{d, ctx}, k, v.val, c.Cond)
	}
	if r.Action == ActionDeny {
		d.errf(first, "%sa protocol condition lists what an allowed flow may ask for; it cannot go with action: deny", ctx)
	}
	return c
}

// condFields checks a condition mapping; an empty mapping ({}) is allowed
// and asks only for well-formed traffic of the protocol.
func (d *decoder) condFields(n *yaml.Node, ctx, key string, allowed []string) map[string]field {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		d.errf(n, "%s%s is empty; write %s: {} to ask only for well-formed %s traffic", ctx, key, key, key)
		return nil
	}
	return d.fields(n, ctx, key+" conditions", allowed)
}

// codes decodes a name or number, or a list of them, calling add for each.
func (d *decoder) codes(n *yaml.Node, ctx, key string, voc vocab, add func(code int64, byName bool)) {
	items, ok := d.items(n, ctx, key)
	if !ok {
		return
	}
	for _, it := range items {
		s, ok := d.scalar(it, ctx, key)
		if !ok {
			continue
		}
		if c, ok := voc.code(s); ok {
			add(c, true)
			continue
		}
		if x, ok := d.number(it, s, ctx, key, voc); ok {
			add(x, false)
		}
	}
}

// number accepts a code given as a number within the vocabulary's range;
// anything else is an unknown name, reported with the valid ones.
func (d *decoder) number(n *yaml.Node, s, ctx, key string, voc vocab) (int64, bool) {
	if !isNumeric(s) {
		d.unknownName(n, s, ctx, key, voc)
		return 0, false
	}
	v, ok := parseInt(s)
	if !ok || v < voc.min || v > voc.max {
		d.errf(n, "%s%s: %s is out of range %d-%d", ctx, key, s, voc.min, voc.max)
		return 0, false
	}
	return v, true
}

// unknownName reports a name outside the vocabulary and lists the valid
// ones, so that `conduit check` says what may be written instead.
func (d *decoder) unknownName(n *yaml.Node, s, ctx, key string, voc vocab) {
	names := voc.names()
	hint := ""
	best, bestD := "", 4
	for _, a := range names {
		if dd := editDistance(s, a); dd < bestD {
			best, bestD = a, dd
		}
	}
	if best != "" {
		hint = " (did you mean " + strconv.Quote(best) + "?)"
	}
	d.errf(n, "%s%s: unknown %s %q%s; valid names: %s (or a number %d-%d)",
		ctx, key, voc.what, s, hint, strings.Join(names, ", "), voc.min, voc.max)
}

// ranges decodes numbers and "a-b" ranges within [0, max].
func (d *decoder) ranges(n *yaml.Node, ctx, key string, max int64) []PortRange {
	items, ok := d.items(n, ctx, key)
	if !ok {
		return nil
	}
	var out []PortRange
	for _, it := range items {
		if r, ok := d.portRange(it, ctx, key, max); ok {
			out = append(out, r)
		}
	}
	return out
}

func isNumeric(s string) bool { return s != "" && (s[0] >= '0' && s[0] <= '9') }

// onUnparsed and onViolation decode the keys at the top level or in a rule.
func (d *decoder) onUnparsed(n *yaml.Node, ctx string) (Unparsed, bool) {
	s, ok := d.word(n, ctx, "on_unparsed", unparsedWords)
	if s == "allow" {
		return UnparsedAllow, true
	}
	return UnparsedDeny, ok
}

func (d *decoder) onViolation(n *yaml.Node, ctx string) (Violation, bool) {
	s, ok := d.word(n, ctx, "on_violation", violationWords)
	if s == "reset" {
		return ViolationReset, true
	}
	return ViolationDrop, ok
}

// AppVocabulary lists the valid names of every protocol condition field,
// keyed "modbus.functions", "cip.services", ... (for documentation and
// tools).
func AppVocabulary() map[string][]string { return proto.Vocabulary() }
