package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

type got struct {
	ts   int64
	data []byte
	num  int
	link LinkType
}

// readAll returns the packets of a capture and the error that ended it.
func readAll(t testing.TB, file []byte) ([]got, Stats, error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(file))
	if err != nil {
		return nil, Stats{}, err
	}
	var out []got
	var p Packet
	for {
		err := r.Next(&p)
		if err != nil {
			if err2 := r.Next(&p); err2 != err {
				t.Errorf("the error is not sticky: %v then %v", err, err2)
			}
			if err == io.EOF {
				err = nil
			}
			return out, r.Stats(), err
		}
		out = append(out, got{p.Time, bytes.Clone(p.Data), p.Number, p.Link})
	}
}

func TestLinkTypes(t *testing.T) {
	v4, v6 := ipv4UDP(1, 2, 5), ipv6UDP(3)
	arp := make([]byte, 28)
	cases := []struct {
		name   string
		link   LinkType
		frames [][]byte
		want   [][]byte // IP packets expected, in order
	}{
		{"ethernet", LinkEthernet, [][]byte{ether(0x0800, nil, v4), ether(0x86dd, nil, v6), ether(0x0806, nil, arp)}, [][]byte{v4, v6}},
		{"802.1Q", LinkEthernet, [][]byte{ether(0x0800, []uint16{0x8100}, v4)}, [][]byte{v4}},
		{"802.1ad QinQ", LinkEthernet, [][]byte{ether(0x86dd, []uint16{0x88a8, 0x8100}, v6)}, [][]byte{v6}},
		{"0x9100 QinQ", LinkEthernet, [][]byte{ether(0x0800, []uint16{0x9100, 0x8100}, v4)}, [][]byte{v4}},
		{"tag without payload", LinkEthernet, [][]byte{{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x81, 0x00, 0, 1}}, nil},
		{"short ethernet", LinkEthernet, [][]byte{{1, 2, 3}}, nil},
		{"sll", LinkSLL, [][]byte{sll(0x0800, v4), sll(0x86dd, v6), sll(0x0806, arp)}, [][]byte{v4, v6}},
		{"sll2", LinkSLL2, [][]byte{sll2(0x86dd, v6), sll2(0x0800, v4), sll2(0x88cc, arp)}, [][]byte{v6, v4}},
		{"raw", LinkRaw, [][]byte{v4, v6, {0x10, 0, 0}}, [][]byte{v4, v6}},
		{"ipv4", LinkIPv4, [][]byte{v4}, [][]byte{v4}},
		{"ipv6", LinkIPv6, [][]byte{v6}, [][]byte{v6}},
		{"null little-endian", LinkNull, [][]byte{null(2, false, v4), null(30, false, v6), null(10, false, v6), null(7, false, v4)}, [][]byte{v4, v6, v6}},
		{"null big-endian", LinkNull, [][]byte{null(2, true, v4), null(24, true, v6), null(28, true, v6)}, [][]byte{v4, v6, v6}},
		{"loop", LinkLoop, [][]byte{null(2, true, v4)}, [][]byte{v4}},
	}
	for _, tc := range cases {
		for _, format := range []string{"pcap", "pcapng"} {
			t.Run(tc.name+"/"+format, func(t *testing.T) {
				var file []byte
				if format == "pcap" {
					var recs []rec
					for i, f := range tc.frames {
						recs = append(recs, rec{ts: int64(i+1) * 1e9, frame: f})
					}
					file = pcapFile(false, false, tc.link, recs)
				} else {
					n := newNG(false).section().iface(tc.link)
					for i, f := range tc.frames {
						n.epb(0, uint64(i+1)*1e6, f)
					}
					file = n.bytes()
				}
				pkts, st, err := readAll(t, file)
				if err != nil {
					t.Fatal(err)
				}
				if len(pkts) != len(tc.want) {
					t.Fatalf("%d packets, want %d", len(pkts), len(tc.want))
				}
				for i := range pkts {
					if !bytes.Equal(pkts[i].data, tc.want[i]) {
						t.Errorf("packet %d = % x, want % x", i, pkts[i].data, tc.want[i])
					}
					if pkts[i].link != tc.link {
						t.Errorf("packet %d link %v", i, pkts[i].link)
					}
				}
				if st.Records != len(tc.frames) || st.Packets != len(tc.want) || st.NonIP != len(tc.frames)-len(tc.want) {
					t.Errorf("stats %+v for %d frames, %d IP", st, len(tc.frames), len(tc.want))
				}
			})
		}
	}
}

