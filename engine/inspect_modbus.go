package engine

import (
	"github.com/conduit-ot/conduit/proto/modbus"
	"github.com/conduit-ot/conduit/rules"
)

// Modbus/TCP inspection: MBAP framing and the condition check.

func (in *inspection) modbus(b []byte, off uint32) (int, pduStatus) {
	p := &in.w.mb
	dir := modbus.Request
	if in.side == rspSide {
		dir = modbus.Response
	}
	n, err := modbus.Parse(b, dir, p)
	switch {
	case err == modbus.ErrShort:
		return 0, pduShort
	case err != modbus.OK:
		a, n, st := in.malformed(n, string(err), off)
		if a != nil && n > 0 {
			a.fromModbus(p) // the MBAP fields and the function are set
		}
		return n, st
	}
	if in.side == reqSide {
		f := in.cond.Modbus.Check(p)
		in.seenModbus(p, f)
		if f != rules.Pass {
			if a := in.violation(f, off); a != nil {
				a.fromModbus(p)
			}
		} else {
			in.requests++
		}
	} else if p.Exception {
		if a := in.notice(off); a != nil {
			a.fromModbus(p)
		}
	}
	return n, pduOK
}
