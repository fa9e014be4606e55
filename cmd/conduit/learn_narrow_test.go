package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/capture/synth"
	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/rules"
)

// rewriteCapture copies in to out, keeping the frames keep accepts after
// letting it edit them in place.
func rewriteCapture(t *testing.T, in, out string, keep func(frame []byte, p *packet.Parsed) bool) {
	t.Helper()
	var d packet.Parsed
	editCapture(t, in, out, func(rec *capture.Packet, frame []byte) bool {
		d.Decode(rec.Data)
		return keep(frame, &d)
	})
}

// editCapture copies in to out, keeping the records keep accepts after
// letting it edit their frame in place and their time (rec.Time).
func editCapture(t *testing.T, in, out string, keep func(rec *capture.Packet, frame []byte) bool) {
	t.Helper()
	data, err := os.ReadFile(in)
	if err != nil {
		t.Fatal(err)
	}
	r, err := capture.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, _ := capture.NewWriter(&buf, capture.LinkEthernet)
	var p capture.Packet
	for r.Next(&p) != io.EOF {
		// The record's frame is its 16-byte header's successor.
		frame := bytes.Clone(data[p.Offset+16 : p.Offset+16+int64(p.CapLen)])
		if keep(&p, frame) {
			w.WriteFrame(p.Time, frame)
		}
	}
	w.Flush()
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLearnNeverWidens: in the plant only the SCADA server (10.20.0.10)
// writes, to PLCs .10 and .11, while HMI 10.20.0.11 only reads from .10
// and .13. The draft must pass every request seen, yet give the HMI no
// write and no PLC it did not poll: the SCADA's write session replayed
// with the HMI's address is dropped at the write, in enforce.
func TestLearnNeverWidens(t *testing.T) {
	dir := t.TempDir()
	full := filepath.Join(dir, "plant.pcap")
	if _, err := synth.WriteFile(full, synth.Config{Seed: 7, Duration: time.Hour, PollScale: 20}); err != nil {
		t.Fatal(err)
	}

	// Every observed request passes (roundTrip asserts it), with the
	// default host limit and with a limit every side exceeds.
	for _, hosts := range []string{"4", "1"} {
		roundTrip(t, []string{full}, []string{full}, "--hosts", hosts)
	}

	draft := filepath.Join(dir, "draft.yaml")
	if code, _, errOut := evRun(t, runLearn, "-o", draft, "--hosts", "1", full); code != 0 {
		t.Fatalf("learn: exit %d: %s", code, errOut)
	}
	pol, err := rules.Load(draft)
	if err != nil {
		t.Fatal(err)
	}
	y, _ := os.ReadFile(draft)
	match := func(src, dst string) *rules.Rule {
		q := rules.Query{Src: netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst), Proto: packet.ProtoTCP, SrcPort: 40000, DstPort: 502}
		q.SrcZone, q.DstZone = pol.Zone(q.Src), pol.Zone(q.Dst)
		return &pol.Rules[pol.Match(&q)]
	}
	if r := match("10.20.0.10", "10.10.0.10"); !strings.Contains(modbusWrote(r.App), "write_single_register") {
		t.Fatalf("SCADA -> PLC .10 rule %s: %s\n%s", r.Name, r.App, y)
	}
	if r := match("10.20.0.11", "10.10.0.10"); !strings.Contains(modbusWrote(r.App), "preset: read_only") {
		t.Fatalf("HMI .11 -> PLC .10 rule %s: %s\n%s", r.Name, r.App, y)
	}
	// A PLC the HMI never polled: no rule but the cleanup.
	if r := match("10.20.0.11", "10.10.0.29"); !r.Cleanup {
		t.Errorf("HMI .11 -> PLC .29 (never polled by it) matches %s\n%s", r.Name, y)
	}
	for _, line := range strings.Split(string(y), "\n") {
		if strings.HasPrefix(line, "    from: net-") && !strings.Contains(string(y), "#   from the zone: all ") {
			t.Errorf("a zone-wide rule without saying why: %s", line)
		}
	}

	// The SCADA's sessions to PLC .10, with the HMI's address.
	scada, hmi := []byte{10, 20, 0, 10}, []byte{10, 20, 0, 11}
	plc := []byte{10, 10, 0, 10}
	forged := filepath.Join(dir, "forged.pcap")
	rewriteCapture(t, full, forged, func(frame []byte, p *packet.Parsed) bool {
		if p.Proto != packet.ProtoTCP || p.DstPort != 502 && p.SrcPort != 502 {
			return false
		}
		for _, pair := range [][2][]byte{{scada, plc}, {plc, scada}} {
			if i := bytes.Index(frame, append(bytes.Clone(pair[0]), pair[1]...)); i >= 0 {
				if pair[0][1] == 20 {
					copy(frame[i:], hmi)
				} else {
					copy(frame[i+4:], hmi)
				}
				return true
			}
		}
		return false
	})
	events := filepath.Join(dir, "events.log")
	code, out, errOut := evRun(t, runReplay, "-c", draft, "--mode", "enforce", "--json", "--events", events, forged)
	if code != 0 {
		t.Fatalf("replay: exit %d: %s", code, errOut)
	}
	s := decodeSummary(t, out)
	data, err := os.ReadFile(events)
	if err != nil {
		t.Fatal(err)
	}
	writes := 0
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var ev struct {
			Event, Verdict, Src, Dst, Reason, Rule string
			App                                    struct{ Proto, Function string }
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Event != "verdict" || ev.Verdict != "drop" {
			continue
		}
		if ev.Src == "10.20.0.11" && ev.Reason == "app-violation" && ev.App.Function == "write_single_register" {
			writes++
		}
	}
	if writes == 0 || s.Verdicts.Drop == 0 || s.Packets == 0 {
		t.Errorf("the HMI's forged writes: %d app-violation drops, %+v\n%s", writes, s, data)
	}
}
