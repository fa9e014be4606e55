package synth

import (
	"encoding/binary"
	"strings"

	"github.com/conduit-ot/conduit/proto/dnp3/dnp3test"
)

// Application payloads, framed as the real protocols frame them.

// --- Modbus/TCP ------------------------------------------------------------

// mbap prefixes a Modbus PDU with its MBAP header.
func mbap(tid uint16, unit uint8, pdu []byte) []byte {
	b := make([]byte, 7, 7+len(pdu))
	binary.BigEndian.PutUint16(b[0:], tid)
	binary.BigEndian.PutUint16(b[4:], uint16(1+len(pdu)))
	b[6] = unit
	return append(b, pdu...)
}

// modbusRead is a read request (functions 1-4) and its response.
func modbusRead(tid uint16, unit, fc uint8, addr, qty uint16, fill byte) (req, resp []byte) {
	req = mbap(tid, unit, []byte{fc, byte(addr >> 8), byte(addr), byte(qty >> 8), byte(qty)})
	n := int(qty) * 2
	if fc == 1 || fc == 2 {
		n = (int(qty) + 7) / 8
	}
	pdu := make([]byte, 2+n)
	pdu[0], pdu[1] = fc, byte(n)
	for i := range n {
		pdu[2+i] = fill + byte(i)
	}
	return req, mbap(tid, unit, pdu)
}

// modbusWriteRegister is function 6: the response echoes the request.
func modbusWriteRegister(tid uint16, unit uint8, addr, value uint16) (req, resp []byte) {
	pdu := []byte{6, byte(addr >> 8), byte(addr), byte(value >> 8), byte(value)}
	return mbap(tid, unit, pdu), mbap(tid, unit, pdu)
}

// --- DNP3 ------------------------------------------------------------------

// dnp3Frame wraps user data (transport header onwards) in a link frame.
var dnp3Frame = dnp3test.Frame

// DNP3 link control bytes: DIR and PRM set for the master's unconfirmed
// user data, PRM alone for the outstation's.
const (
	dnp3MasterData     = 0xc4
	dnp3OutstationData = 0x44
)

// dnp3Request is an application request fragment in one transport segment.
func dnp3Request(seq uint8, fc uint8, objects []byte) []byte {
	return append([]byte{0xc0 | seq&0x3f, 0xc0 | seq&0x0f, fc}, objects...)
}

// dnp3Response is a solicited (129) or unsolicited (130) response.
func dnp3Response(seq uint8, fc uint8, unsolicited bool, objects []byte) []byte {
	ac := 0xc0 | seq&0x0f
	if unsolicited {
		ac |= 0x30 // UNS and CON
	}
	return append([]byte{0xc0 | seq&0x3f, ac, fc, 0x00, 0x00}, objects...)
}

// Class 0 read request objects: group 60 variation 1, all points.
var dnp3Class0 = []byte{60, 1, 0x06}

// dnp3Analogs is group 30 variation 2 (16-bit analog input with flag),
// points 0..n-1, start-stop qualifier.
func dnp3Analogs(n int, base uint16) []byte {
	b := []byte{30, 2, 0x00, 0, byte(n - 1)}
	for i := range n {
		b = append(b, 0x01)
		b = binary.LittleEndian.AppendUint16(b, base+uint16(i)*7)
	}
	return b
}

// dnp3Binaries is group 1 variation 2 (binary input with flag).
func dnp3Binaries(n int, on uint8) []byte {
	b := []byte{1, 2, 0x00, 0, byte(n - 1)}
	for i := range n {
		b = append(b, 0x01|(on>>uint(i%8)&1)<<7)
	}
	return b
}

// --- S7comm ----------------------------------------------------------------

// tpkt wraps a COTP PDU (and what follows) in a TPKT header.
func tpkt(b []byte) []byte {
	h := []byte{3, 0, 0, 0}
	binary.BigEndian.PutUint16(h[2:], uint16(4+len(b)))
	return append(h, b...)
}

// cotpConnect is a COTP connection request (0xe0) or confirm (0xd0) with
// TPDU size and the TSAPs of an S7 PLC in rack 0, slot 2.
func cotpConnect(code uint8, dstRef, srcRef uint16) []byte {
	b := []byte{17, code, byte(dstRef >> 8), byte(dstRef), byte(srcRef >> 8), byte(srcRef), 0,
		0xc0, 1, 0x0a, // TPDU size 1024
		0xc1, 2, 0x01, 0x00, // calling TSAP
		0xc2, 2, 0x01, 0x02} // called TSAP: rack 0 slot 2
	return tpkt(b)
}

