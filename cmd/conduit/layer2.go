package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/conduit-ot/conduit/engine"
	"github.com/conduit-ot/conduit/engine/nflog"
	"github.com/conduit-ot/conduit/engine/nft"
	"github.com/conduit-ot/conduit/rules"
)

// layer2Frame decodes the NFLOG message of a frame the bridge table
// refused: the mode from its prefix, the EtherType, MACs and tag from its
// Ethernet header, the ports from the physical devices.
func layer2Frame(eng *engine.Engine, m *nflog.Message) (engine.Layer2Frame, bool) {
	mode, ok := nft.ParseL2Prefix(m.Prefix)
	if !ok {
		return engine.Layer2Frame{}, false
	}
	f := engine.Layer2Frame{Mode: mode, EtherType: m.HWProto}
	if h := m.L2Header; len(h) >= 14 {
		copy(f.Dst[:], h[0:6])
		copy(f.Src[:], h[6:12])
		f.EtherType = binary.BigEndian.Uint16(h[12:14])
	}
	switch {
	case m.HasVLAN:
		// The kernel took the tag off: the header shows what it carries.
		f.Tagged, f.VLAN = true, m.VLANTCI&0x0fff
	case f.EtherType == rules.EtherTypeVLAN && len(m.Payload) >= 4:
		// A tag left in the frame: the payload starts with it.
		f.Tagged, f.VLAN = true, binary.BigEndian.Uint16(m.Payload)&0x0fff
		f.EtherType = binary.BigEndian.Uint16(m.Payload[2:4])
	}
	f.EtherType = rules.JudgedEtherType(f.EtherType) // an 802.3 length is llc
	in, out := m.Port()
	f.InPort, f.OutPort = eng.Layer2Port(in), eng.Layer2Port(out)
	return f, true
}

// layer2Counts adapts the bridge table's counters to the engine's.
func layer2Counts(m map[nft.Layer2Key]nft.Counter) []engine.Layer2Count {
	if m == nil {
		return nil
	}
	rows := nft.SortedLayer2(m)
	out := make([]engine.Layer2Count, len(rows))
	for i, r := range rows {
		out[i] = engine.Layer2Count{EtherType: r.EtherType, Verdict: r.Verdict, Packets: r.Packets, Bytes: r.Bytes}
	}
	return out
}

// layer2JSON is the policy's layer2 section in `check --json` and
// `status --json`: its mode and entries, and in status the bridge table's
// counters.
type layer2JSON struct {
	Mode string `json:"mode"`
	// Written: the policy has the section; otherwise these are the defaults.
	Written bool             `json:"written"`
	Allow   []layer2JSONItem `json:"allow"`
	// Installed (status): the kernel holds the bridge table; false means
	// non-IP frames cross unjudged.
	Installed *bool `json:"installed,omitempty"`
	// Frames (status): what the bridge table counted, by EtherType and
	// verdict (accept, drop, would_drop), since the start.
	Frames []engine.Layer2Count `json:"frames,omitempty"`
	Error  string               `json:"error,omitempty"`
}

type layer2JSONItem struct {
	Name          string   `json:"name"`
	EtherType     string   `json:"ethertype"`
	EtherTypeName string   `json:"ethertype_name"`
	From          []string `json:"from,omitempty"`
	To            []string `json:"to,omitempty"`
	FromPorts     []string `json:"from_ports,omitempty"`
	ToPorts       []string `json:"to_ports,omitempty"`
	Description   string   `json:"description,omitempty"`
	Line          int      `json:"line,omitempty"`
}

func layer2Policy(pol *rules.Policy) *layer2JSON {
	l := &pol.Layer2
	out := &layer2JSON{Mode: l.Mode.String(), Written: l.Written, Allow: []layer2JSONItem{}}
	for _, e := range l.Allow {
		out.Allow = append(out.Allow, layer2JSONItem{Name: e.Name, EtherType: rules.EtherTypeNumber(e.EtherType),
			EtherTypeName: rules.EtherTypeName(e.EtherType), From: e.From, To: e.To, FromPorts: e.FromPorts,
			ToPorts: e.ToPorts, Description: e.Description, Line: e.Line})
	}
	return out
}

