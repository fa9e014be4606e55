package learn

import "fmt"

// Change kinds.
const (
	Missing = "missing" // seen before, not after
	Changed = "changed" // seen in both, but it no longer works the same way
	New     = "new"     // seen only after
)

// Change is one service that differs between two matrices.
type Change struct {
	Kind string `json:"kind"`
	Key  Row    `json:"service"`
	Why  string `json:"why"`
	// Health lists the figures of a changed service that moved past
	// their thresholds (Thresholds), with before and after.
	Health []Finding `json:"health,omitempty"`
	Before *Service  `json:"-"`
	After  *Service  `json:"-"`
}

// Diff compares the services seen before and after a change (a box put
// inline, a policy enforced): services that went missing, that lost their
// replies or started being denied, whose health moved past
// DefaultThresholds (polling, response times, retransmissions, resets,
// session lifetimes, stalls), and services that are new.
func Diff(before, after *Matrix, zs *Zones) []Change {
	return DiffWith(before, after, zs, DefaultThresholds)
}

// DiffWith is Diff with the given health thresholds.
func DiffWith(before, after *Matrix, zs *Zones, th Thresholds) []Change {
	var out []Change
	for _, b := range before.Services() {
		a := after.Lookup(b.ServiceKey)
		switch {
		case a == nil:
			out = append(out, Change{Kind: Missing, Key: rowOf(b, zs), Before: b,
				Why: fmt.Sprintf("%s and %s packets before, none after", plural(int(b.Flows), "flow"), commas(b.Packets))})
		case b.ToClient > 0 && a.ToClient == 0 && a.ToServer > 0 && a.Partial == 0:
			out = append(out, Change{Kind: Changed, Key: rowOf(b, zs), Before: b, After: a,
				Why: fmt.Sprintf("no replies after (%s requests unanswered; %s replies before)", commas(a.ToServer), commas(b.ToClient))})
		case a.Denied > b.Denied:
			out = append(out, Change{Kind: Changed, Key: rowOf(b, zs), Before: b, After: a,
				Why: fmt.Sprintf("denied after: %s of %s dropped or would-drop (%d before)", plural(int(a.Denied), "flow"), commas(a.Flows), b.Denied)})
		default:
			if f := healthChanges(b, a, th); len(f) > 0 {
				why := f[0].Text
				for _, x := range f[1:] {
					why += "; " + x.Text
				}
				out = append(out, Change{Kind: Changed, Key: rowOf(b, zs), Before: b, After: a, Why: why, Health: f})
			}
		}
	}
	for _, a := range after.Services() {
		if before.Lookup(a.ServiceKey) == nil {
			out = append(out, Change{Kind: New, Key: rowOf(a, zs), After: a,
				Why: fmt.Sprintf("%s and %s packets after, none before", plural(int(a.Flows), "flow"), commas(a.Packets))})
		}
	}
	return out
}
