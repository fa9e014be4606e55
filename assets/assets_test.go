package assets

import (
	"encoding/binary"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/conduit-ot/conduit/capture"
	"github.com/conduit-ot/conduit/internal/pcaptest"
)

func read(t *testing.T, files ...string) map[netip.Addr]Asset {
	t.Helper()
	inv := New(1)
	for _, f := range files {
		r, err := capture.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := inv.Capture(r); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		r.Close()
	}
	m := map[netip.Addr]Asset{}
	for _, a := range inv.Assets() {
		m[a.IP] = a
	}
	return m
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestENIPListIdentityCapture: the ListIdentity reply of a real 1756-ENBT
// (values as tshark decodes them).
func TestENIPListIdentityCapture(t *testing.T) {
	dir := pcaptest.Dir(t)
	m := read(t, filepath.Join(dir, "enip", "enip_test.pcap"))
	a, ok := m[addr("10.1.1.164")]
	if !ok {
		t.Fatalf("no asset 10.1.1.164: %v", m)
	}
	want := Identity{Source: "enip-list-identity", Vendor: "Rockwell Automation/Allen-Bradley", VendorID: 1,
		Product: "1756-ENBT/A", ProductCode: "58", Revision: "4.03", Serial: "0x00524d8e", DeviceType: "communications adapter"}
	if len(a.Identity) != 1 || a.Identity[0] != want {
		t.Errorf("identity %+v\nwant %+v", a.Identity, want)
	}
	if len(a.MACs) != 1 || a.MACs[0].Addr != "00:19:07:24:3c:ca" {
		t.Errorf("MACs %+v", a.MACs)
	}
	i := slices.IndexFunc(a.Serves, func(s Service) bool { return s.Proto == "tcp" && s.Port == 44818 })
	if i < 0 || a.Serves[i].Name != "enip" || !slices.Contains(a.Serves[i].Peers, addr("10.1.1.167")) {
		t.Errorf("serves %+v: want enip tcp/44818 to 10.1.1.167", a.Serves)
	}
	c := m[addr("10.1.1.167")]
	if len(c.Identity) != 0 || slices.IndexFunc(c.Uses, func(s Service) bool { return s.Port == 44818 }) < 0 {
		t.Errorf("client %+v: want a user of tcp/44818 without identity", c)
	}
}

// TestS7ModuleIDCapture: a CPU 315-2 PN/DP answers snap7's read of SZL
// 0x0011 (tshark: MlfB 6ES7 315-2EH14-0AB0; firmware record Ausbg
// 0x5603, Ausbe 0x0207).
func TestS7ModuleIDCapture(t *testing.T) {
	dir := pcaptest.Dir(t)
	m := read(t, filepath.Join(dir, "s7", "snap7_s300_everything.pcapng"))
	a := m[addr("134.217.61.211")]
	want := Identity{Source: "s7-szl", Vendor: "Siemens", Product: "6ES7 315-2EH14-0AB0", Revision: "V3.2.7"}
	if len(a.Identity) != 1 || a.Identity[0] != want {
		t.Errorf("identity %+v, want %+v", a.Identity, want)
	}
	if len(a.MACs) != 1 || a.MACs[0].Vendor != "Siemens" {
		t.Errorf("MACs %+v: want Siemens' OUI", a.MACs)
	}
	if c := m[addr("134.217.61.131")]; len(c.Identity) != 0 {
		t.Errorf("the client got an identity: %+v", c.Identity)
	}
}

// TestDNP3LinkAddressesCapture: the link addresses each station sent from
// (tshark: dnp3.src by ip.src).
func TestDNP3LinkAddressesCapture(t *testing.T) {
	dir := pcaptest.Dir(t)
	m := read(t, filepath.Join(dir, "dnp3", "dnp3.pcap"))
	for ip, want := range map[string][]uint16{"10.0.0.3": {4, 6}, "10.0.0.8": {3}, "10.0.0.9": {3}} {
		if got := m[addr(ip)].DNP3; !slices.Equal(got, want) {
			t.Errorf("%s: DNP3 addresses %v, want %v", ip, got, want)
		}
	}
	if s := m[addr("10.0.0.3")].Serves; slices.IndexFunc(s, func(s Service) bool { return s.Name == "dnp3" }) < 0 {
		t.Errorf("10.0.0.3 serves %+v: want dnp3", s)
	}
}

// TestMACsAgreeWithTshark: every unicast source MAC tshark shows for an
// IPv4 source is in the inventory, for every real capture.
func TestMACsAgreeWithTshark(t *testing.T) {
	dir := pcaptest.Dir(t)
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	for _, proto := range []string{"modbus", "dnp3", "enip", "s7"} {
		for _, f := range pcaptest.Files(t, dir, proto) {
			out, err := exec.Command("tshark", "-r", f, "-Y", "ip and eth", "-T", "fields", "-e", "ip.src", "-e", "eth.src").Output()
			if err != nil {
				t.Fatalf("tshark %s: %v", f, err)
			}
			want := map[string]map[string]bool{}
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				ip, mac, ok := strings.Cut(line, "\t")
				if !ok || ip == "" {
					continue
				}
				if want[ip] == nil {
					want[ip] = map[string]bool{}
				}
				want[ip][mac] = true
			}
			m := read(t, f)
			for ip, macs := range want {
				got := map[string]bool{}
				for _, x := range m[addr(ip)].MACs {
					got[x.Addr] = true
				}
				for mac := range macs {
					if !got[mac] && len(got) < maxMACs && mac[1]&1 == 0 {
						t.Errorf("%s: %s: MAC %s not in the inventory %v", filepath.Base(f), ip, mac, got)
					}
				}
			}
		}
	}
}

