package engine

// Verdict is the fate of one packet.
type Verdict struct {
	// Accept reports whether the packet passes as it is.
	Accept bool
	// Packet, when not nil, is to be sent in place of the packet (an
	// altered-packet verdict: accept with this content), which is itself
	// refused: a TCP segment turned into a FIN or RST to reset a session
	// (on_violation: reset). It is the worker's buffer, valid until the
	// worker's next decision.
	Packet []byte
	// CtMark: the verdict also hands the flow to the kernel's fast path
	// (the fast-path mark on its conntrack entry, NFQA_CT).
	CtMark bool
}

// DecideVerdict is Decide with the replacement packet a reset may need.
func (w *Worker) DecideVerdict(b []byte) Verdict { return w.DecideVerdictIn(b, Ingress{}) }

// DecideVerdictIn is DecideIn with the replacement packet a reset may need.
func (w *Worker) DecideVerdictIn(b []byte, in Ingress) Verdict {
	v := w.decideIn(b, in)
	if v.replaced {
		return Verdict{Accept: v.accept, Packet: w.insp.Replacement()}
	}
	return Verdict{Accept: v.accept, CtMark: v.ctMark && v.accept}
}
