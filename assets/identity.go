package assets

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
)

// Identity is what a device said about itself in a reply it sent:
// Modbus read device identification (function 43, MEI 14) or an
// EtherNet/IP ListIdentity reply.
type Identity struct {
	Source      string `json:"source"` // modbus-device-id | enip-list-identity
	Vendor      string `json:"vendor,omitempty"`
	VendorID    int    `json:"vendor_id,omitempty"` // ENIP
	Product     string `json:"product,omitempty"`
	ProductCode string `json:"product_code,omitempty"`
	Revision    string `json:"revision,omitempty"`
	Serial      string `json:"serial,omitempty"`      // ENIP, hex as the devices print it
	DeviceType  string `json:"device_type,omitempty"` // ENIP
	Model       string `json:"model,omitempty"`       // Modbus object 5
	Unit        int    `json:"unit,omitempty"`        // Modbus unit id of the reply
}

// modbusDeviceID decodes a Modbus/TCP ADU holding a read device
// identification response (43/14) and reports whether it was one. It
// reads only what the ADU holds; objects cut short are left out.
func modbusDeviceID(b []byte) (Identity, bool) {
	// MBAP (7) + function, MEI type, read code, conformity, more follows,
	// next object id, number of objects.
	if len(b) < 14 || binary.BigEndian.Uint16(b[2:]) != 0 || b[7] != 0x2b || b[8] != 0x0e {
		return Identity{}, false
	}
	if n := 6 + int(binary.BigEndian.Uint16(b[4:])); n < len(b) {
		b = b[:n] // the rest is the next ADU
	}
	if len(b) < 14 {
		return Identity{}, false
	}
	id := Identity{Source: "modbus-device-id", Unit: int(b[6])}
	count, p := int(b[13]), 14
	got := false
	for range count {
		if p+2 > len(b) || p+2+int(b[p+1]) > len(b) {
			break
		}
		obj, v := b[p], printable(b[p+2:p+2+int(b[p+1])])
		p += 2 + int(b[p+1])
		if v == "" {
			continue
		}
		switch obj {
		case 0:
			id.Vendor = v
		case 1:
			id.ProductCode = v
		case 2:
			id.Revision = v
		case 4:
			id.Product = v
		case 5:
			id.Model = v
		default:
			continue
		}
		got = true
	}
	if !got {
		return Identity{}, false
	}
	return id, true
}

// strictDeviceID reports whether b is exactly one Modbus/TCP read device
// identification response: the MBAP length covers the segment, the read
// code and conformity level are the specification's, and the objects fill
// the PDU to its last byte. Off port 502 nothing less is taken for Modbus.
func strictDeviceID(b []byte) bool {
	if len(b) < 14 || binary.BigEndian.Uint16(b[2:]) != 0 || b[7] != 0x2b || b[8] != 0x0e ||
		6+int(binary.BigEndian.Uint16(b[4:])) != len(b) {
		return false
	}
	if code := b[9]; code < 1 || code > 4 {
		return false
	}
	switch b[10] {
	case 0x01, 0x02, 0x03, 0x81, 0x82, 0x83:
	default:
		return false
	}
	p := 14
	for range int(b[13]) {
		if p+2 > len(b) {
			return false
		}
		p += 2 + int(b[p+1])
	}
	return b[13] > 0 && p == len(b)
}

// enipListIdentity decodes an EtherNet/IP encapsulation message holding a
// ListIdentity reply (command 0x63 with a CIP Identity item) and reports
// whether it was one; addr is the address the item gives for the device.
func enipListIdentity(b []byte) (Identity, netip.Addr, bool) {
	const hdr = 24
	if len(b) < hdr+2 || binary.LittleEndian.Uint16(b) != 0x63 || binary.LittleEndian.Uint32(b[8:]) != 0 {
		return Identity{}, netip.Addr{}, false
	}
	if n := hdr + int(binary.LittleEndian.Uint16(b[2:])); n < len(b) {
		b = b[:n]
	}
	if len(b) < hdr+2 {
		return Identity{}, netip.Addr{}, false
	}
	items, p := int(binary.LittleEndian.Uint16(b[hdr:])), hdr+2
	for range items {
		if p+4 > len(b) {
			break
		}
		typ, n := binary.LittleEndian.Uint16(b[p:]), int(binary.LittleEndian.Uint16(b[p+2:]))
		item := b[p+4 : min(len(b), p+4+n)]
		p += 4 + n
		// version(2) sockaddr(16) vendor(2) type(2) code(2) rev(2)
		// status(2) serial(4) name length(1) name state(1)
		if typ != 0x0c || len(item) < 33 {
			continue
		}
		var ip [4]byte
		copy(ip[:], item[6:10])
		vendor := int(binary.LittleEndian.Uint16(item[18:]))
		dtype := int(binary.LittleEndian.Uint16(item[20:]))
		id := Identity{Source: "enip-list-identity", VendorID: vendor, Vendor: enipVendors[vendor],
			DeviceType:  enipDeviceType(dtype),
			ProductCode: fmt.Sprint(binary.LittleEndian.Uint16(item[22:])),
			Revision:    fmt.Sprintf("%d.%02d", item[24], item[25]),
			Serial:      fmt.Sprintf("0x%08x", binary.LittleEndian.Uint32(item[28:])),
		}
		if l := int(item[32]); 33+l <= len(item) {
			id.Product = printable(item[33 : 33+l])
		}
		return id, netip.AddrFrom4(ip), true
	}
	return Identity{}, netip.Addr{}, false
}