func TestPcapVariants(t *testing.T) {
	v4 := ipv4UDP(1, 2, 10)
	recs := []rec{
		{ts: 1_700_000_000_123_456_789, frame: ether(0x0800, nil, v4)},
		{ts: 1_700_000_100_000_000_001, frame: ether(0x0806, nil, make([]byte, 28))},
		{ts: 1_700_000_200_999_999_999, frame: ether(0x0800, nil, v4)[:14+30], orig: 14 + len(v4)},
	}
	for _, be := range []bool{false, true} {
		for _, nano := range []bool{false, true} {
			pkts, st, err := readAll(t, pcapFile(be, nano, LinkEthernet, recs))
			if err != nil {
				t.Fatal(err)
			}
			if len(pkts) != 2 {
				t.Fatalf("be=%v nano=%v: %d packets", be, nano, len(pkts))
			}
			for i, want := range []struct {
				ts  int64
				num int
			}{{recs[0].ts, 1}, {recs[2].ts, 3}} {
				if !nano {
					want.ts -= want.ts % 1e3
				}
				if pkts[i].ts != want.ts || pkts[i].num != want.num {
					t.Errorf("be=%v nano=%v packet %d: ts %d num %d, want %d %d", be, nano, i, pkts[i].ts, pkts[i].num, want.ts, want.num)
				}
			}
			if !bytes.Equal(pkts[1].data, v4[:30]) {
				t.Errorf("snapped packet = % x", pkts[1].data)
			}
			if st.Truncated != 1 || st.NonIP != 1 || st.Records != 3 {
				t.Errorf("stats %+v", st)
			}
		}
	}
}

func TestPcapNGVariants(t *testing.T) {
	v4, v6 := ipv4UDP(1, 2, 3), ipv6UDP(4)
	for _, be := range []bool{false, true} {
		n := newNG(be).section().
			iface(LinkEthernet).
			iface(LinkRaw, newNG(be).opt(9, []byte{9})).             // ns resolution
			iface(LinkSLL, newNG(be).opt(9, []byte{0x80 | 10})).     // 2^-10 s
			iface(LinkSLL2, newNG(be).opt(14, be64(be, 1000)), nil). // µs, offset 1000 s
			iface(LinkEthernet, newNG(be).opt(9, []byte{3}))         // ms
		n.block(4, make([]byte, 8)). // name resolution block: skipped
						epb(0, 1_500_000, ether(0x0800, nil, v4)).
						epb(1, 2_000_000_007, v6).
						epb(2, 3*1024+512, sll(0x0800, v4)).
						epb(3, 4_000_000, sll2(0x86dd, v6)).
						epb(4, 5_250, ether(0x86dd, nil, v6)).
						obsolete(0, 6_000_000, ether(0x0800, nil, v4)).
						block(5, make([]byte, 16)). // interface statistics: skipped
						spb(ether(0x0800, nil, v4))
		// A second section in the other byte order resets the interfaces.
		n2 := newNG(!be).section().iface(LinkRaw).epb(0, 7_000_000, v4)
		file := append(bytes.Clone(n.bytes()), n2.bytes()...)
		pkts, st, err := readAll(t, file)
		if err != nil {
			t.Fatalf("be=%v: %v", be, err)
		}
		want := []struct {
			ts   int64
			data []byte
		}{
			{1_500_000_000, v4},
			{2_000_000_007, v6},
			{3_500_000_000, v4},
			{1004_000_000_000, v6},
			{5_250_000_000, v6},
			{6_000_000_000, v4},
			{0, v4}, // a simple packet has no timestamp
			{7_000_000_000, v4},
		}
		if len(pkts) != len(want) {
			t.Fatalf("be=%v: %d packets, want %d", be, len(pkts), len(want))
		}
		for i, w := range want {
			if pkts[i].ts != w.ts || !bytes.Equal(pkts[i].data, w.data) || pkts[i].num != i+1 {
				t.Errorf("be=%v packet %d: ts %d num %d % x, want ts %d % x", be, i, pkts[i].ts, pkts[i].num, pkts[i].data, w.ts, w.data)
			}
		}
		if st.Records != 8 || st.Packets != 8 {
			t.Errorf("stats %+v", st)
		}
	}
}

