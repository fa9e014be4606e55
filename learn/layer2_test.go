package learn

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/rules"
)

// l2Frame is a frame of ngFile, or with raw a whole Ethernet frame.
type l2Frame struct {
	iface int
	dir   uint32
	pkt   tp
	raw   []byte
}

// learnL2 learns a pcapng of ngFile's IP frames and raw frames, in order.
func learnL2(t *testing.T, names []string, frames []l2Frame) *Matrix {
	t.Helper()
	var out bytes.Buffer
	head := ngFile(names, nil) // the section and its interfaces
	out.Write(head)
	for _, f := range frames {
		if f.raw == nil {
			out.Write(ngFile(names, []ngFrame{{f.iface, f.dir, f.pkt}})[len(head):])
			continue
		}
		body := bodyOf(uint64(t0+int64(f.pkt.at)), f)
		if f.dir != 0 {
			body = binary.LittleEndian.AppendUint16(binary.LittleEndian.AppendUint16(body, 2), 4) // epb_flags
			body = binary.LittleEndian.AppendUint32(body, f.dir)
			body = binary.LittleEndian.AppendUint32(body, 0) // end of options
		}
		l := uint32(12 + len(body))
		out.Write(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 6), l))
		out.Write(body)
		out.Write(binary.LittleEndian.AppendUint32(nil, l))
	}
	return learnCapture(t, "l2.pcapng", &out)
}

func bodyOf(ts uint64, f l2Frame) []byte {
	body := binary.LittleEndian.AppendUint32(nil, uint32(f.iface))
	body = binary.LittleEndian.AppendUint32(body, uint32(ts>>32))
	body = binary.LittleEndian.AppendUint32(body, uint32(ts))
	body = binary.LittleEndian.AppendUint32(body, uint32(len(f.raw)))
	body = binary.LittleEndian.AppendUint32(body, uint32(len(f.raw)))
	body = append(body, f.raw...)
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	return body
}

func l2Eth(et uint16, inner ...byte) []byte {
	f := []byte{1, 0x0c, 0xcd, 1, 0, 1, 2, 0, 0, 0, 0x10, 0x10, byte(et >> 8), byte(et)}
	return append(append(f, inner...), make([]byte, 46)...)
}

