package s7test

import (
	"bytes"
	"testing"

	"github.com/conduit-ot/conduit/proto/internal/pdu"
	"github.com/conduit-ot/conduit/proto/s7"
)

// TestBuildersParse checks that the parser accepts what the builders make
// and sees the fields they were given.
func TestBuildersParse(t *testing.T) {
	var p s7.PDU
	for _, tc := range []struct {
		b        []byte
		code     uint8
		dst, src uint16
		dir      pdu.Dir
	}{{ConnectRequest(1), s7.COTPConnectRequest, 0, 1, pdu.Request}, {ConnectConfirm(1, 0x44), s7.COTPConnectConfirm, 1, 0x44, pdu.Response}} {
		if n, err := s7.Parse(tc.b, tc.dir, &p); err != pdu.OK || n != len(tc.b) || p.Kind != s7.KindCOTP || p.COTP.Type != tc.code ||
			p.COTP.DstRef != tc.dst || p.COTP.SrcRef != tc.src || p.COTP.TPDUSize != 0x0a ||
			!bytes.Equal(p.COTP.SrcTSAP, []byte{1, 0}) || !bytes.Equal(p.COTP.DstTSAP, []byte{1, 2}) {
			t.Errorf("connect %02x: Parse = %d, %q, %+v", tc.code, n, err, p.COTP)
		}
	}

	setupReq, setupResp := Setup(3)
	readReq, readResp := ReadDB(4, 7, 10, 32, 0)
	writeReq, writeResp := WriteDB(5, 1, 8, 4)
	for _, tc := range []struct {
		name              string
		b                 []byte
		dir               pdu.Dir
		rosctr            uint8
		ref               uint16
		fn, items         uint8
		pduSize           uint16
		paramLen, dataLen int
	}{
		{"setup", setupReq, pdu.Request, s7.ROSCTRJob, 3, s7.FuncSetupCommunication, 0, 480, 8, 0},
		{"setup ack", setupResp, pdu.Response, s7.ROSCTRAckData, 3, s7.FuncSetupCommunication, 0, 480, 8, 0},
		{"read var", readReq, pdu.Request, s7.ROSCTRJob, 4, s7.FuncReadVar, 1, 0, 14, 0},
		{"read var ack", readResp, pdu.Response, s7.ROSCTRAckData, 4, s7.FuncReadVar, 1, 0, 2, 4 + 32},
		{"write var", writeReq, pdu.Request, s7.ROSCTRJob, 5, s7.FuncWriteVar, 1, 0, 14, 4 + 4},
		{"write var ack", writeResp, pdu.Response, s7.ROSCTRAckData, 5, s7.FuncWriteVar, 1, 0, 2, 1},
		{"ack header", Data(Header(s7.ROSCTRAck, 6, nil, nil)), pdu.Response, s7.ROSCTRAck, 6, 0, 0, 0, 0, 0},
	} {
		n, err := s7.Parse(tc.b, tc.dir, &p)
		if err != pdu.OK || n != len(tc.b) || p.Kind != s7.KindS7 || p.ROSCTR != tc.rosctr || p.PDURef != tc.ref ||
			p.HasFunction != (tc.fn != 0) || p.Function != tc.fn || p.ItemCount != tc.items || p.PDUSize != tc.pduSize ||
			len(p.Param) != tc.paramLen || len(p.Data) != tc.dataLen || p.ErrorClass != 0 || p.ErrorCode != 0 {
			t.Errorf("%s: Parse = %d, %q, %+v", tc.name, n, err, p)
		}
	}

	// A DT without end of TSDU is the first piece of a PDU cut in two.
	if n, err := s7.Parse(TPKT(DT(false, readReq[7:20])), pdu.Request, &p); err != pdu.OK || n != 4+3+13 ||
		p.Kind != s7.KindFragment || p.COTP.EOT || len(p.COTP.Data) != 13 {
		t.Errorf("first piece: Parse = %d, %q, %+v", n, err, p)
	}
}