// s7Data wraps an S7 PDU in COTP data (last unit).
func s7Data(pdu []byte) []byte {
	return tpkt(append([]byte{2, 0xf0, 0x80}, pdu...))
}

// s7Header builds an S7 header for a job (1) or ack-data (3).
func s7Header(rosctr uint8, ref uint16, param, data []byte) []byte {
	b := []byte{0x32, rosctr, 0, 0, byte(ref >> 8), byte(ref), 0, 0, 0, 0}
	binary.BigEndian.PutUint16(b[6:], uint16(len(param)))
	binary.BigEndian.PutUint16(b[8:], uint16(len(data)))
	if rosctr == 3 {
		b = append(b, 0, 0) // error class and code
	}
	b = append(b, param...)
	return append(b, data...)
}

// s7Setup is setup communication (0xf0) and its acknowledgement.
func s7Setup(ref uint16) (req, resp []byte) {
	p := []byte{0xf0, 0, 0, 1, 0, 1, 0x01, 0xe0}
	return s7Data(s7Header(1, ref, p, nil)), s7Data(s7Header(3, ref, p, nil))
}

// s7ReadDB reads n bytes of a data block (read var, 0x04) and answers.
func s7ReadDB(ref, db uint16, start uint32, n int, fill byte) (req, resp []byte) {
	bitAddr := start * 8
	item := []byte{0x12, 0x0a, 0x10, 0x02, byte(n >> 8), byte(n), byte(db >> 8), byte(db), 0x84,
		byte(bitAddr >> 16), byte(bitAddr >> 8), byte(bitAddr)}
	req = s7Data(s7Header(1, ref, append([]byte{0x04, 1}, item...), nil))
	data := []byte{0xff, 0x04, byte((n * 8) >> 8), byte(n * 8)}
	for i := range n {
		data = append(data, fill+byte(i))
	}
	return req, s7Data(s7Header(3, ref, []byte{0x04, 1}, data))
}

// s7WriteDB writes n bytes (write var, 0x05) and answers.
func s7WriteDB(ref, db uint16, start uint32, n int) (req, resp []byte) {
	bitAddr := start * 8
	item := []byte{0x12, 0x0a, 0x10, 0x02, byte(n >> 8), byte(n), byte(db >> 8), byte(db), 0x84,
		byte(bitAddr >> 16), byte(bitAddr >> 8), byte(bitAddr)}
	data := []byte{0x00, 0x04, byte((n * 8) >> 8), byte(n * 8)}
	for i := range n {
		data = append(data, byte(i))
	}
	req = s7Data(s7Header(1, ref, append([]byte{0x05, 1}, item...), data))
	return req, s7Data(s7Header(3, ref, []byte{0x05, 1}, []byte{0xff}))
}

// --- EtherNet/IP -----------------------------------------------------------

// enipEncap builds an encapsulation header and data.
func enipEncap(cmd uint16, session uint32, ctx uint64, data []byte) []byte {
	b := make([]byte, 24, 24+len(data))
	binary.LittleEndian.PutUint16(b[0:], cmd)
	binary.LittleEndian.PutUint16(b[2:], uint16(len(data)))
	binary.LittleEndian.PutUint32(b[4:], session)
	binary.LittleEndian.PutUint64(b[12:], ctx)
	return append(b, data...)
}

// enipRegister is RegisterSession (0x65) and the target's reply.
func enipRegister(session uint32, ctx uint64) (req, resp []byte) {
	d := []byte{1, 0, 0, 0} // protocol version 1, no options
	return enipEncap(0x65, 0, ctx, d), enipEncap(0x65, session, ctx, d)
}

// enipRR wraps a CIP message in SendRRData (0x6f) with a null address
// item and an unconnected data item.
func enipRR(session uint32, ctx uint64, cip []byte) []byte {
	d := []byte{0, 0, 0, 0, 10, 0, 2, 0, 0, 0, 0, 0, 0xb2, 0}
	d = binary.LittleEndian.AppendUint16(d, uint16(len(cip)))
	return enipEncap(0x6f, session, ctx, append(d, cip...))
}

// cipGetAttr is Get_Attribute_Single (0x0e) of class/instance/attribute
// and its reply carrying a 32-bit value.
func cipGetAttr(class, inst, attr uint8, value uint32) (req, resp []byte) {
	req = []byte{0x0e, 3, 0x20, class, 0x24, inst, 0x30, attr}
	resp = binary.LittleEndian.AppendUint32([]byte{0x8e, 0, 0, 0}, value)
	return req, resp
}

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
