// Package report builds the picture that the people who sign off look at:
// one self-contained HTML file (no network access, no external scripts,
// fonts or styles) with the zone map, the communication matrix grouped by
// conduit, the per-rule counters with the cleanup rule(s) highlighted,
// and, where other analyses supply them, readiness and coverage.
//
// The model is fed the engine's own evidence: the verdict and flow-end
// event records (Collector, a slog.Handler) and the requests the protocol
// inspection judged, offline through package replay, or a daemon's
// status, hits and flows (Build takes either as an Input).
package report

import "time"

// Report is everything the page shows.
type Report struct {
	Title      string
	Version    string // conduit's
	PolicyFile string
	PolicySHA  string
	Mode       string // global mode
	Source     string // what the evidence is: the captures replayed, or the daemon asked
	First      *time.Time
	Last       *time.Time
	Generated  time.Time

	Totals   Totals
	Zones    []Zone
	Conduits []Conduit
	Rules    []Rule
	// Readiness per conduit, where an Annotator supplies it (conduit
	// ready); empty, the section is left out.
	Readiness []Readiness
	Notes     []string // caveats about the evidence, shown under the header

	Map Map // the zone map's geometry
}

// Totals are the evidence's summary, as replay --json or status report it.
type Totals struct {
	Packets, Flows, Malformed uint64
	Accepted, Dropped         uint64
	WouldDrop                 uint64
	Spoofed                   uint64
}

// Zone is one zone of the policy (or "unknown", when traffic involved it).
type Zone struct {
	Name        string
	Level       string
	CIDRs       []string
	Description string
	Flows       uint64 // flows from or to it
}

// Verdict classes of a flow, as the matrix and the map show them.
const (
	Allowed   = "allowed"
	WouldDrop = "would-drop" // denied by the policy, passed (monitor)
	Denied    = "denied"     // dropped
	Idle      = "idle"       // a conduit of the policy that nothing crossed
)

// Conduit is a zone pair that carried traffic or has a mode override.
type Conduit struct {
	From, To  string
	Mode      string
	Override  bool // the policy sets this pair's mode
	Flows     uint64
	Packets   uint64
	Bytes     uint64
	Allowed   uint64 // flows
	WouldDrop uint64 // flows
	Denied    uint64 // flows
	// Packets of the flows in each class.
	AllowedPackets, WouldDropPackets, DeniedPackets uint64
	// Packets of allowed flows that the rule's protocol condition refused
	// (a Modbus write under read_only), and of those, the ones dropped.
	Refused, RefusedDropped uint64
	Functions               []string // industrial functions seen, "modbus read_coils"
	Rows                    []Row
}

// ID names the conduit as the policy's conduits do.
func (c *Conduit) ID() string { return c.From + "->" + c.To }

// Class is the conduit's worst verdict class: what its arrow shows.
func (c *Conduit) Class() string {
	switch {
	case c.Denied > 0 || c.RefusedDropped > 0:
		return Denied
	case c.WouldDrop > 0 || c.Refused > 0:
		return WouldDrop
	case c.Flows == 0:
		return Idle
	}
	return Allowed
}

// Row is one line of the communication matrix: the flows of one client
// to one server's service decided alike.
type Row struct {
	From, To       string
	Client, Server string
	Proto          string
	Port           int // the server's port, or the ICMP type; -1: none
	Service        string
	Functions      []string
	Rule           string
	Mode           string
	Verdict        string // of the flows' first packet: Allowed, WouldDrop or Denied
	Flows          uint64
	Packets        uint64
	Bytes          uint64
	// Packets the rule's protocol condition refused later in the flows,
	// and of those, the ones dropped (enforce).
	Refused, RefusedDropped uint64
}

// Class is the row's worst verdict: an allowed flow with refused
// requests is would-drop (monitor) or denied (enforce).
func (r *Row) Class() string {
	switch {
	case r.Verdict == Denied || r.RefusedDropped > 0:
		return Denied
	case r.Verdict == WouldDrop || r.Refused > 0:
		return WouldDrop
	}
	return Allowed
}

// Rule is one rule's counters and what the page says of it.
type Rule struct {
	Name        string
	Index       int
	Action      string
	Cleanup     bool
	Description string
	Packets     uint64
	Bytes       uint64
	Flows       uint64
	Requests    uint64
	WouldDrop   uint64
	FirstHit    *time.Time
	LastHit     *time.Time
	QuietFor    string // since the last hit, to the end of the evidence; "never hit"
	// Coverage and narrowing suggestions, where an Annotator supplies
	// them (conduit coverage / review).
	Coverage  []string
	Narrowing string
}

// Readiness is whether a conduit may move to enforce, criterion by
// criterion.
type Readiness struct {
	Conduit  string // "from->to", or "" for the whole box
	Ready    bool
	Verdict  string // "ready", "not ready", "cannot tell"
	Criteria []Criterion
}

// Criterion is one readiness criterion with its figure.
type Criterion struct {
	Name   string
	Figure string
	Pass   bool
}

// Annotator adds what other analyses know (per-rule coverage and
// narrowing, readiness per conduit) to a built report. Build runs each
// one given; without any, those sections are absent.
type Annotator interface {
	Annotate(r *Report) error
}

// HasCoverage reports whether any rule carries coverage or narrowing.
func (r *Report) HasCoverage() bool {
	for _, x := range r.Rules {
		if len(x.Coverage) > 0 || x.Narrowing != "" {
			return true
		}
	}
	return false
}

// RowCount is the number of rows of the matrix.
func (r *Report) RowCount() int {
	n := 0
	for _, c := range r.Conduits {
		n += len(c.Rows)
	}
	return n
}