// enipVendors names a few CIP vendor ids (ODVA's registry).
var enipVendors = map[int]string{
	1: "Rockwell Automation/Allen-Bradley",
}

func enipDeviceType(t int) string {
	switch t {
	case 0:
		return "generic device"
	case 2:
		return "AC drive"
	case 12:
		return "communications adapter"
	case 14:
		return "programmable logic controller"
	}
	return fmt.Sprint(t)
}

// printable keeps what a device sent readable in a terminal and in JSON.
func printable(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, string(b))
	return strings.TrimSpace(strings.ToValidUTF8(s, ""))
}

// dnp3Link returns the source and destination link addresses of a DNP3
// frame at the start of b (start bytes 0x05 0x64).
func dnp3Link(b []byte) (src, dst uint16, ok bool) {
	if len(b) < 10 || b[0] != 0x05 || b[1] != 0x64 || b[2] < 5 {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint16(b[6:]), binary.LittleEndian.Uint16(b[4:]), true
}

// s7ModuleID decodes an S7comm userdata response to a read of SZL
// 0x0011 (module identification), inside TPKT and a COTP data TPDU, and
// reports whether it was one: the module's order number (record index
// 1) and, where the firmware record (index 7) carries it as 'V' major,
// minor, patch, the firmware version.
func s7ModuleID(b []byte) (Identity, bool) {
	// TPKT (4) + COTP DT (length indicator + 1) + S7 userdata header (10).
	if len(b) < 7 || b[0] != 3 || int(binary.BigEndian.Uint16(b[2:])) > len(b) || b[5] != 0xf0 {
		return Identity{}, false
	}
	b = b[:binary.BigEndian.Uint16(b[2:])]
	s := 5 + int(b[4])
	if len(b) < s+10 || b[s] != 0x32 || b[s+1] != 7 {
		return Identity{}, false
	}
	plen, dlen := int(binary.BigEndian.Uint16(b[s+6:])), int(binary.BigEndian.Uint16(b[s+8:]))
	par, data := s+10, s+10+plen
	if plen < 8 || data+dlen > len(b) || dlen < 12 {
		return Identity{}, false
	}
	// Parameter: 00 01 12, length, method 0x12 (response), type 8 and
	// function group 4 (CPU functions), subfunction 1 (read SZL).
	if b[par+4] != 0x12 || b[par+5] != 0x84 || b[par+6] != 0x01 {
		return Identity{}, false
	}
	d := b[data : data+dlen]
	// Return code 0xff, transport size, length, SZL id, index, record
	// length, record count.
	id, reclen, count := binary.BigEndian.Uint16(d[4:]), int(binary.BigEndian.Uint16(d[8:])), int(binary.BigEndian.Uint16(d[10:]))
	if d[0] != 0xff || id&0xff != 0x11 || reclen != 28 {
		return Identity{}, false
	}
	out := Identity{Source: "s7-szl", Vendor: "Siemens"}
	for i := range count {
		r := 12 + i*reclen
		if r+reclen > len(d) {
			break
		}
		rec := d[r : r+reclen]
		switch binary.BigEndian.Uint16(rec) {
		case 1:
			out.Product = printable(rec[2:22])
		case 7:
			if ausbg, ausbe := rec[24:26], rec[26:28]; ausbg[0] == 'V' {
				out.Revision = fmt.Sprintf("V%d.%d.%d", ausbg[1], ausbe[0], ausbe[1])
			}
		}
	}
	if out.Product == "" {
		return Identity{}, false
	}
	return out, true
}