func be64(be bool, v uint64) []byte {
	if be {
		return binary.BigEndian.AppendUint64(nil, v)
	}
	return binary.LittleEndian.AppendUint64(nil, v)
}

func TestUnsupportedLinkType(t *testing.T) {
	_, err := NewReader(bytes.NewReader(pcapFile(false, false, 147, nil)))
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrCorrupt) || e.Offset != 20 {
		t.Fatalf("pcap with link type 147: %v", err)
	}
	// In pcapng, frames of an unsupported interface are skipped and counted.
	file := newNG(false).section().iface(147).iface(LinkRaw).epb(0, 1, []byte{1, 2, 3}).epb(1, 2, ipv4UDP(1, 2, 0)).bytes()
	pkts, st, err := readAll(t, file)
	if err != nil || len(pkts) != 1 || st.Unsupported != 1 {
		t.Fatalf("pkts %d stats %+v err %v", len(pkts), st, err)
	}
}

func TestNotACapture(t *testing.T) {
	for _, in := range [][]byte{nil, {0xd4}, []byte("mode: monitor\nzones: {}\n"), make([]byte, 100)} {
		_, err := NewReader(bytes.NewReader(in))
		var e *Error
		if !errors.As(err, &e) || e.Offset != 0 || e.Packet != 0 {
			t.Errorf("%q: %v", in, err)
		}
		if len(in) >= 4 && !errors.Is(err, ErrFormat) {
			t.Errorf("%q: %v, want ErrFormat", in, err)
		}
	}
}

// TestTruncated cuts valid files at every length: the reader returns
// exactly the packets wholly before the cut, then an error at the offset of
// the first incomplete record.
func TestTruncated(t *testing.T) {
	v4 := ipv4UDP(1, 2, 20)
	files := map[string][]byte{
		"pcap": pcapFile(false, true, LinkEthernet, []rec{{ts: 1e9, frame: ether(0x0800, nil, v4)}, {ts: 2e9, frame: ether(0x0806, nil, nil)}, {ts: 3e9, frame: ether(0x0800, nil, v4)}}),
		"pcapng": newNG(false).section().iface(LinkEthernet).epb(0, 1, ether(0x0800, nil, v4)).
			epb(0, 2, ether(0x0806, nil, nil)).epb(0, 3, ether(0x0800, nil, v4)).bytes(),
	}
	for name, file := range files {
		full, _, err := readAll(t, file)
		if err != nil || len(full) != 2 {
			t.Fatalf("%s: whole file: %d packets, %v", name, len(full), err)
		}
		for cut := 1; cut < len(file); cut++ {
			pkts, _, err := readAll(t, file[:cut])
			var e *Error
			if !errors.As(err, &e) {
				if isBoundary(int64(cut), file, name) {
					continue
				}
				t.Fatalf("%s cut at %d: no error (%d packets)", name, cut, len(pkts))
			}
			if e.Offset > int64(cut) {
				t.Errorf("%s cut at %d: error offset %d past the cut", name, cut, e.Offset)
			}
			// Every packet that ends before the cut was returned.
			for _, g := range full {
				if recordEnd(file, name, g.num) <= int64(cut) && !containsNum(pkts, g.num) {
					t.Errorf("%s cut at %d: packet %d (whole) not returned: %v", name, cut, g.num, err)
				}
			}
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrFormat) {
				t.Errorf("%s cut at %d: %v, want truncated", name, cut, err)
			}
		}
	}
}

func containsNum(ps []got, n int) bool {
	for _, p := range ps {
		if p.num == n {
			return true
		}
	}
	return false
}

