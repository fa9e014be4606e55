package rules

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/conduit-ot/conduit/conntrack"
	"github.com/conduit-ot/conduit/internal/ipproto"
	"github.com/conduit-ot/conduit/modes"
	"github.com/conduit-ot/conduit/proto"
)

// Mode is how decisions are applied; modes owns it.
type Mode = modes.Mode

const (
	ModePassthrough = modes.ModePassthrough
	ModeMonitor     = modes.ModeMonitor
	ModeEnforce     = modes.ModeEnforce
)

// ParseMode parses a policy-file mode word.
func ParseMode(s string) (Mode, bool) { return modes.ParseMode(s) }

// Action is what a rule decides.
type Action uint8

const (
	ActionAllow Action = iota
	ActionDeny
)

// String returns "allow" or "deny".
func (a Action) String() string {
	switch a {
	case ActionAllow:
		return "allow"
	case ActionDeny:
		return "deny"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// ZoneID identifies a zone of a Policy: ZoneID(i+1) is Policy.Zones[i].
type ZoneID uint16

// ZoneUnknown is the pseudo-zone of addresses outside every zone.
const ZoneUnknown ZoneID = 0

// IP protocol numbers used by rules. ProtoAny (0) in Rule.Proto means any
// protocol: the packet decoder never reports 0 (hop-by-hop) as a transport.
const (
	ProtoAny    uint8 = 0
	ProtoICMP   uint8 = ipproto.ICMP
	ProtoTCP    uint8 = ipproto.TCP
	ProtoUDP    uint8 = ipproto.UDP
	ProtoICMPv6 uint8 = ipproto.ICMPv6
)

// ProtoName returns the policy-file word for a rule protocol: "any", a
// name the policy accepts (ipproto's), else the number.
func ProtoName(p uint8) string {
	switch p {
	case ProtoAny:
		return "any"
	case ProtoICMP, ProtoTCP, ProtoUDP, ProtoICMPv6:
		return ipproto.Known(p)
	}
	return strconv.Itoa(int(p))
}

// Policy is a validated, compiled policy. It is immutable once returned by
// Parse or Load and safe for concurrent use.
type Policy struct {
	File      string // path it was loaded from ("" for Parse)
	SHA256    string // hex sha256 of the raw bytes
	Mode      Mode   // global mode
	Queue     QueueConfig
	Conntrack ConntrackConfig
	Log       LogConfig
	Metrics   MetricsConfig
	Control   ControlConfig
	Zones     []Zone    // Zones[i] is ZoneID(i+1)
	Conduits  []Conduit // per zone-pair mode overrides
	Rules     []Rule    // in file order; Rules[i].Index == i
	Default   Action    // the implicit last rule "default"
	// Defaults of the rules' on_unparsed and on_violation.
	OnUnparsed  Unparsed  // UnparsedDeny unless the policy says allow
	OnViolation Violation // ViolationDrop unless the policy says reset
	// Fastpath is the default of the rules' fastpath (true).
	Fastpath bool
	// Layer2 says which non-IP EtherTypes cross the bridge (layer2.go).
	Layer2   Layer2
	Warnings []Diagnostic

	DefaultLine int // line of the `default` key, 0 if absent

	rulesLine int
	zonesLine int
	binds     bool // a zone is bound (ports or macs)

	zones   zoneTable
	modes   map[uint32]Mode
	matcher *matcher
	passive *Policy // the file's policy, on a Passive copy (passive.go)
}

// QueueConfig selects the NFQUEUE numbers the daemon serves.
type QueueConfig struct {
	Num      uint16
	Count    uint16 // default 1
	FailOpen bool   // default true: the kernel accepts when no reader is bound (queue bypass)
	// OverloadAccept: the kernel accepts what a full queue cannot hold
	// (the queue's fail-open flag) instead of dropping it. Default: as
	// FailOpen. Traffic a protocol-condition rule could decide never
	// passes unjudged: it has its own queue without either flag.
	OverloadAccept bool
	// NFLOGGroup is the netlink log group of the kernel pre-filter's
	// drops; 0 counts them without logging. Default 1700.
	NFLOGGroup uint16
}

// DefaultNFLOGGroup is queue.nflog_group when the policy does not say.
const DefaultNFLOGGroup = 1700

// ConntrackConfig sizes the connection table.
type ConntrackConfig struct {
	Capacity int  // default 65536
	Pickup   bool // default true: adopt mid-stream TCP sessions
	Seed     bool // default true: take over the kernel's established sessions at start
	Timeouts Timeouts
}

// Timeouts are idle timeouts per flow state: the connection table's own
// type, which owns their meaning and OT defaults.
type Timeouts = conntrack.Timeouts

// DefaultTimeouts are conntrack's (OT-grade: an established session idle
// for hours survives).
var DefaultTimeouts = conntrack.DefaultTimeouts()

// LogConfig says where verdict lines go.
type LogConfig struct {
	File   string // default "-" (stdout)
	Syslog string // e.g. udp://127.0.0.1:514; "" for none
}

// MetricsConfig configures the metrics listener.
type MetricsConfig struct {
	Listen string // "" disables
}

// ControlConfig configures the control socket.
type ControlConfig struct {
	Socket string // default /run/conduit.sock
}

// Zone is a named set of networks at one Purdue level.
type Zone struct {
	Name  string
	Level string // "0","1","2","3","3.5","dmz","4","5" or LevelUnknown, as written
	CIDRs []netip.Prefix
	// Ports and MACs bind the zone (binding.go): its addresses may only
	// come in on these bridge ports (interface names) and from these
	// source MACs. Empty: anywhere.
	Ports       []string
	MACs        []MAC
	Description string
	Line, Col   int
}

// LevelUnknown is the level of a zone whose Purdue level is not known yet
// (a zone inferred from a capture): it is valid, and the Purdue-level
// checks of lint skip the zone.
const LevelUnknown = "unknown"

// IsDMZ reports whether the zone is at level 3.5.
func (z *Zone) IsDMZ() bool { return z.Level == "3.5" || z.Level == "dmz" }

// Conduit overrides the mode for traffic from one zone to another.
type Conduit struct {
	From, To     string
	FromID, ToID ZoneID
	Mode         Mode
	Description  string
	Line, Col    int
}

// Rule is one permit (or deny) rule. An empty condition matches anything.
type Rule struct {
	Name        string
	Index       int
	Action      Action
	Cleanup     bool
	Log         bool
	IdleTimeout time.Duration // 0: use conntrack.timeouts
	Description string
	Line, Col   int

	From, To  Endpoint
	Proto     uint8       // ProtoAny, ProtoTCP, ProtoUDP, ProtoICMP, ProtoICMPv6
	SPorts    []PortRange // empty: any (only with tcp/udp)
	DPorts    []PortRange // empty: any (only with tcp/udp)
	ICMPTypes []uint8     // empty: any (only with icmp/icmpv6)

	// App is the industrial-protocol condition (modbus, dnp3, enip/cip,
	// s7), nil when the rule has none. The flow is matched to the rule by
	// the conditions above; App then judges every request of the flow.
	App *AppCond
	// OnUnparsed decides traffic of App's flows that cannot be judged
	// (deny by default); OnViolation is what a refused request gets.
	// Both inherit the policy's top-level keys.
	OnUnparsed  Unparsed
	OnViolation Violation
	// Fastpath: once a flow of this allow rule has seen both directions,
	// the kernel accepts its established packets without queueing them.
	// The rule's fastpath key, else the policy's; never for a rule with a
	// protocol condition, a deny rule, or (unless the rule says so) the
	// cleanup rule, whose hits must keep telling the truth.
	Fastpath bool
}

// Endpoint is the from or to side of a rule.
type Endpoint struct {
	Any   bool
	Zones []ZoneID
	CIDRs []netip.Prefix
	Items []string // as written, for display
}

// String returns the endpoint as written ("any", "a", "[a, b]").
func (e Endpoint) String() string {
	if e.Any {
		return "any"
	}
	if len(e.Items) == 1 {
		return e.Items[0]
	}
	return "[" + strings.Join(e.Items, ", ") + "]"
}

// PortRange is an inclusive port range (the range type the protocol
// conditions share).
type PortRange = proto.Range

// FormatPorts renders a port list the way it can be written back.
func FormatPorts(rs []PortRange) string { return proto.FormatRanges(rs) }

// Diagnostic is a problem found in a policy file, with its position.
type Diagnostic struct {
	File      string
	Line, Col int
	Msg       string
	Warning   bool // in Policy.Warnings; false in Errors.List
}

// Pos returns "file:line:col".
func (d Diagnostic) Pos() string {
	return fmt.Sprintf("%s:%d:%d", d.File, d.Line, d.Col)
}

// String returns "file:line:col: warning: msg" for a warning and
// "file:line:col: msg" for an error.
func (d Diagnostic) String() string {
	if d.Warning {
		return d.Pos() + ": warning: " + d.Msg
	}
	return d.Pos() + ": " + d.Msg
}

// Errors is every problem that made a policy invalid.
type Errors struct {
	List []Diagnostic
}

// Error returns one "file:line:col: msg" per line.
func (e *Errors) Error() string {
	var b strings.Builder
	for i, d := range e.List {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.Pos())
		b.WriteString(": ")
		b.WriteString(d.Msg)
	}
	return b.String()
}
