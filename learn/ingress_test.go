package learn

import (
	"bytes"
	"encoding/binary"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// ngFile builds a pcapng capture with one Ethernet interface per name
// (an empty name: no if_name) and the frames given.
type ngFrame struct {
	iface int
	dir   uint32 // epb_flags direction: 0 none, 1 in, 2 out
	pkt   tp
}

func ngFile(names []string, frames []ngFrame) []byte {
	var out bytes.Buffer
	block := func(typ uint32, body []byte) {
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
		l := uint32(12 + len(body))
		out.Write(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, typ), l))
		out.Write(body)
		out.Write(binary.LittleEndian.AppendUint32(nil, l))
	}
	opt := func(code uint16, v []byte) []byte {
		b := binary.LittleEndian.AppendUint16(binary.LittleEndian.AppendUint16(nil, code), uint16(len(v)))
		b = append(b, v...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	shb := binary.LittleEndian.AppendUint32(nil, 0x1a2b3c4d)
	shb = binary.LittleEndian.AppendUint16(shb, 1)
	shb = binary.LittleEndian.AppendUint16(shb, 0)
	block(0x0a0d0d0a, binary.LittleEndian.AppendUint64(shb, ^uint64(0)))
	for _, n := range names {
		b := binary.LittleEndian.AppendUint16(nil, 1) // Ethernet
		b = binary.LittleEndian.AppendUint16(b, 0)
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = append(b, opt(9, []byte{9})...) // nanoseconds
		if n != "" {
			b = append(b, opt(2, []byte(n))...)
		}
		block(1, binary.LittleEndian.AppendUint32(b, 0))
	}
	for _, f := range frames {
		frame := make([]byte, 14, 14+64)
		binary.BigEndian.PutUint16(frame[12:], 0x0800)
		frame = append(frame, f.pkt.bytes()...)
		ts := uint64(t0 + int64(f.pkt.at))
		b := binary.LittleEndian.AppendUint32(nil, uint32(f.iface))
		b = binary.LittleEndian.AppendUint32(b, uint32(ts>>32))
		b = binary.LittleEndian.AppendUint32(b, uint32(ts))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(frame)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(frame)))
		b = append(b, frame...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		if f.dir != 0 {
			b = append(b, opt(2, binary.LittleEndian.AppendUint32(nil, f.dir))...)
			b = binary.LittleEndian.AppendUint32(b, 0)
		}
		block(6, b)
	}
	return out.Bytes()
}

func learnNG(t *testing.T, names []string, frames []ngFrame) *Matrix {
	t.Helper()
	return learnCapture(t, "ports.pcapng", bytes.NewReader(ngFile(names, frames)))
}

