package rules

// fastpath resolves a rule's fastpath key against the policy default. A
// protocol condition judges every packet of its flows, and a deny rule
// tracks no flow, so neither can have one; the cleanup rule's flows stay
// in userspace unless the rule asks, so that its hits (the evidence that it
// has gone quiet) count every packet.
func (d *decoder) fastpath(f map[string]field, ctx string, r *Rule, p *Policy) {
	r.Fastpath = p.Fastpath && r.App == nil && r.Action == ActionAllow && !r.Cleanup
	v, ok := f["fastpath"]
	if !ok {
		return
	}
	b, ok := d.boolean(v.val, ctx, "fastpath")
	switch {
	case !ok:
	case b && r.App != nil:
		d.errf(v.key, "%sfastpath: true is not possible with a protocol condition: every packet of its flows is inspected", ctx)
	case b && r.Action != ActionAllow:
		d.errf(v.key, "%sfastpath applies only to allow rules: a denied flow is never handed to the kernel", ctx)
	default:
		r.Fastpath = b
	}
}