// layer2Status is status's layer2 object.
func (o *ops) layer2Status(pol *rules.Policy, kc engine.KernelCounts, kerr error) *layer2JSON {
	out := layer2Policy(pol)
	installed := o.kernel != nil && o.kernel.Layer2
	out.Installed = &installed
	if kerr != nil {
		out.Error = kerr.Error()
	}
	// The counters that counted something: a row per EtherType and verdict seen.
	for _, c := range kc.Layer2 {
		if c.Packets > 0 {
			out.Frames = append(out.Frames, c)
		}
	}
	return out
}

// layer2Summary is one line per entry, as check and status print them.
func layer2Summary(l *layer2JSON) []string {
	var lines []string
	for _, e := range l.Allow {
		s := e.Name
		if e.Name != e.EtherTypeName {
			s += " (" + e.EtherTypeName + ")"
		}
		s += " " + e.EtherType
		if len(e.From) > 0 {
			s += " from " + strings.Join(e.From, ",") + " [" + strings.Join(e.FromPorts, ",") + "]"
		}
		if len(e.To) > 0 {
			s += " to " + strings.Join(e.To, ",") + " [" + strings.Join(e.ToPorts, ",") + "]"
		}
		lines = append(lines, s)
	}
	return lines
}

// printLayer2Summary is check's layer2 part.
func printLayer2Summary(w io.Writer, p *rules.Policy) {
	l := layer2Policy(p)
	how := "the policy's mode"
	if p.Layer2.ModeSet {
		how = "its own mode"
	}
	src := "layer2"
	if !l.Written {
		src = "layer2 (no layer2 section: the defaults)"
	}
	fmt.Fprintf(w, "\n%s: non-IP frames across the bridge; IP is judged by the rules\n", src)
	for _, s := range layer2Summary(l) {
		fmt.Fprintf(w, "  allow    %s\n", s)
	}
	if len(l.Allow) == 0 {
		fmt.Fprintf(w, "  allow    nothing\n")
	}
	fmt.Fprintf(w, "  refused  every other EtherType, in %s (%s)\n", l.Mode, how)
}

// printLayer2Status is status's layer2 lines: the section and the frames
// counted per EtherType.
func printLayer2Status(w io.Writer, l *layer2JSON) {
	if l == nil {
		return
	}
	if l.Installed != nil && !*l.Installed {
		fmt.Fprintf(w, "layer2    NO BRIDGE TABLE: the kernel refused it, non-IP frames cross unjudged\n")
		return
	}
	allow := layer2Summary(l)
	if len(allow) == 0 {
		allow = []string{"nothing"}
	}
	fmt.Fprintf(w, "layer2    %s: allow %s\n", l.Mode, strings.Join(allow, "; "))
	if len(l.Frames) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "          ETHERTYPE\tVERDICT\tFRAMES\tBYTES\n")
	for _, f := range l.Frames {
		fmt.Fprintf(tw, "          %s\t%s\t%d\t%d\n", f.EtherType, f.Verdict, f.Packets, f.Bytes)
	}
	tw.Flush()
}

// printReplayLayer2 is replay's line of the frames without IP, by
// EtherType and the verdict of the layer2 section.
func printReplayLayer2(w io.Writer, pol *rules.Policy, counts []engine.Layer2Count) {
	if len(counts) == 0 {
		return
	}
	parts := make([]string, len(counts))
	for i, c := range counts {
		parts[i] = fmt.Sprintf("%s %d %s", c.EtherType, c.Packets, strings.ReplaceAll(c.Verdict, "_", " "))
	}
	fmt.Fprintf(w, "layer2 (%s): %s\n", pol.Layer2.Mode, strings.Join(parts, ", "))
}