// zoneLine returns the draft's ports line of zone z ("" if none).
func zoneLine(y, zone string) string {
	i := strings.Index(y, "\n  "+zone+":\n")
	if i < 0 {
		return ""
	}
	rest := y[i+len(zone)+5:]
	for _, l := range strings.Split(rest, "\n") {
		if !strings.HasPrefix(l, "    ") {
			break
		}
		if strings.Contains(l, "ports:") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

func TestDraftPortsFromPcapng(t *testing.T) {
	hmi, plc, ews := "10.20.0.10", "10.10.0.10", "10.30.0.11"
	req := func(at int, src, dst string, sport uint16) tp {
		return tp{at: 1e6 * time.Duration(at), proto: tcp, src: src, dst: dst, sport: sport, dport: 502, flags: fS}
	}
	rsp := func(at int, src, dst string, dport uint16) tp {
		return tp{at: 1e6 * time.Duration(at), proto: tcp, src: src, dst: dst, sport: 502, dport: dport, flags: fS | fA}
	}
	// forwarded is one exchange the bridge forwarded, captured without
	// directions on both ports, from ms at on: the request in on vsup
	// and its copy out on vctl, then the reply in on vctl and its copy.
	forwarded := func(at int, port uint16) []ngFrame {
		return []ngFrame{
			{0, 0, req(at, hmi, plc, port)}, {1, 0, req(at+1, hmi, plc, port)},
			{1, 0, rsp(at+2, plc, hmi, port)}, {0, 0, rsp(at+3, plc, hmi, port)},
		}
	}
	names := []string{"vsup", "vctl", "vops", ""}
	// What most cases expect: each host placed alone on its own port.
	hmiPLC := map[string]string{
		"net-10-20-0": "ports: [vsup]  # every one of 1 packet from its 1 host came in on vsup",
		"net-10-10-0": "ports: [vctl]  # every one of 1 packet from its 1 host came in on vctl",
	}
	withEWS := maps.Clone(hmiPLC)
	withEWS["net-10-30-0"] = "ports: [vops]  # every one of 1 packet from its 1 host came in on vops"
	cases := []struct {
		name   string
		frames []ngFrame
		want   map[string]string // zone -> ports line ("" none)
	}{
		{"each zone on its port, with directions", []ngFrame{
			{0, 1, req(0, hmi, plc, 40000)}, {1, 2, req(0, hmi, plc, 40000)},
			{1, 1, rsp(1, plc, hmi, 40000)}, {0, 2, rsp(1, plc, hmi, 40000)},
			{2, 1, req(2, ews, plc, 40001)}, {1, 2, req(2, ews, plc, 40001)},
		}, withEWS},
		{"no directions: the forwarded copy is told apart", forwarded(0, 40000), hmiPLC},
		// Captures stamped alike on two ports (to the microsecond, within
		// which a bridge forwards) cannot be told apart: neither counts, and
		// the frames stamped apart still place their hosts.
		{"no directions, the same time on two ports", append([]ngFrame{
			{1, 0, req(0, hmi, plc, 40000)}, {0, 0, req(0, hmi, plc, 40000)},
		}, forwarded(5, 40002)...), hmiPLC},
		{"no directions, and the copy written first (dumpcap's batches)", []ngFrame{
			{1, 0, req(1, hmi, plc, 40000)}, {1, 0, req(3, ews, plc, 40001)}, {0, 0, rsp(2, plc, hmi, 40000)},
			{0, 0, req(0, hmi, plc, 40000)}, {2, 0, req(2, ews, plc, 40001)}, {2, 0, rsp(3, plc, hmi, 40000)}, {1, 0, rsp(1, plc, hmi, 40000)},
		}, withEWS},
		{"a zone on two ports", []ngFrame{
			{0, 1, req(0, hmi, plc, 40000)}, {2, 1, req(5, "10.20.0.11", plc, 40001)},
		}, map[string]string{"net-10-20-0": "ports: [vops, vsup]  # every one of 2 packets from its 2 hosts came in on vops or vsup"}},
		{"a packet without a port: only a comment", []ngFrame{
			{0, 1, req(0, hmi, plc, 40000)}, {3, 0, req(5, "10.20.0.11", plc, 40001)},
		}, map[string]string{"net-10-20-0": "# ports: [vsup]  # 1 of 2 packets from its 2 hosts came in on vsup; the others' port is not known"}},
		{"no interface names: nothing", []ngFrame{{3, 0, req(0, hmi, plc, 40000)}}, map[string]string{"net-10-20-0": ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, y := parseDraft(t, learnNG(t, names, c.frames), DraftConfig{})
			for zone, want := range c.want {
				if got := zoneLine(y, zone); got != want {
					t.Errorf("zone %s: %q, want %q\n%s", zone, got, want, y)
				}
			}
		})
	}
	// The draft binds what it proposes.
	p, _ := parseDraft(t, learnNG(t, names, cases[0].frames), DraftConfig{})
	id, _ := p.ZoneByName("net-10-20-0")
	if !slices.Equal(p.Zones[id-1].Ports, []string{"vsup"}) {
		t.Errorf("parsed ports %v", p.Zones[id-1].Ports)
	}
}

func TestDraftPortsFromLog(t *testing.T) {
	line := func(src, dst, reason, port string, flow int) string {
		s := `{"time":"2024-03-04T06:00:00Z","event":"verdict","mode":"monitor","verdict":"accept","would":"accept","rule":"r","proto":"tcp","src":"` +
			src + `","dst":"` + dst + `","sport":40000,"dport":502,"flow":` + string(rune('0'+flow)) + `,"reason":"` + reason + `"`
		if port != "" {
			s += `,"in_port":"` + port + `"`
		}
		return s + "}\n"
	}
	cases := []struct {
		name, log string
		want      string
	}{
		{"in_port of new flows", line("10.20.0.10", "10.10.0.10", "new-flow", "vsup", 1) + line("10.20.0.11", "10.10.0.10", "new-flow", "vsup", 2),
			"ports: [vsup]  # every one of 2 packets from its 2 hosts came in on vsup"},
		{"a line without in_port", line("10.20.0.10", "10.10.0.10", "new-flow", "vsup", 1) + line("10.20.0.11", "10.10.0.10", "new-flow", "", 2),
			"# ports: [vsup]  # 1 of 2 packets from its 2 hosts came in on vsup; the others' port is not known"},
		{"a port conduit could not name", line("10.20.0.10", "10.10.0.10", "new-flow", "ifindex 9", 1), ""},
		{"a pickup's packet may be the reply: no evidence", line("10.20.0.10", "10.10.0.10", "pickup", "vctl", 1), ""},
		{"a spoofed-source line is no evidence", line("10.20.0.10", "10.10.0.10", "new-flow", "vsup", 1) +
			line("10.20.0.10", "10.10.0.10", "spoofed-source", "vent", 0),
			"ports: [vsup]  # every one of 1 packet from its 1 host came in on vsup"},
	}
	for _, c := range cases {
		l := NewLearner()
		if _, err := l.Log("verdicts.log", strings.NewReader(c.log)); err != nil {
			t.Fatal(err)
		}
		_, y := parseDraft(t, l.Matrix(), DraftConfig{})
		if strings.Contains(c.log, "spoofed-source") && (l.Matrix().Spoofed != 1 || l.Matrix().Malformed != 0 ||
			!strings.Contains(y, "1 verdict lines were spoofed-source")) {
			t.Errorf("%s: spoofed %d malformed %d\n%s", c.name, l.Matrix().Spoofed, l.Matrix().Malformed, y)
		}
		if got := zoneLine(y, "net-10-20-0"); got != c.want {
			t.Errorf("%s: %q, want %q\n%s", c.name, got, c.want, y)
		}
	}
}

func TestDraftKeepsGivenPorts(t *testing.T) {
	zones := []*Zone{{Name: "supervisory", Level: "2", CIDRs: nil, Ports: []string{"eth4"}, MACs: []string{"02:00:00:00:20:10"}}}
	zones[0].CIDRs = append(zones[0].CIDRs, mustPrefix("10.20.0.0/24"))
	m := learnNG(t, []string{"vsup"}, []ngFrame{{0, 1, tp{proto: tcp, src: "10.20.0.10", dst: "10.10.0.10", sport: 40000, dport: 502, flags: fS}}})
	p, y := parseDraft(t, m, DraftConfig{Zones: zones})
	id, _ := p.ZoneByName("supervisory")
	if z := p.Zones[id-1]; !slices.Equal(z.Ports, []string{"eth4"}) || len(z.MACs) != 1 {
		t.Errorf("given binding not kept: %v %v\n%s", z.Ports, z.MACs, y)
	}
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
