package replay

import (
	"cmp"
	"slices"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/rules"
)

// layer2Counts judges the frames without IP by the policy's layer2
// section, as the daemon's bridge table would, and counts them under the
// same EtherType names and verdicts. A capture does not say which bridge
// port a frame left by (and a frame's port is only its capture
// interface's name), so a scoped entry's ports are not checked: only what
// is known can refuse.
type layer2Counts struct {
	pol    *rules.Layer2
	counts map[[2]string]*engine.Layer2Count
}

func (c *layer2Counts) count(f capture.NonIP) {
	if c.counts == nil {
		c.counts = map[[2]string]*engine.Layer2Count{}
	}
	entry := c.pol.Judge(f.EtherType, f.Tagged, "", "")
	k := [2]string{c.pol.CounterName(f.EtherType, f.Tagged, entry), c.pol.Verdict(entry)}
	n := c.counts[k]
	if n == nil {
		n = &engine.Layer2Count{EtherType: k[0], Verdict: k[1]}
		c.counts[k] = n
	}
	n.Packets++
	n.Bytes += uint64(f.Len)
}

// report returns the counts by EtherType, then verdict; never nil.
func (c *layer2Counts) report() []engine.Layer2Count {
	out := make([]engine.Layer2Count, 0, len(c.counts))
	for _, n := range c.counts {
		out = append(out, *n)
	}
	slices.SortFunc(out, func(a, b engine.Layer2Count) int {
		return cmp.Or(cmp.Compare(a.EtherType, b.EtherType), cmp.Compare(a.Verdict, b.Verdict))
	})
	return out
}
