package capfile

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// ipv4 is a minimal IPv4 header; its content does not matter to capfile.
var ipv4 = []byte{0x45, 0, 0, 20, 0, 0, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}

// order is what the writers below need from a byte order.
type order interface {
	binary.ByteOrder
	binary.AppendByteOrder
}

func ether(etype uint16, vlans int, payload []byte) []byte {
	b := make([]byte, 12, 64)
	for range vlans {
		b = binary.BigEndian.AppendUint16(b, 0x8100)
		b = binary.BigEndian.AppendUint16(b, 7)
	}
	b = binary.BigEndian.AppendUint16(b, etype)
	return append(b, payload...)
}

func pcapFile(bo order, link uint32, frames ...[]byte) []byte {
	var b []byte
	b = bo.AppendUint32(b, 0xa1b2c3d4)
	b = bo.AppendUint16(b, 2)
	b = bo.AppendUint16(b, 4)
	b = bo.AppendUint32(b, 0)
	b = bo.AppendUint32(b, 0)
	b = bo.AppendUint32(b, 65535)
	b = bo.AppendUint32(b, link)
	for _, f := range frames {
		b = bo.AppendUint32(b, 1)
		b = bo.AppendUint32(b, 2)
		b = bo.AppendUint32(b, uint32(len(f)))
		b = bo.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

func block(bo order, typ uint32, body []byte) []byte {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	b := bo.AppendUint32(nil, typ)
	b = bo.AppendUint32(b, n)
	b = append(b, body...)
	return bo.AppendUint32(b, n)
}

func pcapngFile(bo order, links []uint16, pkts [][]byte, ifcs []uint32) []byte {
	shb := bo.AppendUint32(nil, 0x1a2b3c4d)
	shb = bo.AppendUint16(shb, 1)
	shb = bo.AppendUint16(shb, 0)
	shb = bo.AppendUint64(shb, ^uint64(0))
	b := block(bo, 0x0a0d0d0a, shb)
	for _, l := range links {
		idb := bo.AppendUint16(nil, l)
		idb = bo.AppendUint16(idb, 0)
		idb = bo.AppendUint32(idb, 0)
		b = append(b, block(bo, 1, idb)...)
	}
	b = append(b, block(bo, 5, []byte{1, 2, 3, 4})...) // interface statistics: skipped
	for i, p := range pkts {
		epb := bo.AppendUint32(nil, ifcs[i])
		epb = bo.AppendUint64(epb, 0)
		epb = bo.AppendUint32(epb, uint32(len(p)))
		epb = bo.AppendUint32(epb, uint32(len(p)+4))
		b = append(b, block(bo, 6, append(epb, p...))...)
	}
	return b
}

func TestReadPcapBothByteOrders(t *testing.T) {
	frames := [][]byte{ether(0x0800, 0, ipv4), ether(0x0806, 0, make([]byte, 28)), ether(0x0800, 2, ipv4)}
	for _, bo := range []order{binary.LittleEndian, binary.BigEndian} {
		data := pcapFile(bo, LinkEthernet, frames...)
		if Detect(data) != Pcap {
			t.Fatalf("%v: Detect = %v, want Pcap", bo, Detect(data))
		}
		got, err := Read(data)
		if err != nil || len(got) != 3 {
			t.Fatalf("%v: Read = %d frames, %v", bo, len(got), err)
		}
		var ips int
		for _, f := range got {
			if ip, ok := IP(f); ok {
				ips++
				if !bytes.Equal(ip, ipv4) {
					t.Errorf("%v: IP() = % x, want % x", bo, ip, ipv4)
				}
			}
		}
		if ips != 2 {
			t.Errorf("%v: %d IP frames, want 2 (ARP must be skipped)", bo, ips)
		}
	}
}

func TestReadPcapNG(t *testing.T) {
	sll := append(make([]byte, 14), 0x08, 0x00)
	sll = append(sll, ipv4...)
	for _, bo := range []order{binary.LittleEndian, binary.BigEndian} {
		data := pcapngFile(bo, []uint16{LinkEthernet, LinkSLL},
			[][]byte{ether(0x0800, 1, ipv4), sll, ipv4}, []uint32{0, 1, 0})
		if Detect(data) != PcapNG {
			t.Fatalf("%v: Detect = %v, want PcapNG", bo, Detect(data))
		}
		got, err := Read(data)
		if err != nil || len(got) != 3 {
			t.Fatalf("%v: Read = %d frames, %v", bo, len(got), err)
		}
		if got[1].LinkType != LinkSLL || got[0].OrigLen != len(got[0].Data)+4 {
			t.Errorf("%v: frame 1 link %d, frame 0 orig %d", bo, got[1].LinkType, got[0].OrigLen)
		}
		for i, f := range got[:2] {
			if ip, ok := IP(f); !ok || !bytes.Equal(ip, ipv4) {
				t.Errorf("%v: frame %d: IP() = % x, %v", bo, i, ip, ok)
			}
		}
		if _, ok := IP(got[2]); ok { // raw IP on an Ethernet interface is too short
			t.Errorf("%v: frame 2 decoded as IP from a 20-byte Ethernet frame", bo)
		}
	}
}

func TestReadErrors(t *testing.T) {
	good := pcapFile(binary.LittleEndian, LinkEthernet, ether(0x0800, 0, ipv4))
	for name, data := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("hello world, not a capture"),
		"short hdr": good[:20],
		"cut frame": good[:len(good)-3],
		"cut rec":   good[:30],
		"ng cut":    pcapngFile(binary.LittleEndian, []uint16{1}, [][]byte{ipv4}, []uint32{0})[:40],
		"ng no ifc": pcapngFile(binary.LittleEndian, nil, [][]byte{ipv4}, []uint32{0}),
	} {
		if _, err := Read(data); err == nil {
			t.Errorf("%s: Read succeeded, want error", name)
		}
	}
}

func TestIPLinkTypes(t *testing.T) {
	v6 := append([]byte{0x60}, make([]byte, 39)...)
	sll2 := append([]byte{0x86, 0xdd}, make([]byte, 18)...)
	tests := []struct {
		name string
		f    Frame
		want []byte
	}{
		{"raw v4", Frame{LinkType: LinkRaw, Data: ipv4}, ipv4},
		{"raw v6", Frame{LinkType: LinkIPv6, Data: v6}, v6},
		{"raw junk", Frame{LinkType: LinkRaw, Data: []byte{0x12}}, nil},
		{"null", Frame{LinkType: LinkNull, Data: append([]byte{2, 0, 0, 0}, ipv4...)}, ipv4},
		{"sll2 v6", Frame{LinkType: LinkSLL2, Data: append(sll2, v6...)}, v6},
		{"qinq", Frame{LinkType: LinkEthernet, Data: ether(0x86dd, 2, v6)}, v6},
		{"cut vlan", Frame{LinkType: LinkEthernet, Data: ether(0x8100, 0, []byte{1})}, nil},
		{"unknown link", Frame{LinkType: 147, Data: ipv4}, nil},
	}
	for _, tt := range tests {
		got, ok := IP(tt.f)
		if ok != (tt.want != nil) || !bytes.Equal(got, tt.want) {
			t.Errorf("%s: IP() = % x, %v; want % x", tt.name, got, ok, tt.want)
		}
	}
}

// TestRealCaptures checks frame counts against capinfos/tshark.
func TestRealCaptures(t *testing.T) {
	dir := os.Getenv("CONDUIT_CAPTURES")
	if dir == "" {
		dir = "../../../../../shared/captures"
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("captures not found at %s (set CONDUIT_CAPTURES): %v", dir, err)
	}
	for file, want := range map[string]int{
		"modbus/modbusSmall.pcap":                 166,
		"dnp3/dnp3.pcap":                          214,
		"s7/s7comm_varservice_libnodavedemo.pcap": 31,
		"s7/snap7_s300_everything.pcapng":         64, // pcap inside despite the name
	} {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		frames, err := Read(data)
		if err != nil || len(frames) != want {
			t.Errorf("%s: %d frames, %v; want %d", file, len(frames), err, want)
		}
	}
}