// mbDevID builds a Modbus/TCP read device identification response.
func mbDevID(unit byte, objs ...[]byte) []byte {
	pdu := []byte{0x2b, 0x0e, 0x01, 0x01, 0x00, 0x00, byte(len(objs))}
	for i, o := range objs {
		pdu = append(pdu, byte(i), byte(len(o)))
		pdu = append(pdu, o...)
	}
	b := make([]byte, 7, 7+len(pdu))
	binary.BigEndian.PutUint16(b[0:], 1)
	binary.BigEndian.PutUint16(b[4:], uint16(1+len(pdu)))
	b[6] = unit
	return append(b, pdu...)
}

// TestModbusDeviceID: what an ADU decodes to, and whether it is strict
// enough to be taken for Modbus off port 502, where the inventory takes a
// reply only when both say so.
func TestModbusDeviceID(t *testing.T) {
	full := mbDevID(1, []byte("Schneider Electric"), []byte("BMX P34 2020"), []byte("v3.10"))
	id := Identity{Source: "modbus-device-id", Unit: 1, Vendor: "Schneider Electric", ProductCode: "BMX P34 2020", Revision: "v3.10"}
	noRev := id
	noRev.Revision = ""
	edit := func(i int, v byte) []byte { b := append([]byte(nil), full...); b[i] = v; return b }
	for _, c := range []struct {
		name   string
		b      []byte
		want   Identity
		ok     bool
		strict bool
	}{
		{"basic objects", full, id, true, true},
		{"cut in the last object", full[:len(full)-2], noRev, true, false},
		{"cut by one byte", full[:len(full)-1], noRev, true, false},
		{"trailing byte", append(full[:len(full):len(full)], 0), id, true, false},
		{"bad conformity", edit(10, 0x07), id, true, false},
		{"bad read code", edit(9, 9), id, true, false},
		{"control bytes removed", mbDevID(2, []byte("Ven\x00dor\n")), Identity{Source: "modbus-device-id", Unit: 2, Vendor: "Vendor"}, true, true},
		{"exception", []byte{0, 1, 0, 0, 0, 3, 1, 0xab, 0x01}, Identity{}, false, false},
		{"other function", append([]byte{0, 1, 0, 0, 0, 9, 1, 0x03, 0x06}, make([]byte, 8)...), Identity{}, false, false},
		{"bad protocol id", append([]byte{0, 1, 0, 1}, full[4:]...), Identity{}, false, false},
		{"no objects", mbDevID(1), Identity{}, false, false},
		{"short", full[:10], Identity{}, false, false},
	} {
		if got, ok := modbusDeviceID(c.b); ok != c.ok || got != c.want {
			t.Errorf("%s: %+v %v, want %+v %v", c.name, got, ok, c.want, c.ok)
		}
		if got := strictDeviceID(c.b); got != c.strict {
			t.Errorf("%s: strict %v, want %v", c.name, got, c.strict)
		}
	}
}

func TestOUIVendor(t *testing.T) {
	for mac, want := range map[string]string{
		"00:00:bc:01:02:03": "Rockwell Automation",
		"00:0e:8c:aa:bb:cc": "Siemens",
		"00:80:f4:00:62:0d": "Schneider Electric (Telemecanique)",
		"02:00:bc:01:02:03": "", // locally administered
		"3c:a9:f4:21:22:f8": "", // not in the table
	} {
		hw, _ := parseMAC(mac)
		if got := OUIVendor(hw); got != want {
			t.Errorf("%s: %q, want %q", mac, got, want)
		}
	}
}

// TestOUITableAgreesWithWireshark: each prefix of the table is the
// maker Wireshark's manuf file names.
func TestOUITableAgreesWithWireshark(t *testing.T) {
	out, err := exec.Command("sh", "-c", "cat /usr/share/wireshark/manuf 2>/dev/null").Output()
	if err != nil || len(out) == 0 {
		t.Skip("no Wireshark manuf file")
	}
	manuf := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Split(line, "\t")
		if len(f) >= 3 {
			manuf[strings.ToLower(f[0])] = strings.ToLower(f[2])
		}
	}
	for p, vendor := range ouiVendors {
		key := strings.ToLower(strings.Join([]string{hex2(p[0]), hex2(p[1]), hex2(p[2])}, ":"))
		full, ok := manuf[key]
		word := strings.ToLower(strings.Fields(vendor)[0])
		if !ok || !(strings.Contains(full, word) || (word == "schneider" && strings.Contains(full, "telemec")) ||
			(word == "ge" && strings.Contains(full, "intelligent platforms"))) {
			t.Errorf("%s: table says %q, Wireshark %q", key, vendor, full)
		}
	}
}

func hex2(b byte) string { return string("0123456789abcdef"[b>>4]) + string("0123456789abcdef"[b&15]) }
