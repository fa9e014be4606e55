package engine

import (
	"github.com/conduit-ot/conduit/proto/enip"
	"github.com/conduit-ot/conduit/rules"
)

// EtherNet/IP inspection: encapsulation framing and the CIP requests it
// carries.

func (in *inspection) enip(b []byte, off uint32) (int, pduStatus) {
	p := &in.w.enip
	dir := enip.Request
	if in.side == rspSide {
		dir = enip.Response
	}
	n, err := enip.Parse(b, dir, p)
	switch {
	case err == enip.ErrShort:
		return 0, pduShort
	case err != enip.OK:
		_, n, st := in.malformed(n, string(err), off)
		return n, st
	}
	if in.side == rspSide {
		if p.Encap.Status != 0 {
			if a := in.notice(off); a != nil {
				a.fromENIP(p, nil)
			}
			return n, pduOK
		}
		for i := range p.NumMsgs() {
			if m := &p.Msgs[i]; m.Response && m.Status != 0 {
				if a := in.notice(off); a != nil {
					a.fromENIP(p, m)
				}
				break
			}
		}
		return n, pduOK
	}
	c := in.cond.ENIP
	fl := c.CheckCommand(p.Encap.Command)
	in.seen(KindENIP, p.Encap.Command, fl, false)
	if fl != rules.Pass {
		if a := in.violation(fl, off); a != nil {
			a.fromENIP(p, nil)
		}
		return n, pduOK
	}
	if p.Truncated() {
		if a := in.unparsed(unparsedReason[rules.AppENIP], "", "more-cip-messages-than-recorded", off); a != nil {
			a.fromENIP(p, nil)
		}
		return n, pduOK
	}
	for i := range p.NumMsgs() {
		m := &p.Msgs[i]
		if m.Response || rules.Envelope(m) {
			continue
		}
		fl := c.CheckCIP(m)
		in.seenCIP(m, fl)
		if fl != rules.Pass {
			if a := in.violation(fl, off); a != nil {
				a.fromENIP(p, m)
			}
			return n, pduOK
		}
	}
	in.requests++
	in.seen(KindENIP, p.Encap.Command, rules.Pass, true)
	return n, pduOK
}
