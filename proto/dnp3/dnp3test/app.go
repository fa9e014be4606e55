package dnp3test

import (
	"encoding/binary"

	"github.com/conduit-ot/conduit/proto/dnp3"
)

// Link control bytes of unconfirmed user data: DIR and PRM set for the
// master's, PRM alone for the outstation's.
const (
	MasterData     = dnp3.CtrlDIR | dnp3.CtrlPRM | dnp3.LinkUnconfirmedUserData
	OutstationData = dnp3.CtrlPRM | dnp3.LinkUnconfirmedUserData
)

// Request is the user data of an application request fragment in one
// transport segment (FIR, FIN, sequence seq): function fc and objects.
func Request(seq uint8, fc uint8, objects []byte) []byte {
	return append([]byte{0xc0 | seq&0x3f, 0xc0 | seq&0x0f, fc}, objects...)
}

// Response is the user data of a solicited (129) or unsolicited (130,
// confirmation requested) response in one transport segment, IIN clear.
func Response(seq uint8, fc uint8, unsolicited bool, objects []byte) []byte {
	ac := 0xc0 | seq&0x0f
	if unsolicited {
		ac |= dnp3.AppUNS | dnp3.AppCON
	}
	return append([]byte{0xc0 | seq&0x3f, ac, fc, 0x00, 0x00}, objects...)
}

// Class0 is the object header of a class 0 read: group 60 variation 1,
// all points.
var Class0 = []byte{60, 1, dnp3.RangeAll}

// Analogs is group 30 variation 2 (16-bit analog input with flag), points
// 0..n-1 with a 1-byte start-stop range, values base, base+7, ...
func Analogs(n int, base uint16) []byte {
	b := []byte{30, 2, dnp3.Range1StartStop, 0, byte(n - 1)}
	for i := range n {
		b = append(b, 0x01)
		b = binary.LittleEndian.AppendUint16(b, base+uint16(i)*7)
	}
	return b
}

// Binaries is group 1 variation 2 (binary input with flag), points 0..n-1;
// point i is on when bit i%8 of on is set.
func Binaries(n int, on uint8) []byte {
	b := []byte{1, 2, dnp3.Range1StartStop, 0, byte(n - 1)}
	for i := range n {
		b = append(b, 0x01|(on>>uint(i%8)&1)<<7)
	}
	return b
}
