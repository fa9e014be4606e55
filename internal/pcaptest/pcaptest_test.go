package pcaptest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/capture"
)

// TestCaptures checks the reader against per-capture figures taken with
// tshark 4.0: frames matching `tcp && ip.len <= frame.cap_len - 14` (resp.
// udp), and the sum of tcp.len over them.
func TestCaptures(t *testing.T) {
	type counts struct{ tcp, udp, tcpBytes int }
	want := map[string]counts{
		"dnp3/cold_restart_and_response.pcap":                {10, 0, 32},
		"dnp3/direct_operate_crob_malform_but_good_crc.pcap": {1, 0, 35},
		"dnp3/directoperate_and_response.pcap":               {10, 0, 72},
		"dnp3/dnp3.pcap":                                     {214, 0, 3172},
		"dnp3/dnp3_file_read.pcap":                           {30, 0, 1305},
		"dnp3/dnp3_link_only.pcap":                           {35, 0, 4409},
		"dnp3/dnp3_read.pcap":                                {10, 0, 162},
		"dnp3/dnp3_select_operate.pcap":                      {13, 0, 144},
		"dnp3/dnp3_write.pcap":                               {10, 0, 42},
		"enip/cip-multiple-1.pcap":                           {1, 0, 210},
		"enip/cip_start_plc.pcap":                            {1, 0, 52},
		"enip/cip_stop_plc.pcap":                             {1, 0, 52},
		"enip/cip_unlock_cpu.pcap":                           {1, 0, 56},
		"enip/enip_test.pcap":                                {11, 0, 99},
		"modbus/fuzz-72.pcap":                                {34, 0, 339},
		"modbus/modbusSmall.pcap":                            {160, 6, 384},
		"modbus/modbus_test_data_part1.pcap":                 {118, 0, 1469},
		"modbus/modbus_test_data_part2.pcap":                 {350, 0, 2970},
		"s7/s7comm_downloading_block_db1.pcap":               {93, 0, 2917},
		"s7/s7comm_varservice_libnodavedemo.pcap":            {29, 0, 604},
		"s7/snap7_s300_everything.pcapng":                    {64, 0, 3756},
		"s7/snap7_s300_stop.pcapng":                          {2, 0, 53},
	}
	covered := 0
	for _, proto := range []string{"dnp3", "enip", "modbus", "s7"} {
		folder := map[string]counts{}
		for rel, w := range want {
			if name, ok := strings.CutPrefix(rel, proto+"/"); ok {
				folder[name] = w
			}
		}
		covered += len(folder)
		Table(t, proto, folder, func(t *testing.T, path string, w counts) {
			segs, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var tcp, udp, tcpBytes int
			for _, s := range segs {
				switch s.Proto {
				case TCP:
					tcp++
					tcpBytes += len(s.Payload)
				case UDP:
					udp++
				}
			}
			if tcp != w.tcp || udp != w.udp || tcpBytes != w.tcpBytes {
				t.Errorf("tcp=%d udp=%d tcp bytes=%d, want %d %d %d", tcp, udp, tcpBytes, w.tcp, w.udp, w.tcpBytes)
			}
		})
	}
	if covered != len(want) {
		t.Errorf("%d of the %d expected captures are in no protocol folder", len(want)-covered, len(want))
	}
}

