package synth

import (
	"bytes"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/engine/packet"
	"github.com/conduit-ot/conduit/proto"
	"github.com/conduit-ot/conduit/proto/dnp3"
	"github.com/conduit-ot/conduit/proto/enip"
	"github.com/conduit-ot/conduit/proto/modbus"
	"github.com/conduit-ot/conduit/proto/s7"
)

func generate(t testing.TB, cfg Config) ([]byte, Stats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := Write(&buf, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), st
}

func TestDeterministic(t *testing.T) {
	a, _ := generate(t, Config{Seed: 7, Packets: 20000})
	b, _ := generate(t, Config{Seed: 7, Packets: 20000})
	c, _ := generate(t, Config{Seed: 8, Packets: 20000})
	if sha256.Sum256(a) != sha256.Sum256(b) {
		t.Error("the same seed gave two different captures")
	}
	if bytes.Equal(a, c) {
		t.Error("different seeds gave the same capture")
	}
}

func TestLimits(t *testing.T) {
	_, st := generate(t, Config{Packets: 5000})
	if st.Frames != 5000 {
		t.Errorf("Packets 5000: %d frames", st.Frames)
	}
	_, st = generate(t, Config{Duration: 10 * time.Minute, PollScale: 10})
	if d := st.Last.Sub(st.First); d > 10*time.Minute || d < 9*time.Minute {
		t.Errorf("Duration 10m: capture spans %s", d)
	}
	if _, err := Write(io.Discard, Config{}); err == nil {
		t.Error("no limit: no error")
	}
}

// TestProtocolsParse reads a generated capture back and checks that every
// industrial payload parses with the engine's protocol parsers, in time
// order, with valid IP, TCP and UDP framing.
func TestProtocolsParse(t *testing.T) {
	file, st := generate(t, Config{Seed: 3, Duration: 3 * time.Hour, PollScale: 100})
	r, err := capture.NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	var (
		p     capture.Packet
		d     packet.Parsed
		mb    modbus.PDU
		df    dnp3.Frame
		sp    s7.PDU
		ep    enip.PDU
		last  int64
		count = map[uint16]int{}
	)
	for {
		err := r.Next(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.Time < last {
			t.Fatalf("packet %d goes back in time", p.Number)
		}
		last = p.Time
		if reason := d.Decode(p.Data); reason != packet.ReasonOK {
			t.Fatalf("packet %d: %s", p.Number, reason)
		}
		if d.Proto != packet.ProtoTCP || len(d.Payload) == 0 {
			continue
		}
		port, req := d.DstPort, true
		if d.SrcPort < d.DstPort {
			port, req = d.SrcPort, false
		}
		// One direction for every parser: they all take a proto.Side.
		dir := proto.Request
		if !req {
			dir = proto.Response
		}
		var perr string
		switch port {
		case 502:
			_, e := modbus.Parse(d.Payload, dir, &mb)
			perr = string(e)
		case 20000:
			_, e := dnp3.Parse(d.Payload, &df)
			perr = string(e)
		case 102:
			_, e := s7.Parse(d.Payload, dir, &sp)
			perr = string(e)
		case 44818:
			_, e := enip.Parse(d.Payload, dir, &ep)
			perr = string(e)
		default:
			continue
		}
		if perr != "" {
			t.Errorf("packet %d (port %d, request %v): %s: % x", p.Number, port, req, perr, d.Payload)
		}
		count[port]++
	}
	for _, port := range []uint16{502, 20000, 102, 44818} {
		if count[port] == 0 {
			t.Errorf("no payload on port %d", port)
		}
	}
	if r.Stats().Records != st.Frames || r.Stats().Packets != st.IP {
		t.Errorf("reader %+v, generator %+v", r.Stats(), st)
	}
}

func TestWriteFile(t *testing.T) {
	cfg := Config{Seed: 7, Packets: 2000}
	want, wantSt := generate(t, cfg)
	path := filepath.Join(t.TempDir(), "plant.pcap")
	st, err := WriteFile(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) || st != wantSt {
		t.Errorf("the file (%d bytes, %+v) is not what Write gives (%d bytes, %+v)", len(got), st, len(want), wantSt)
	}
	if _, err := WriteFile(filepath.Join(path, "not-a-dir", "x.pcap"), cfg); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}
