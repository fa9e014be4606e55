// Package s7test builds S7comm PDUs in COTP and TPKT for tests and
// synthetic captures.
package s7test

import (
	"encoding/binary"

	"github.com/conduit-ot/conduit/proto/s7"
)

// TPKT prefixes a COTP TPDU (and what follows it) with a TPKT header.
func TPKT(b []byte) []byte {
	h := []byte{3, 0, 0, 0}
	binary.BigEndian.PutUint16(h[2:], uint16(4+len(b)))
	return append(h, b...)
}

// DT is a class 0 COTP data TPDU carrying data; eot marks the last unit
// of an S7 PDU.
func DT(eot bool, data []byte) []byte {
	var e byte
	if eot {
		e = 0x80
	}
	return append([]byte{2, s7.COTPData, e}, data...)
}

// Data frames a whole S7 PDU: a TPKT with one last-unit DT.
func Data(pdu []byte) []byte { return TPKT(DT(true, pdu)) }

// ConnectRequest is a TPKT with a COTP connection request from source
// reference src (the destination reference is 0 until the confirm).
func ConnectRequest(src uint16) []byte { return connect(s7.COTPConnectRequest, 0, src) }

// ConnectConfirm is a TPKT with the COTP connection confirm of dst's
// request from source reference src.
func ConnectConfirm(dst, src uint16) []byte { return connect(s7.COTPConnectConfirm, dst, src) }

// connect is a connection request or confirm with TPDU size 1024 and the
// TSAPs of an S7 PLC in rack 0, slot 2.
func connect(code uint8, dst, src uint16) []byte {
	b := []byte{17, code, byte(dst >> 8), byte(dst), byte(src >> 8), byte(src), 0,
		0xc0, 1, 0x0a, // TPDU size 1024
		0xc1, 2, 0x01, 0x00, // calling TSAP
		0xc2, 2, 0x01, 0x02} // called TSAP: rack 0 slot 2
	return TPKT(b)
}

// Header is an S7 PDU of type rosctr with reference ref, param and data;
// an ack or ack-data gets error class and code 0.
func Header(rosctr uint8, ref uint16, param, data []byte) []byte {
	b := []byte{s7.ProtocolS7, rosctr, 0, 0, byte(ref >> 8), byte(ref), 0, 0, 0, 0}
	binary.BigEndian.PutUint16(b[6:], uint16(len(param)))
	binary.BigEndian.PutUint16(b[8:], uint16(len(data)))
	if rosctr == s7.ROSCTRAck || rosctr == s7.ROSCTRAckData {
		b = append(b, 0, 0)
	}
	b = append(b, param...)
	return append(b, data...)
}

// SetupParam is the parameter of setup communication asking for (job) or
// granting (ack-data) S7 PDUs of size bytes, one job at a time each way.
func SetupParam(size uint16) []byte {
	return []byte{s7.FuncSetupCommunication, 0, 0, 1, 0, 1, byte(size >> 8), byte(size)}
}

// Setup is setup communication for 480-byte PDUs and its acknowledgement,
// each framed.
func Setup(ref uint16) (req, resp []byte) {
	p := SetupParam(480)
	return Data(Header(s7.ROSCTRJob, ref, p, nil)), Data(Header(s7.ROSCTRAckData, ref, p, nil))
}

// Item is an S7ANY variable specification of n bytes of data block db
// from byte start.
func Item(db uint16, start uint32, n int) []byte {
	bitAddr := start * 8
	return []byte{0x12, 0x0a, 0x10, 0x02, byte(n >> 8), byte(n), byte(db >> 8), byte(db), 0x84,
		byte(bitAddr >> 16), byte(bitAddr >> 8), byte(bitAddr)}
}

// ReadDB is read var of one item (n bytes of db from start) and its
// answer, the bytes counted up from fill; each framed.
func ReadDB(ref, db uint16, start uint32, n int, fill byte) (req, resp []byte) {
	req = Data(Header(s7.ROSCTRJob, ref, append([]byte{s7.FuncReadVar, 1}, Item(db, start, n)...), nil))
	data := []byte{0xff, 0x04, byte((n * 8) >> 8), byte(n * 8)}
	for i := range n {
		data = append(data, fill+byte(i))
	}
	return req, Data(Header(s7.ROSCTRAckData, ref, []byte{s7.FuncReadVar, 1}, data))
}

// WriteDB is write var of n bytes (0, 1, ...) to db from start and its
// answer (success); each framed.
func WriteDB(ref, db uint16, start uint32, n int) (req, resp []byte) {
	data := []byte{0x00, 0x04, byte((n * 8) >> 8), byte(n * 8)}
	for i := range n {
		data = append(data, byte(i))
	}
	req = Data(Header(s7.ROSCTRJob, ref, append([]byte{s7.FuncWriteVar, 1}, Item(db, start, n)...), data))
	return req, Data(Header(s7.ROSCTRAckData, ref, []byte{s7.FuncWriteVar, 1}, []byte{0xff}))
}
