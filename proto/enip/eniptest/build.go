// Package eniptest builds EtherNet/IP encapsulation PDUs and CIP messages
// for tests and synthetic captures.
package eniptest

import (
	"encoding/binary"

	"github.com/conduit-ot/conduit/proto/enip"
)

// Encap is an encapsulation header of command cmd, session and sender
// context ctx (status and options 0), followed by data.
func Encap(cmd uint16, session uint32, ctx uint64, data []byte) []byte {
	b := make([]byte, 24, 24+len(data))
	binary.LittleEndian.PutUint16(b[0:], cmd)
	binary.LittleEndian.PutUint16(b[2:], uint16(len(data)))
	binary.LittleEndian.PutUint32(b[4:], session)
	binary.LittleEndian.PutUint64(b[12:], ctx)
	return append(b, data...)
}

// Register is RegisterSession (protocol version 1, no options) and the
// target's reply granting session.
func Register(session uint32, ctx uint64) (req, resp []byte) {
	d := []byte{1, 0, 0, 0}
	return Encap(enip.CmdRegisterSession, 0, ctx, d), Encap(enip.CmdRegisterSession, session, ctx, d)
}

// RR wraps a CIP message in SendRRData (interface 0, timeout 10) with a
// null address item and an unconnected data item.
func RR(session uint32, ctx uint64, cip []byte) []byte {
	d := []byte{0, 0, 0, 0, 10, 0, 2, 0, 0, 0, 0, 0, 0xb2, 0}
	d = binary.LittleEndian.AppendUint16(d, uint16(len(cip)))
	return Encap(enip.CmdSendRRData, session, ctx, append(d, cip...))
}

// GetAttr is Get_Attribute_Single (0x0e) of class, instance and attribute
// (8-bit path segments) and its reply (success) carrying a 32-bit value.
func GetAttr(class, inst, attr uint8, value uint32) (req, resp []byte) {
	req = []byte{0x0e, 3, 0x20, class, 0x24, inst, 0x30, attr}
	resp = binary.LittleEndian.AppendUint32([]byte{0x8e, 0, 0, 0}, value)
	return req, resp
}
