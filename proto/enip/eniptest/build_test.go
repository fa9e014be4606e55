package eniptest

import (
	"reflect"
	"testing"

	"github.com/conduit-ot/conduit/proto/enip"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// TestBuildersParse checks that the parser accepts what the builders make
// and sees the fields they were given.
func TestBuildersParse(t *testing.T) {
	var p enip.PDU
	regReq, regResp := Register(0x1234, 7)
	for _, tc := range []struct {
		name    string
		b       []byte
		dir     pdu.Dir
		session uint32
	}{{"register session", regReq, pdu.Request, 0}, {"register session reply", regResp, pdu.Response, 0x1234}} {
		if n, err := enip.Parse(tc.b, tc.dir, &p); err != pdu.OK || n != len(tc.b) || p.Encap.Command != enip.CmdRegisterSession ||
			p.Encap.Session != tc.session || p.Encap.Context != 7 || p.Encap.ProtocolVersion != 1 || p.Encap.SessionOptions != 0 {
			t.Errorf("%s: Parse = %d, %q, %+v", tc.name, n, err, p.Encap)
		}
	}

	get, reply := GetAttr(0x04, 100, 3, 0xdeadbeef)
	for _, tc := range []struct {
		name string
		b    []byte
		dir  pdu.Dir
		want enip.Msg // compared without Data and Symbol
		data string
	}{
		{"get_attribute_single", RR(0x1234, 9, get), pdu.Request,
			enip.Msg{Service: 0x0e, Flags: enip.HasClass | enip.HasInstance | enip.HasAttribute, Class: 4, Instance: 100, Attribute: 3}, ""},
		{"get_attribute_single reply", RR(0x1234, 9, reply), pdu.Response,
			enip.Msg{Service: 0x0e, Response: true}, "\xef\xbe\xad\xde"},
	} {
		n, err := enip.Parse(tc.b, tc.dir, &p)
		if err != pdu.OK || n != len(tc.b) || p.Encap.Command != enip.CmdSendRRData || p.Encap.Session != 0x1234 || p.Encap.Context != 9 ||
			!p.CPF.Present || p.CPF.Timeout != 10 || p.CPF.Items != 2 || p.CPF.AddrType != enip.ItemNullAddr ||
			p.CPF.DataType != enip.ItemUnconnectedData || p.NumMsgs() != 1 {
			t.Errorf("%s: Parse = %d, %q, %+v %+v, %d messages", tc.name, n, err, p.Encap, p.CPF, p.NumMsgs())
			continue
		}
		m := p.Msgs[0]
		data := string(m.Data)
		m.Data, m.Symbol = nil, nil
		if !reflect.DeepEqual(m, tc.want) || data != tc.data {
			t.Errorf("%s: message %+v data %x, want %+v data %x", tc.name, p.Msgs[0], data, tc.want, tc.data)
		}
	}
}