// recordEnd is the offset just past the n-th packet record of a test file.
func recordEnd(file []byte, format string, n int) int64 {
	off := 24
	if format == "pcapng" {
		off = 0
	}
	seen := 0
	for off < len(file) {
		var l int
		if format == "pcap" {
			l = 16 + int(binary.LittleEndian.Uint32(file[off+8:]))
			seen++
		} else {
			l = int(binary.LittleEndian.Uint32(file[off+4:]))
			if binary.LittleEndian.Uint32(file[off:]) == 6 {
				seen++
			}
		}
		off += l
		if seen == n {
			return int64(off)
		}
	}
	return int64(len(file))
}

// isBoundary reports whether a file cut at cut ends exactly between records.
func isBoundary(cut int64, file []byte, format string) bool {
	for n := 1; n <= 3; n++ {
		if recordEnd(file, format, n) == cut {
			return true
		}
	}
	if format == "pcap" {
		return cut == 24
	}
	// pcapng: after the section header or the interface block.
	shb := int64(binary.LittleEndian.Uint32(file[4:]))
	return cut == shb || cut == shb+int64(binary.LittleEndian.Uint32(file[shb+4:]))
}

func TestCorrupt(t *testing.T) {
	v4 := ipv4UDP(1, 2, 4)
	good := pcapFile(false, false, LinkRaw, []rec{{ts: 1e9, frame: v4}, {ts: 2e9, frame: v4}})
	ngGood := newNG(false).section().iface(LinkRaw).epb(0, 1, v4).epb(0, 2, v4).bytes()
	second := int64(24 + 16 + len(v4))
	ngSecond := int64(len(ngGood)) - int64(32+len(v4)+(4-len(v4)%4)%4)
	cases := []struct {
		name    string
		file    []byte
		packets int   // returned before the error
		offset  int64 // of the error
		number  int   // packet number in the error
	}{
		{"pcap version", patch(good, 4, 3, 0), 0, 4, 0},
		{"pcap huge record", patch(good, int(second)+8, 0xff, 0xff, 0xff, 0x7f), 1, second, 2},
		{"pcapng block length not a multiple of 4", patch(ngGood, int(ngSecond)+4, 0x3d), 1, ngSecond + 4, 2},
		{"pcapng block length too small", patch(ngGood, int(ngSecond)+4, 8, 0, 0, 0), 1, ngSecond + 4, 2},
		{"pcapng trailing length differs", patch(ngGood, len(ngGood)-4, 0x70), 1, int64(len(ngGood)) - 4, 2},
		{"pcapng unknown interface", patch(ngGood, int(ngSecond)+8, 5), 1, ngSecond + 8, 2},
		{"pcapng captured length past block", patch(ngGood, int(ngSecond)+20, 0xff), 1, ngSecond + 20, 2},
		{"pcapng byte-order magic", patch(ngGood, 8, 0x11), 0, 8, 1},
		{"pcapng version", patch(ngGood, 12, 2), 0, 12, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pkts, _, err := readAll(t, tc.file)
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%d packets, err %v; want a corrupt error", len(pkts), err)
			}
			if len(pkts) != tc.packets || e.Offset != tc.offset || e.Packet != tc.number {
				t.Errorf("%d packets, error at byte %d packet %d (%v); want %d packets, byte %d packet %d",
					len(pkts), e.Offset, e.Packet, err, tc.packets, tc.offset, tc.number)
			}
		})
	}
}

func patch(b []byte, off int, v ...byte) []byte {
	b = bytes.Clone(b)
	copy(b[off:], v)
	return b
}

func TestErrorMessage(t *testing.T) {
	v4 := ipv4UDP(1, 2, 4)
	file := pcapFile(false, false, LinkRaw, []rec{{ts: 1e9, frame: v4}, {ts: 2e9, frame: v4}})
	_, _, err := readAll(t, file[:len(file)-3])
	want := "capture truncated at byte 72, in packet 2: the record needs 48 bytes, 45 are left"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}

// TestSmallReads feeds the reader one byte at a time, so that every record
// straddles reads.
func TestSmallReads(t *testing.T) {
	v4 := ipv4UDP(1, 2, 300)
	var recs []rec
	for i := range 50 {
		recs = append(recs, rec{ts: int64(i) * 1e6, frame: ether(0x0800, nil, v4)})
	}
	file := pcapFile(false, false, LinkEthernet, recs)
	r, err := NewReader(&oneByte{file})
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	n := 0
	for r.Next(&p) == nil {
		if !bytes.Equal(p.Data, v4) {
			t.Fatalf("packet %d differs", n)
		}
		n++
	}
	if n != 50 {
		t.Errorf("%d packets", n)
	}
}

