package inspect

import "github.com/conduit-ot/conduit/proto"

// The follower as a protocol's inspector sees it (proto.Judge): what it
// offers the adapter judging one packet's PDUs.

var _ proto.Judge = (*Follower)(nil)

func (in *Follower) Violation(f proto.Failure, off uint32) *proto.Event {
	return in.violation(f, off)
}

func (in *Follower) Unparsed(detail string, off uint32) *proto.Event {
	return in.unparsed(unparsedReason[in.cond.Proto], "", detail, off)
}

func (in *Follower) Malformed(err, detail string, off uint32) *proto.Event {
	return in.unparsed(malformedReason[in.cond.Proto], err, detail, off)
}

func (in *Follower) Notice(off uint32) *proto.Event { return in.notice(off) }

func (in *Follower) Count() { in.requests++ }

// Seen keeps a request the condition passed (one the rule counts, or of
// a kind counted by its carrier) to be covered, and reports it to the
// observer.
func (in *Follower) Seen(r proto.Judged) {
	if r.Failure == proto.Pass && (r.Counted || proto.Uncounted(r.Kind)) {
		if in.ncov == coverMax {
			in.obs.Cover(in.st, in.covered[:])
			in.ncov = 0
		}
		in.covered[in.ncov] = r
		in.ncov++
	}
	if in.report {
		in.obs.Report(r)
	}
}
