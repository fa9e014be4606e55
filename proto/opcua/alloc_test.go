package opcua_test

import (
	"testing"

	"github.com/conduit-ot/conduit/internal/alloctest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
	"github.com/conduit-ot/conduit/proto/opcua"
	"github.com/conduit-ot/conduit/proto/opcua/opcuatest"
)

// benchMsgs are the shapes measured by TestNoAllocs and BenchmarkParse: a
// client's usual requests and the server's answers.
var benchMsgs = []struct {
	name string
	b    []byte
	h    opcua.Hint
}{
	{"read_request", ch.Request(opcua.Read, 5, 5, make([]byte, 60)), opcua.Hint{Mode: opcua.ModeNone}},
	{"read_response", ch.Response(opcua.Read, 5, 5, 0, make([]byte, 30)), opcua.Hint{Mode: opcua.ModeNone}},
	{"publish_guessed", ch.Request(opcua.Publish, 6, 6, make([]byte, 20)), opcua.Hint{}},
	{"encrypted", ch.Encrypted('F', 128), opcua.Hint{Mode: opcua.ModeSignAndEncrypt}},
	{"open_none", opcuatest.OpenRequest("None", opcua.ModeNone, 1, 1), opcua.Hint{}},
	{"open_response", opcuatest.OpenResponse("None", 9, 14, 1, 1), opcua.Hint{}},
	{"hello", opcuatest.Hello("opc.tcp://plc.example:4840/server"), opcua.Hint{}},
}

func TestNoAllocs(t *testing.T) {
	var m opcua.Message
	var c opcua.Chunks
	for _, bm := range benchMsgs {
		if n, err := opcua.Parse(bm.b, bm.h, &m); err != pdu.OK || n != len(bm.b) {
			t.Fatalf("%s: Parse = %d, %q", bm.name, n, err)
		}
		alloctest.Zero(t, 1000, bm.name, func() {
			opcua.Parse(bm.b, bm.h, &m)
			c.Next(&m)
			_, _ = m.Service.String(), m.SecurityMode.String()
			_ = opcua.PolicySuffix(m.Policy)
		})
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bm := range benchMsgs {
		var m opcua.Message
		alloctest.Bench(b, bm.name, len(bm.b), func() { opcua.Parse(bm.b, bm.h, &m) })
	}
}