type oneByte struct{ b []byte }

func (o *oneByte) Read(p []byte) (int, error) {
	if len(o.b) == 0 {
		return 0, io.EOF
	}
	p[0], o.b = o.b[0], o.b[1:]
	return 1, nil
}

// TestLargeRecord grows the buffer past its initial size.
func TestLargeRecord(t *testing.T) {
	big := make([]byte, 3<<20)
	copy(big, ipv4UDP(1, 2, 0))
	pkts, _, err := readAll(t, pcapFile(false, false, LinkRaw, []rec{{ts: 1, frame: big}, {ts: 2, frame: ipv4UDP(1, 2, 1)}}))
	if err != nil || len(pkts) != 2 || len(pkts[0].data) != 28 {
		t.Fatalf("%d packets, %v", len(pkts), err)
	}
}

func TestReadError(t *testing.T) {
	v4 := ipv4UDP(1, 2, 4)
	file := pcapFile(false, false, LinkRaw, []rec{{ts: 1e9, frame: v4}, {ts: 2e9, frame: v4}})
	boom := errors.New("disk on fire")
	r, err := NewReader(io.MultiReader(bytes.NewReader(file[:80]), &failing{boom}))
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	if err := r.Next(&p); err != nil {
		t.Fatal(err)
	}
	err = r.Next(&p)
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, boom) || e.Packet != 2 {
		t.Fatalf("%v", err)
	}
}

type failing struct{ err error }

func (f *failing) Read([]byte) (int, error) { return 0, f.err }

func TestNoAllocs(t *testing.T) {
	v4 := ipv4UDP(1, 2, 100)
	var recs []rec
	for i := range 20000 {
		recs = append(recs, rec{ts: int64(i) * 1e6, frame: ether(0x0800, []uint16{0x8100}, v4)})
	}
	for name, file := range map[string][]byte{
		"pcap":   pcapFile(false, false, LinkEthernet, recs),
		"pcapng": ngOf(recs),
	} {
		r, err := NewReader(bytes.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		var p Packet
		if n := testing.AllocsPerRun(10000, func() {
			if err := r.Next(&p); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: %.2f allocations per packet", name, n)
		}
	}
}

func ngOf(recs []rec) []byte {
	n := newNG(false).section().iface(LinkEthernet)
	for _, r := range recs {
		n.epb(0, uint64(r.ts/1e3), r.frame)
	}
	return n.bytes()
}

func TestWriterRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, LinkEthernet)
	if err != nil {
		t.Fatal(err)
	}
	v4 := ipv4UDP(9, 8, 7)
	for i := range 3 {
		if err := w.WriteFrame(1_700_000_000_000_000_123+int64(i), ether(0x0800, nil, v4)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if Detect(buf.Bytes()) != FormatPcap {
		t.Fatal("not detected as pcap")
	}
	pkts, _, err := readAll(t, buf.Bytes())
	if err != nil || len(pkts) != 3 {
		t.Fatalf("%d packets, %v", len(pkts), err)
	}
	for i, p := range pkts {
		if p.ts != 1_700_000_000_000_000_123+int64(i) || !bytes.Equal(p.data, v4) {
			t.Errorf("packet %d: %d % x", i, p.ts, p.data)
		}
	}
}

func BenchmarkNext(b *testing.B) {
	v4 := ipv4UDP(1, 2, 60)
	var recs []rec
	for i := range 100000 {
		recs = append(recs, rec{ts: int64(i) * 1e6, frame: ether(0x0800, nil, v4)})
	}
	for name, file := range map[string][]byte{"pcap": pcapFile(false, false, LinkEthernet, recs), "pcapng": ngOf(recs)} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(file) / len(recs)))
			b.ReportAllocs()
			var r *Reader
			var p Packet
			for b.Loop() {
				if r == nil || r.Next(&p) != nil {
					r, _ = NewReader(bytes.NewReader(file))
					r.Next(&p)
				}
			}
		})
	}
}
