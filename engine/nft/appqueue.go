package nft

import (
	"fmt"

	"github.com/conduit-ot/conduit/rules"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// appQueue is the queue of traffic that a rule with a protocol condition
// (modbus, dnp3, enip/cip, s7) could decide. It has neither the bypass
// nor the fail-open flag: under overload, or with no reader, such packets
// wait or are dropped, never passed unjudged.
type appQueue struct {
	queue expr.Any // the queue statement for it
}

// appChains adds chain "app", which sends the packets of flows some
// protocol-condition allow rule could match, in either direction, to the
// app queue. Both directions of a flow match the same rule, so a flow's
// packets all reach the same queue (and engine worker).
func (b *builder) appChains(fams []family, app *appQueue) {
	var list [][]expr.Any
	for _, f := range fams {
		var guard []expr.Any
		if len(fams) > 1 {
			proto := byte(unix.NFPROTO_IPV4)
			if f.v6 {
				proto = unix.NFPROTO_IPV6
			}
			guard = []expr.Any{&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}}}
		}
		for i := range b.pol.Rules {
			r := &b.pol.Rules[i]
			if r.App == nil || r.Action != rules.ActionAllow {
				continue
			}
			for _, reversed := range []bool{false, true} {
				m, ok := b.match(f, i, reversed)
				if !ok {
					continue
				}
				ex := append([]expr.Any{}, guard...)
				if !r.From.Any {
					name, ok := b.endpointSet(f, &r.From, fmt.Sprintf("from%s_%d", f.suffix, i))
					if !ok {
						continue
					}
					ex = append(ex, loadAddr(f, reversed), &expr.Lookup{SourceRegister: 1, SetName: name})
				}
				ex = append(ex, m...)
				list = append(list, append(ex, &expr.Verdict{Kind: expr.VerdictGoto, Chain: "appqueue"}))
			}
		}
	}
	if len(list) == 0 {
		return
	}
	b.chain("app").rules = list
	b.chain("appqueue").rules = [][]expr.Any{{&expr.Counter{}, app.queue}}
	b.p.appEntry = "app"
}

// HasAppRules reports whether pol has an allow rule with a protocol
// condition, whose traffic then needs the app queue.
func HasAppRules(pol *rules.Policy) bool {
	for i := range pol.Rules {
		if pol.Rules[i].App != nil && pol.Rules[i].Action == rules.ActionAllow {
			return true
		}
	}
	return false
}

// NeedsAppQueue reports whether pol sends flows to the app queue: it has
// an allow rule with a protocol condition and something enforces.
func NeedsAppQueue(pol *rules.Policy) bool {
	return HasAppRules(pol) && (&builder{pol: pol}).anyEnforce()
}
