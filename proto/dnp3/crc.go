package dnp3

// The DNP3 CRC (CRC-16/DNP): polynomial 0x3D65 processed bit-reversed
// (0xA6BC), initial value 0, result complemented, sent low byte first.
const crcPoly = 0xa6bc

// crcTables[k][x] is the CRC state after byte x followed by k zero bytes,
// from state 0. Checksum takes four bytes per step through them, because
// the byte-at-a-time loop is one long dependency chain and every frame
// checksums its whole length.
var crcTables = func() (t [4][256]uint16) {
	for i := range t[0] {
		c := uint16(i)
		for range 8 {
			if c&1 != 0 {
				c = c>>1 ^ crcPoly
			} else {
				c >>= 1
			}
		}
		t[0][i] = c
	}
	for k := 1; k < len(t); k++ {
		for i := range t[k] {
			p := t[k-1][i]
			t[k][i] = p>>8 ^ t[0][byte(p)]
		}
	}
	return t
}()

// Checksum returns the DNP3 CRC of b, as the value a frame carries
// little-endian after the checksummed bytes.
func Checksum(b []byte) uint16 {
	var c uint16
	for len(b) >= 4 {
		c = crcTables[3][byte(c)^b[0]] ^ crcTables[2][byte(c>>8)^b[1]] ^
			crcTables[1][b[2]] ^ crcTables[0][b[3]]
		b = b[4:]
	}
	for _, x := range b {
		c = c>>8 ^ crcTables[0][byte(c)^x]
	}
	return ^c
}
