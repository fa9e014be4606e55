// Package afpackettest builds the Ethernet frames that the ring's tests
// and the sensor's benchmarks send or feed, so each says which flow it
// means instead of carrying its own header offsets.
package afpackettest

import "encoding/binary"

// UDPFrame is an Ethernet frame from srcMAC to 02:00:00:00:00:01 with an
// IPv4 UDP datagram of payload zero bytes from src:sport to dst:dport
// (checksums left 0, which IPv4 allows for UDP and the ring does not
// check).
func UDPFrame(srcMAC [6]byte, src, dst [4]byte, sport, dport uint16, payload int) []byte {
	b := make([]byte, 14+20+8+payload)
	copy(b[0:6], []byte{0x02, 0, 0, 0, 0, 1})
	copy(b[6:12], srcMAC[:])
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	copy(ip[12:16], src[:])
	copy(ip[16:20], dst[:])
	binary.BigEndian.PutUint16(ip[20:], sport)
	binary.BigEndian.PutUint16(ip[22:], dport)
	binary.BigEndian.PutUint16(ip[24:], uint16(8+payload))
	return b
}
