package synth

import (
	"encoding/binary"
	"strings"
)

// Payloads of the protocols conduit does not inspect; the inspected ones
// come from each protocol's test kit (proto/<p>/<p>test).

// --- NTP and DNS -----------------------------------------------------------

// ntpPacket is an NTPv4 client request (mode 3) or server reply (mode 4).
func ntpPacket(mode uint8, stratum uint8, ts uint64) []byte {
	b := make([]byte, 48)
	b[0] = 4<<3 | mode
	b[1], b[2], b[3] = stratum, 6, 0xec
	binary.BigEndian.PutUint64(b[40:], ts)
	if mode == 4 {
		binary.BigEndian.PutUint64(b[24:], ts-1)
		binary.BigEndian.PutUint64(b[32:], ts)
	}
	return b
}

// dnsQuery is a standard A query for name, and its answer.
func dnsQuery(id uint16, name string, answer [4]byte) (req, resp []byte) {
	q := []byte{byte(id >> 8), byte(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, label := range strings.Split(name, ".") {
		q = append(q, byte(len(label)))
		q = append(q, label...)
	}
	q = append(q, 0, 0, 1, 0, 1) // root, type A, class IN
	r := append([]byte(nil), q...)
	r[2], r[3], r[7] = 0x81, 0x80, 1
	r = append(r, 0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4)
	return q, append(r, answer[:]...)
}
