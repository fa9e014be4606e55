package opcua_test

import (
	"reflect"
	"testing"

	"github.com/conduit-ot/conduit/internal/pcaptest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
	"github.com/conduit-ot/conduit/proto/opcua"
	"github.com/conduit-ot/conduit/proto/opcua/opcuatest"
)

// FuzzParse checks that Parse never panics and keeps its contract on any
// input and hint: n is 0 exactly when the framing failed or more bytes are
// needed, else the declared size; every prefix of the input is either
// short or decodes the same; the bytes after the chunk change nothing;
// views point into the input; an encrypted chunk names no service.
func FuzzParse(f *testing.F) {
	seeds := [][]byte{
		opcuatest.Hello("opc.tcp://plc:4840"), opcuatest.Ack(), opcuatest.Err(0x807f0000, "closed"),
		opcuatest.OpenRequest("None", opcua.ModeNone, 1, 1), opcuatest.OpenResponse("None", 9, 14, 1, 1),
		opcuatest.OpenRequest("Basic256Sha256", opcua.ModeSignAndEncrypt, 1, 1),
		ch.Request(opcua.Read, 2, 2, []byte{1, 2, 3}), ch.Response(opcua.Read, 2, 2, 0, nil),
		ch.Response(opcua.ServiceFault, 3, 3, 0x800d0000, nil), ch.Encrypted('F', 64),
		ch.Chunk("MSG", 'C', 4, 4, []byte{1, 0}), ch.Chunk("MSG", 'A', 4, 4, opcuatest.Str(opcuatest.U32(nil, 1), nil)),
	}
	for _, s := range seeds {
		for m := range uint8(4) {
			f.Add(s, m, false)
		}
	}
	for _, s := range pcaptest.Seeds(f, "opcua", opcua.Port) {
		if s.Proto == pcaptest.TCP {
			f.Add(s.Payload, uint8(opcua.ModeUnknown), false)
			f.Add(s.Payload, uint8(opcua.ModeNone), false)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, mode uint8, cont bool) {
		h := opcua.Hint{Mode: opcua.Mode(mode % 4), Continues: cont}
		var m opcua.Message
		n, err := opcua.Parse(b, h, &m)
		switch err {
		case pdu.ErrShort, opcua.ErrBadType, opcua.ErrBadChunk, opcua.ErrBadSize:
			if n != 0 {
				t.Fatalf("%q with n = %d", err, n)
			}
			return
		}
		if n != int(m.Size) || n < opcua.HeaderLen+8 || n > opcua.MaxSize {
			t.Fatalf("n = %d, size %d (%q)", n, m.Size, err)
		}
		for k := range min(n, len(b)) {
			var q opcua.Message
			if kn, kerr := opcua.Parse(b[:k], h, &q); kerr != pdu.ErrShort && (kn != n || kerr != err || !reflect.DeepEqual(q, m)) {
				t.Fatalf("prefix %d of %d: %d, %q; whole: %d, %q", k, n, kn, kerr, n, err)
			}
		}
		if n < len(b) {
			var q opcua.Message
			if kn, kerr := opcua.Parse(b[:n], h, &q); kn != n || kerr != err || !reflect.DeepEqual(q, m) {
				t.Fatalf("chunk alone: %d, %q; with a tail: %d, %q", kn, kerr, n, err)
			}
		}
		for _, v := range [][]byte{m.EndpointURL, m.ServerURI, m.Reason, m.Policy} {
			if !pcaptest.Within(v, b) {
				t.Fatal("a view points outside the input")
			}
		}
		if m.Encrypted && (m.HasType || m.Service != opcua.ServiceUnknown || m.HasMode || m.HasResult) {
			t.Fatalf("encrypted chunk with a decoded body: %+v", m)
		}
		if h.Mode == opcua.ModeSignAndEncrypt && (m.Type == opcua.TypeMessage || m.Type == opcua.TypeClose) && err == pdu.OK && !m.Encrypted {
			t.Fatalf("clear MSG under an encrypt hint: %+v", m)
		}
	})
}
