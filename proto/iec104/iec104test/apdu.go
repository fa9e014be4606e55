// Package iec104test builds IEC 60870-5-104 APDUs for tests and synthetic
// captures.
package iec104test

import "github.com/conduit-ot/conduit/proto/iec104"

// U returns a U frame with function fn.
func U(fn iec104.UFunc) []byte { return []byte{iec104.Start, 4, byte(fn) | 3, 0, 0, 0} }

// S returns an S frame acknowledging up to receive sequence number recv.
func S(recv uint16) []byte {
	return []byte{iec104.Start, 4, 1, 0, byte(recv << 1), byte(recv >> 7)}
}

// I returns an I frame with sequence numbers send and recv carrying asdu.
func I(send, recv uint16, asdu []byte) []byte {
	b := []byte{iec104.Start, byte(4 + len(asdu)), byte(send << 1), byte(send >> 7), byte(recv << 1), byte(recv >> 7)}
	return append(b, asdu...)
}

// ASDU returns an ASDU of one object (SQ 0, originator 0) at address ioa
// with information element elem.
func ASDU(typeID, cause uint8, common uint16, ioa uint32, elem []byte) []byte {
	b := []byte{typeID, 1, cause, 0, byte(common), byte(common >> 8), byte(ioa), byte(ioa >> 8), byte(ioa >> 16)}
	return append(b, elem...)
}

// Command returns an I frame carrying one object of a type with a fixed
// element size, its element zero-filled: a command with cause act (6)
// from a controlling station, or with another cause its mirror.
func Command(send, recv uint16, typeID, cause uint8, common uint16, ioa uint32) []byte {
	n, _ := iec104.ElementSize(typeID)
	return I(send, recv, ASDU(typeID, cause, common, ioa, make([]byte, n)))
}
