package engine

import (
	"net/netip"

	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/modes"
	"github.com/conduit-ot/conduit/rules"
)

// ReasonSpoofed is the reason of a packet whose source address belongs to
// a bound zone but which came in on another port or from another MAC.
const ReasonSpoofed = "spoofed-source"

// protoSpoof marks the denied-cache keys of spoofed packets (per source
// and ingress port), apart from any flow's key.
const protoSpoof = 0xff

// spoofed checks the packet in hand, before any flow lookup, against the
// binding of its source address's zone: a forged source address can
// neither open a flow nor continue one (a reply's source is the server, so
// the server's zone's binding applies). It reports whether the packet is
// dropped (enforce); in monitor the packet is flagged as would-drop and
// goes on to be decided as usual. mode, when refused, is the stricter of
// the two directions between the zones, as on the panic path: the packet
// may be a reply. It does not allocate, except for the rare re-read of
// interface names (portResolver).
func (w *Worker) spoofed(pol *rules.Policy, now int64) (refused bool, mode rules.Mode) {
	p := &w.pkt
	in := &w.in
	names := w.e.ports.cur.Load()
	if a := &w.admit; a.pol == pol && a.names == names && a.in == *in && a.src == p.Src {
		return false, 0 // packets come in runs from one source and port
	}
	from := pol.Zone(p.Src)
	z := pol.Binding(from)
	if z == nil {
		return false, 0
	}
	name, _ := w.e.ports.name(in.Port)
	if z.Admits(name, in.MAC, in.HasMAC) {
		w.admit = admitted{pol: pol, names: names, src: p.Src, in: *in}
		return false, 0
	}
	to := pol.Zone(p.Dst)
	mode = max(pol.ModeFor(from, to), pol.ModeFor(to, from))
	if !modes.Evaluates(mode) {
		return false, 0
	}
	// Not a port the binding names, or an index not known yet: read the
	// names again (rate-limited) before calling it forged.
	if len(z.Ports) > 0 && !z.HasPort(name) && w.e.ports.refresh(now) {
		if name, _ = w.e.ports.name(in.Port); z.Admits(name, in.MAC, in.HasMAC) {
			return false, 0
		}
	}
	w.stats.spoofed.Add(1)
	out := modes.Apply(mode, true)
	k := conntrack.Key{Src: p.Src, Proto: protoSpoof, SrcPort: uint16(in.Port >> 16), DstPort: uint16(in.Port)}
	if w.denied.first(k, now) {
		w.emit(event{kind: evVerdict, at: now, v: verdictEvent{pol: pol, mode: mode, accept: out.Accept,
			wouldDrop: out.WouldDrop, rule: -1, from: from, to: to, reason: ReasonSpoofed, bound: from,
			proto: p.Proto, src: p.Src, dst: p.Dst, sport: p.SrcPort, dport: p.DstPort}})
	}
	if !out.Accept {
		w.stats.wouldDrop.Add(1)
		w.pairs.get(pol, from, to).wouldDrop.Add(1)
		return true, mode
	}
	w.spoofPair = w.pairs.get(pol, from, to)
	w.flagged = true // counted as would-drop once the packet is decided
	return false, mode
}

// admitted is the last source address and ingress a worker found its
// zone's binding admits, under one policy and one reading of the
// interface names.
type admitted struct {
	pol   *rules.Policy
	names *portNames
	src   netip.Addr
	in    Ingress
}

// emit sends a verdict line stamped with the ingress port of the packet
// in hand, when it is known.
func (w *Worker) emit(ev event) {
	if w.in.Port != 0 {
		v := &ev.v
		v.inIndex = w.in.Port
		var ok bool
		if v.inPort, ok = w.e.ports.name(w.in.Port); !ok && w.e.ports.refresh(ev.at) {
			v.inPort, _ = w.e.ports.name(w.in.Port)
		}
		v.mac, v.hasMAC = w.in.MAC, w.in.HasMAC
	}
	w.e.emit(ev)
}
