package rules

import (
	"gopkg.in/yaml.v3"

	"github.com/conduit-ot/conduit/proto"
)

// condDecoder is the policy decoder as a protocol's condition decoder
// sees it (proto.Decoder): its messages are prefixed with the rule they
// are in (ctx).
type condDecoder struct {
	d   *decoder
	ctx string
}

func (c condDecoder) Errf(n *yaml.Node, format string, a ...any) {
	c.d.errf(n, "%s"+format, append([]any{c.ctx}, a...)...)
}

func (c condDecoder) Cond(n *yaml.Node, key string, allowed []string) map[string]proto.Field {
	return fieldsOf(c.d.condFields(n, c.ctx, key, allowed))
}

func (c condDecoder) Fields(n *yaml.Node, key string, allowed []string) map[string]proto.Field {
	return fieldsOf(c.d.fields(n, c.ctx, key, allowed))
}

func fieldsOf(f map[string]field) map[string]proto.Field {
	if f == nil {
		return nil
	}
	out := make(map[string]proto.Field, len(f))
	for k, v := range f {
		out[k] = proto.Field{Key: v.key, Val: v.val}
	}
	return out
}

func (c condDecoder) Items(n *yaml.Node, key string) ([]*yaml.Node, bool) {
	return c.d.items(n, c.ctx, key)
}

func (c condDecoder) Scalar(n *yaml.Node, key string) (string, bool) {
	return c.d.scalar(n, c.ctx, key)
}

func (c condDecoder) Word(n *yaml.Node, key string, words []string) (string, bool) {
	return c.d.word(n, c.ctx, key, words)
}

func (c condDecoder) Codes(n *yaml.Node, key string, voc *proto.Vocab, add func(code int64, byName bool)) {
	c.d.codes(n, c.ctx, key, vocabOf(voc), add)
}

func (c condDecoder) Number(n *yaml.Node, s, key string, voc *proto.Vocab) (int64, bool) {
	return c.d.number(n, s, c.ctx, key, vocabOf(voc))
}

func (c condDecoder) UnknownName(n *yaml.Node, s, key string, voc *proto.Vocab) {
	c.d.unknownName(n, s, c.ctx, key, vocabOf(voc))
}

func (c condDecoder) Range(n *yaml.Node, key string, max int64) (proto.Range, bool) {
	return c.d.portRange(n, c.ctx, key, max)
}

func (c condDecoder) Ranges(n *yaml.Node, key string, max int64) []proto.Range {
	return c.d.ranges(n, c.ctx, key, max)
}

func vocabOf(v *proto.Vocab) vocab {
	return vocab{what: v.What, min: v.Min, max: v.Max, names: v.Names, code: v.Code}
}
