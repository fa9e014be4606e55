package capture

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReader feeds arbitrary files to the reader: it must never panic,
// hang or return a packet outside the record it came from, and it must end
// with io.EOF or an *Error.
func FuzzReader(f *testing.F) {
	v4, v6 := ipv4UDP(1, 2, 8), ipv6UDP(8)
	f.Add(pcapFile(false, false, LinkEthernet, []rec{{ts: 1, frame: ether(0x0800, []uint16{0x8100}, v4)}, {ts: 2, frame: ether(0x86dd, nil, v6)}}))
	f.Add(pcapFile(true, true, LinkSLL, []rec{{ts: 1, frame: sll(0x0800, v4)}}))
	f.Add(pcapFile(false, true, LinkSLL2, []rec{{ts: 1, frame: sll2(0x86dd, v6)}}))
	f.Add(pcapFile(false, false, LinkNull, []rec{{ts: 1, frame: null(2, false, v4)}}))
	f.Add(pcapFile(false, false, LinkRaw, []rec{{ts: 1, frame: v4}}))
	f.Add(newNG(false).section().iface(LinkEthernet, newNG(false).opt(9, []byte{9})).epb(0, 1, ether(0x0800, nil, v4)).spb(ether(0x0800, nil, v4)).bytes())
	f.Add(newNG(true).section().iface(LinkRaw).obsolete(0, 1, v6).bytes())
	named := newNG(false)
	f.Add(named.section().iface(LinkEthernet, named.opt(2, []byte("eth1"))).epb(0, 1, ether(0x0800, nil, v4)).bytes())
	f.Add(pcapFile(false, false, LinkEthernet, []rec{{ts: 1, frame: ether(0x88b8, nil, []byte{0, 1, 0, 8})},
		{ts: 2, frame: ether(0x8892, []uint16{0x8100}, []byte{0xfe, 0xfd})}, {ts: 3, frame: sll(0x0806, []byte{0, 1})}}))
	// Real captures, when present, are seeds too.
	dir := os.Getenv("CONDUIT_CAPTURES")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared", "captures")
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*", "*.pcap*"))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil && len(b) < 64<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		r, err := NewReader(bytes.NewReader(file))
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Offset >= pcapFileHeader || e.Packet != 0 {
				t.Fatalf("NewReader: %v", err)
			}
			return
		}
		// Frames without IP reach the hook, each one a record the reader counted.
		nonIP := 0
		r.OnNonIP = func(f NonIP) {
			if nonIP++; nonIP > r.Stats().NonIP || f.EtherType != 0 && f.EtherType < 0x0600 {
				t.Fatalf("non-IP frame %d of %d counted: %+v", nonIP, r.Stats().NonIP, f)
			}
		}
		var p Packet
		lastNum, lastOff := 0, int64(-1)
		for i := 0; ; i++ {
			if i > len(file) {
				t.Fatal("more packets than bytes: the reader does not advance")
			}
			err := r.Next(&p)
			if err == io.EOF {
				return
			}
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Offset < 0 || e.Offset > int64(len(file)) || e.Packet != r.Stats().Records+1 {
					t.Fatalf("Next: %v (stats %+v)", err, r.Stats())
				}
				return
			}
			if p.Number <= lastNum || p.Offset <= lastOff || p.Offset >= int64(len(file)) {
				t.Fatalf("packet %d at %d after packet %d at %d", p.Number, p.Offset, lastNum, lastOff)
			}
			if len(p.Data) > p.CapLen || !within(file, p.Data) {
				t.Fatalf("packet data (%d bytes) is not inside its %d-byte frame in the file", len(p.Data), p.CapLen)
			}
			lastNum, lastOff = p.Number, p.Offset
		}
	})
}

// within reports whether d's bytes equal some bytes of file (the reader
// copies from the file, so the packet must appear in it).
func within(file, d []byte) bool {
	return len(d) == 0 || bytes.Contains(file, d)
}
