package s7

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// Builders that assemble TPKTs from their fields, so test cases say what
// they mean instead of carrying opaque hex.

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// tpkt frames a COTP TPDU.
func tpkt(cotp []byte) []byte { return cat([]byte{3, 0}, be16(uint16(4+len(cotp))), cotp) }

// dt builds a class 0 DT TPDU.
func dt(eot bool, data []byte) []byte {
	var e byte
	if eot {
		e = 0x80
	}
	return cat([]byte{2, 0xf0, e}, data)
}

// s7 frames an S7 PDU in a TPKT with a final DT.
func s7(pdu []byte) []byte { return tpkt(dt(true, pdu)) }

// connect builds a CR or CC TPDU with parameters.
func connect(code uint8, dst, src uint16, params ...[]byte) []byte {
	v := cat(params...)
	return cat([]byte{byte(6 + len(v)), code}, be16(dst), be16(src), []byte{0}, v)
}

func cparam(code uint8, val ...byte) []byte { return cat([]byte{code, byte(len(val))}, val) }

// job builds an S7 job header with its parameter and data.
func job(ref uint16, param, data []byte) []byte {
	return cat([]byte{0x32, ROSCTRJob, 0, 0}, be16(ref), be16(uint16(len(param))), be16(uint16(len(data))), param, data)
}

// ack builds an ack or ack-data header.
func ack(rosctr uint8, ref uint16, ecls, ecode uint8, param, data []byte) []byte {
	return cat([]byte{0x32, rosctr, 0, 0}, be16(ref), be16(uint16(len(param))), be16(uint16(len(data))), []byte{ecls, ecode}, param, data)
}

// userdata builds a userdata header.
func userdata(param, data []byte) []byte {
	return cat([]byte{0x32, ROSCTRUserdata, 0, 0}, be16(7), be16(uint16(len(param))), be16(uint16(len(data))), param, data)
}

// Parameters.
func setupParam(pdu uint16) []byte {
	return cat([]byte{FuncSetupCommunication, 0}, be16(1), be16(1), be16(pdu))
}

// anyItem is an S7ANY variable specification: byte DB1.DBB0, length n.
func anyItem(n uint16) []byte {
	return cat([]byte{0x12, 0x0a, 0x10, 0x02}, be16(n), be16(1), []byte{0x84, 0, 0, 0})
}

func varParam(f uint8, items ...[]byte) []byte {
	return cat([]byte{f, byte(len(items))}, cat(items...))
}

// blockParam is an up/download parameter with a block file name.
func blockParam(f uint8, name string) []byte {
	return cat([]byte{f, 0, 0, 0, 0, 0, 0, 0, byte(len(name))}, []byte(name))
}

func piParam(params []byte, service string) []byte {
	return cat([]byte{FuncPIService, 0, 0, 0, 0, 0, 0, 0xfd}, be16(uint16(len(params))), params, []byte{byte(len(service))}, []byte(service))
}

func stopParam(service string) []byte {
	return cat([]byte{FuncPLCStop, 0, 0, 0, 0, 0, byte(len(service))}, []byte(service))
}

// udParam builds a userdata parameter; long adds data unit reference,
// last-unit flag and error code.
func udParam(typ, group, sub, seq uint8, long bool) []byte {
	method := byte(0x11)
	if typ != UserdataRequest {
		method = 0x12
	}
	p := []byte{0, 1, 0x12, 4, method, typ<<4 | group, sub, seq}
	if long {
		p[3] = 8
		p = append(p, 0xd5, 1, 0xd2, 0x09)
	}
	return p
}

// summary renders what Parse decoded, for comparisons.
func summary(p *PDU) string {
	var b strings.Builder
	switch p.Kind {
	case KindCOTP, KindFragment:
		fmt.Fprintf(&b, "%s %02x", p.Kind, p.COTP.Type)
		if p.COTP.Type == COTPData {
			fmt.Fprintf(&b, " eot=%v nr=%d data=%d", p.COTP.EOT, p.COTP.TPDUNumber, len(p.COTP.Data))
		}
		if p.COTP.Type == COTPConnectRequest || p.COTP.Type == COTPConnectConfirm {
			fmt.Fprintf(&b, " dst=%04x src=%04x tsap=%x/%x size=%d", p.COTP.DstRef, p.COTP.SrcRef, p.COTP.SrcTSAP, p.COTP.DstTSAP, p.COTP.TPDUSize)
		}
		return b.String()
	case KindS7Plus:
		return fmt.Sprintf("s7plus v=%d", p.PlusVersion)
	}
	fmt.Fprintf(&b, "%s ref=%d", ROSCTRName(p.ROSCTR), p.PDURef)
	if p.ROSCTR == ROSCTRAck || p.ROSCTR == ROSCTRAckData {
		fmt.Fprintf(&b, " err=%02x%02x", p.ErrorClass, p.ErrorCode)
	}
	if p.HasFunction {
		fmt.Fprintf(&b, " f=%02x", p.Function)
	}
	if p.ItemCount > 0 {
		fmt.Fprintf(&b, " items=%d", p.ItemCount)
	}
	if p.PDUSize > 0 {
		fmt.Fprintf(&b, " pdu=%d", p.PDUSize)
	}
	if p.Filename != nil {
		fmt.Fprintf(&b, " file=%s", p.Filename)
	}
	if p.PIService != nil {
		fmt.Fprintf(&b, " pi=%s(%x)", p.PIService, p.PIParams)
	}
	if p.ROSCTR == ROSCTRUserdata {
		fmt.Fprintf(&b, " %s g=%x sub=%02x seq=%d", UserdataTypeName(p.UserdataType), p.Group, p.Subfunction, p.Sequence)
		if p.DataUnitRef != 0 || p.LastDataUnit != 0 || p.UserdataError != 0 {
			fmt.Fprintf(&b, " unit=%d last=%d uerr=%04x", p.DataUnitRef, p.LastDataUnit, p.UserdataError)
		}
	}
	fmt.Fprintf(&b, " param=%d data=%d", len(p.Param), len(p.Data))
	return b.String()
}