// TestDraftLayer2: learn drafts the layer2 section from the frames without
// IP it saw: ARP always, each EtherType seen (tagged frames by what they
// carry), scoped from the zones whose ports all its frames came in on,
// unscoped where a port is unknown or no zone's; 802.3 frames as llc. The draft passes check, and its section allows each
// frame seen as replay judges it.
func TestDraftLayer2(t *testing.T) {
	hmi, plc := "10.20.0.10", "10.10.0.10"
	req := tp{at: 0, proto: tcp, src: hmi, dst: plc, sport: 40000, dport: 502, flags: fS}
	rsp := tp{at: time.Millisecond, proto: tcp, src: plc, dst: hmi, sport: 502, dport: 40000, flags: fS | fA}
	at := func(ms int) tp { return tp{at: time.Duration(ms) * time.Millisecond} }
	names := []string{"vsup", "vctl", "vops", ""}
	frames := []l2Frame{
		{0, 1, req, nil}, {1, 1, rsp, nil},
		{1, 1, at(2), l2Eth(0x88b8)},                         // GOOSE from the PLC's port
		{1, 2, at(2), l2Eth(0x88b8)},                         // its copy leaving: not counted
		{1, 1, at(3), l2Eth(0x8100, 0x00, 0x05, 0x88, 0x92)}, // tagged PROFINET from the PLC's port
		{0, 1, at(4), l2Eth(0x8892)},                         // and from the HMI's
		{2, 1, at(5), l2Eth(0x88f7)},                         // PTP from a port no zone has
		{3, 0, at(6), l2Eth(0x9000)},                         // a port the capture does not name
		{0, 1, at(7), l2Eth(0x0026, 0x42, 0x42, 0x03)},       // STP
	}
	m := learnL2(t, names, frames)
	seen := map[uint16]uint64{}
	for _, s := range m.Layer2() {
		seen[s.EtherType] = s.Frames
	}
	if seen[0x88b8] != 1 || seen[0x8892] != 2 || seen[0x88f7] != 1 || seen[0x9000] != 1 || seen[0] != 1 || len(seen) != 5 {
		t.Errorf("seen %v", seen)
	}
	p, y := parseDraft(t, m, DraftConfig{})
	draftHas(t, y,
		"    - arp  # not seen; IPv4 needs it\n",
		"    - {ethertype: goose, from: net-10-10-0}  # 1 frame, every one in on vctl\n",
		"    - {ethertype: profinet, from: [net-10-10-0, net-10-20-0]}  # 2 frames, every one in on vctl or vsup\n",
		"    - ptp  # 1 frame, in on vops (not every one a zone's port)\n",
		"    - 0x9000  # 1 frame; the port of 1 is not known\n",
		"    - {ethertype: llc, from: net-10-20-0}  # 1 frame, every one in on vsup\n",
	)
	l := &p.Layer2
	if !l.Written || l.Mode != rules.ModeMonitor || len(l.Allow) != 6 {
		t.Fatalf("parsed layer2 %+v", l)
	}
	for _, c := range []struct {
		t       uint16
		tagged  bool
		in, out string
		want    bool
	}{
		{0x88b8, false, "vctl", "vsup", true}, {0x88b8, false, "vsup", "vctl", false},
		{0x8892, true, "vctl", "vsup", true}, {0x8892, false, "vsup", "vctl", true}, {0x8892, false, "vops", "vctl", false},
		{0x88f7, false, "vops", "vctl", true}, {0x9000, false, "", "", true}, {0x0806, false, "vops", "vsup", true},
		{0x88ba, false, "", "", false},
	} {
		if got := l.Judge(c.t, c.tagged, c.in, c.out) >= 0; got != c.want {
			t.Errorf("%#x tagged %v %s->%s: allowed %v, want %v", c.t, c.tagged, c.in, c.out, got, c.want)
		}
	}
	// ARP seen: no comment that it was not.
	m2 := learnL2(t, names, []l2Frame{{0, 1, req, nil}, {0, 1, at(1), l2Eth(0x0806)}})
	if _, y2 := parseDraft(t, m2, DraftConfig{}); !strings.Contains(y2, "    - {ethertype: arp, from: net-10-20-0}  # 1 frame, every one in on vsup\n") {
		t.Errorf("draft with ARP seen:\n%s", y2)
	}
}

// TestLayer2FromLog: the daemon's lines of refused frames teach learn
// their EtherType and port, as a capture's frames do.
func TestLayer2FromLog(t *testing.T) {
	log := `{"time":"2026-12-01T10:00:00Z","level":"INFO","msg":"verdict","event":"verdict","mode":"monitor","verdict":"accept","would":"accept","rule":"hmi","from_zone":"sup","to_zone":"ctl","proto":"tcp","src":"10.20.0.10","dst":"10.10.0.10","sport":40000,"dport":502,"flow":1,"reason":"new-flow","in_port":"vsup"}
{"time":"2026-12-01T10:00:01Z","level":"WARN","msg":"verdict","event":"verdict","mode":"monitor","verdict":"accept","would":"drop","would_drop":true,"rule":"default","action":"deny","layer2":true,"ethertype":"0x8892","ethertype_name":"profinet","src_mac":"02:00:00:00:20:10","dst_mac":"02:00:00:00:10:10","in_port":"vsup","out_port":"vctl","reason":"layer2-deny"}
`
	l := NewLearner()
	if n, err := l.Log("conduit.log", strings.NewReader(log)); err != nil || n != 2 {
		t.Fatalf("Log = %d, %v", n, err)
	}
	_, y := parseDraft(t, l.Matrix(), DraftConfig{})
	if !strings.Contains(y, "    - {ethertype: profinet, from: net-10-20-0}  # 1 frame, every one in on vsup\n") {
		t.Errorf("draft from the log:\n%s", y)
	}
}
