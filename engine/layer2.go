package engine

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/conduit-ot/conduit/rules"
)

// ReasonLayer2Deny is the reason of a verdict line for a frame the bridge
// table refused (engine/nft layer2.go): its EtherType is not IP and no
// entry of the policy's layer2 section allows it.
const ReasonLayer2Deny = "layer2-deny"

// Layer2Count is one counter of the bridge table: frames of an EtherType
// (its name, or "other") by verdict (accept, drop, would_drop).
type Layer2Count struct {
	EtherType string `json:"ethertype"`
	Verdict   string `json:"verdict"`
	Packets   uint64 `json:"packets"`
	Bytes     uint64 `json:"bytes"`
}

// Layer2Frame is a frame the bridge table refused, as its NFLOG message
// told.
type Layer2Frame struct {
	Mode      rules.Mode // of the layer2 section when the kernel logged it
	EtherType uint16     // the judged one: inside the 802.1Q tag when Tagged
	Tagged    bool
	VLAN      uint16 // the tag's VLAN id
	Src, Dst  rules.MAC
	// The bridge ports by name (their ifindex when conduit cannot name them).
	InPort, OutPort string
}

// l2Window is how long a kind of refused frame (EtherType, source MAC,
// ports) stays quiet in the log after its line: a GOOSE publisher repeats
// its frame every few milliseconds, and the log is per kind, not per frame.
const l2Window = 10 * time.Second

// Layer2Refused writes the verdict line of a refused frame, once per
// EtherType, source MAC and ports per l2Window (the kernel's counters
// count every frame). One goroutine calls it.
func (e *Engine) Layer2Refused(f Layer2Frame) {
	e.emit(event{kind: evLayer2, at: e.now(), l2: &f})
}

// l2Seen is the writer's memory of the frames it logged lately; bounded.
type l2Seen map[Layer2Frame]int64

func (s l2Seen) first(f Layer2Frame, now int64) bool {
	if at, ok := s[f]; ok && now-at < int64(l2Window) {
		return false
	}
	if len(s) >= 4096 {
		for k, at := range s {
			if now-at >= int64(l2Window) {
				delete(s, k)
			}
		}
		if len(s) >= 4096 {
			clear(s)
		}
	}
	s[f] = now
	return true
}

// writeLayer2 writes a refused frame's line: the fields of an IP verdict
// line that apply to a frame, the EtherType and the MACs and ports.
func (e *Engine) writeLayer2(h slog.Handler, ev event) {
	f := ev.l2
	if e.l2seen == nil {
		e.l2seen = l2Seen{}
	}
	if !e.l2seen.first(*f, ev.at) {
		return
	}
	ctx := context.Background()
	if !h.Enabled(ctx, slog.LevelWarn) {
		return
	}
	drop := f.Mode == rules.ModeEnforce
	r := slog.NewRecord(time.Unix(0, ev.at), slog.LevelWarn, "verdict", 0)
	r.AddAttrs(
		slog.String("event", "verdict"),
		slog.String("mode", f.Mode.String()),
		slog.String("verdict", word(!drop)),
		slog.String("would", "drop"),
		slog.Bool("would_drop", true),
		slog.String("rule", "default"),
		slog.String("action", "deny"),
		slog.Bool("layer2", true),
		slog.String("ethertype", rules.EtherTypeNumber(f.EtherType)),
		slog.String("ethertype_name", rules.EtherTypeName(f.EtherType)),
		slog.String("src_mac", f.Src.String()),
		slog.String("dst_mac", f.Dst.String()),
		slog.String("in_port", f.InPort),
		slog.String("out_port", f.OutPort),
	)
	if f.Tagged {
		r.AddAttrs(slog.Int("vlan", int(f.VLAN)))
	}
	r.AddAttrs(slog.String("reason", ReasonLayer2Deny))
	_ = h.Handle(ctx, r)
}

// Layer2Port names a bridge port by ifindex for Layer2Frame: the name the
// engine's interface table knows (read again, at most once a second, for
// an index it does not), else "ifindex N".
func (e *Engine) Layer2Port(ifindex uint32) string {
	if ifindex == 0 {
		return ""
	}
	if e.ports.cur.Load() == nil {
		_ = e.ports.read()
	}
	if name, ok := e.ports.name(ifindex); ok {
		return name
	}
	if e.ports.refresh(e.now()) {
		if name, ok := e.ports.name(ifindex); ok {
			return name
		}
	}
	return "ifindex " + strconv.Itoa(int(ifindex))
}