// TestFirstSegment pins the decoded fields of one known frame: frame 8 of
// modbus_test_data_part1.pcap, a diagnostics request from port 2578.
func TestFirstSegment(t *testing.T) {
	dir := Dir(t)
	segs, err := ReadFile(filepath.Join(dir, "modbus", "modbus_test_data_part1.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range segs {
		if len(s.Payload) == 0 {
			continue
		}
		if s.Frame != 8 || s.Proto != TCP || s.Src.Port() != 2578 || s.Dst.Port() != 502 || len(s.Payload) != 12 || s.Flags&ACK == 0 {
			t.Fatalf("first data segment = %+v", s)
		}
		if fc := s.Payload[7]; fc != 8 {
			t.Errorf("function code %d, want 8", fc)
		}
		return
	}
	t.Fatal("no data segment")
}

// TestDecodeSynthetic covers the branches the captures lack: VLAN, UDP,
// IPv6, raw IP, IP fragments and a truncated IPv4 length.
func TestDecodeSynthetic(t *testing.T) {
	udp := []byte{0x4e, 0x20, 0x4e, 0x20, 0, 10, 0, 0, 0xaa, 0xbb}
	ip4 := func(proto byte, frag uint16, total int, l4 []byte) []byte {
		b := make([]byte, 20, 20+len(l4))
		b[0] = 0x45
		binary.BigEndian.PutUint16(b[2:], uint16(total))
		binary.BigEndian.PutUint16(b[6:], frag)
		b[9] = proto
		copy(b[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
		return append(b, l4...)
	}
	ip6 := make([]byte, 40, 40+len(udp))
	ip6[0] = 0x60
	binary.BigEndian.PutUint16(ip6[4:], uint16(len(udp)))
	ip6[6] = UDP
	ip6 = append(ip6, udp...)
	eth := func(et uint16, vlan bool, p []byte) []byte {
		b := make([]byte, 12)
		if vlan {
			b = append(b, 0x81, 0x00, 0, 5)
		}
		b = binary.BigEndian.AppendUint16(b, et)
		return append(b, p...)
	}
	tests := []struct {
		name string
		link uint32
		b    []byte
		ok   bool
	}{
		{"ethernet udp", LinkEthernet, eth(0x0800, false, ip4(UDP, 0, 30, udp)), true},
		{"vlan udp", LinkEthernet, eth(0x0800, true, ip4(UDP, 0, 30, udp)), true},
		{"ipv6 udp", LinkEthernet, eth(0x86dd, false, ip6), true},
		{"raw ipv4", LinkRaw, ip4(UDP, 0, 30, udp), true},
		{"arp", LinkEthernet, eth(0x0806, false, ip4(UDP, 0, 30, udp)), false},
		{"more fragments", LinkRaw, ip4(UDP, 0x2000, 30, udp), false},
		{"later fragment", LinkRaw, ip4(UDP, 0x0001, 30, udp), false},
		{"ip length beyond frame", LinkRaw, ip4(UDP, 0, 31, udp), false},
		{"udp length beyond ip", LinkRaw, ip4(UDP, 0, 30, append([]byte{0x4e, 0x20, 0x4e, 0x20, 0, 11}, udp[6:]...)), false},
		{"icmp", LinkRaw, ip4(1, 0, 30, udp), false},
		{"unknown link", 999, ip4(UDP, 0, 30, udp), false},
	}
	for _, tt := range tests {
		s, ok := Decode(tt.link, tt.b)
		if ok != tt.ok {
			t.Errorf("%s: ok=%v, want %v", tt.name, ok, tt.ok)
			continue
		}
		if ok && (s.Proto != UDP || s.Dst.Port() != 20000 || string(s.Payload) != "\xaa\xbb") {
			t.Errorf("%s: got %+v", tt.name, s)
		}
	}
}

// TestFramesAgreeWithReadFile checks that Frames and Decode see the same
// segments as ReadFile, and a truncated file yields what precedes the cut.
func TestFramesAgreeWithReadFile(t *testing.T) {
	path := filepath.Join(Dir(t), "modbus", "modbus_test_data_part1.pcap")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	frames, err := Frames(data)
	if err != nil {
		t.Fatal(err)
	}
	segs, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var decoded []Segment
	for _, f := range frames {
		if s, ok := Decode(f.LinkType, f.Data); ok {
			decoded = append(decoded, s)
		}
	}
	if len(frames) != 118 || len(decoded) != len(segs) {
		t.Fatalf("%d frames, %d decoded, %d read", len(frames), len(decoded), len(segs))
	}
	for i, s := range decoded {
		if s.Src != segs[i].Src || s.Seq != segs[i].Seq || !bytes.Equal(s.Payload, segs[i].Payload) {
			t.Fatalf("segment %d: %+v, ReadFile %+v", i, s, segs[i])
		}
	}
	short, err := Frames(data[:len(data)-1])
	if !errors.Is(err, capture.ErrTruncated) || len(short) != len(frames)-1 {
		t.Errorf("cut file: %d frames, %v", len(short), err)
	}
}
