// Package dnp3test builds DNP3 frames for tests and synthetic captures,
// with the CRCs of the parser's own dnp3.Checksum.
package dnp3test

import (
	"encoding/binary"

	"github.com/conduit-ot/conduit/proto/dnp3"
)

// Frame wraps user data (the transport header onwards) in a link frame
// from src to dst with control byte ctrl: the header block and 16-byte
// data blocks, each followed by its CRC.
func Frame(ctrl byte, dst, src uint16, user []byte) []byte {
	h := []byte{0x05, 0x64, byte(5 + len(user)), ctrl, byte(dst), byte(dst >> 8), byte(src), byte(src >> 8)}
	b := binary.LittleEndian.AppendUint16(h, dnp3.Checksum(h))
	for len(user) > 0 {
		n := min(16, len(user))
		b = append(b, user[:n]...)
		b = binary.LittleEndian.AppendUint16(b, dnp3.Checksum(user[:n]))
		user = user[n:]
	}
	return b
}
