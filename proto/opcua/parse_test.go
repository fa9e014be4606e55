package opcua_test

import (
	"bytes"
	"testing"

	"github.com/conduit-ot/conduit/proto/internal/pdu"
	"github.com/conduit-ot/conduit/proto/opcua"
	"github.com/conduit-ot/conduit/proto/opcua/opcuatest"
)

var ch = opcuatest.Chan{ID: 9, Token: 14}

// cutChunk returns the first n bytes of message b as a C chunk.
func cutChunk(b []byte, n int) []byte {
	b = withSize(b[:n], uint32(n))
	b[3] = opcua.ChunkIntermediate
	return b
}

// withSize returns b with its header's size set to size.
func withSize(b []byte, size uint32) []byte {
	b = bytes.Clone(b)
	b[4], b[5], b[6], b[7] = byte(size), byte(size>>8), byte(size>>16), byte(size>>24)
	return b
}

func TestParse(t *testing.T) {
	none := opcua.Hint{Mode: opcua.ModeNone}
	sign := opcua.Hint{Mode: opcua.ModeSign}
	enc := opcua.Hint{Mode: opcua.ModeSignAndEncrypt}
	unknown := opcua.Hint{}
	cont := opcua.Hint{Mode: opcua.ModeNone, Continues: true}

	read := ch.Request(opcua.Read, 5, 7, []byte{1, 2, 3})
	readRsp := ch.Response(opcua.Read, 6, 7, 0x80340000, nil)
	hel := opcuatest.Hello("opc.tcp://plc:4840")
	bigID := ch.RequestID(12208, 2, 3, nil) // FindServersOnNetwork, full numeric NodeId
	nsID := ch.Chunk("MSG", 'F', 2, 3, []byte{0x01, 0x02, 0x77, 0x02})
	strID := ch.Chunk("MSG", 'F', 2, 3, opcuatest.Str([]byte{0x03, 0x01, 0x00}, []byte("svc")))
	split := ch.Chunk("MSG", 'C', 2, 3, []byte{0x01, 0x00})
	abort := ch.Chunk("MSG", 'A', 4, 3, opcuatest.Str(opcuatest.U32(nil, 0x80000000), []byte("gone")))

	tests := []struct {
		name string
		b    []byte
		h    opcua.Hint
		err  pdu.Error
		n    int // -1: len(b)
		want opcua.Message
		// check compares a subset of the decoded message.
		check func(t *testing.T, m *opcua.Message)
	}{
		// Framing.
		{name: "empty", err: pdu.ErrShort},
		{name: "two bytes", b: []byte("MS"), err: pdu.ErrShort},
		{name: "bad type early", b: []byte("MSX"), err: opcua.ErrBadType},
		{name: "lower-case type", b: []byte("msgF"), err: opcua.ErrBadType},
		{name: "bad chunk", b: []byte("MSGX\x18\x00\x00\x00"), err: opcua.ErrBadChunk},
		{name: "chunked hello", b: []byte("HELC\x20\x00\x00\x00"), err: opcua.ErrBadChunk},
		{name: "header only", b: read[:8], h: none, err: pdu.ErrShort},
		{name: "size below fields", b: withSize(read, 23), err: opcua.ErrBadSize},
		{name: "size above limit", b: withSize(read, opcua.MaxSize+1), err: opcua.ErrBadSize},
		{name: "ack too long", b: withSize(opcuatest.Ack(), 29), err: opcua.ErrBadSize},
		{name: "hello with a tail", b: withSize(append(bytes.Clone(hel), 0), uint32(len(hel)+1)), err: opcua.ErrBadBody, n: len(hel) + 1},
		{name: "hello cut", b: hel[:len(hel)-1], err: pdu.ErrShort},

		// Connection messages.
		{name: "hello", b: hel, err: pdu.OK, n: -1, check: func(t *testing.T, m *opcua.Message) {
			if m.Type != opcua.TypeHello || string(m.EndpointURL) != "opc.tcp://plc:4840" || m.ReceiveBufferSize != 65536 {
				t.Errorf("%+v", m)
			}
		}},
		{name: "hello url past message", b: withSize(hel, uint32(len(hel))), err: pdu.OK, n: -1},
		{name: "hello negative url", b: opcuatest.Frame("HEL", 'F', opcuatest.U32(nil, 0, 1, 1, 0, 0, 0xfffffffe)), err: opcua.ErrBadString, n: 32},
		{name: "hello null url", b: opcuatest.Frame("HEL", 'F', opcuatest.U32(nil, 0, 1, 1, 0, 0, 0xffffffff)), err: pdu.OK, n: 32},
		{name: "ack", b: opcuatest.Ack(), err: pdu.OK, n: 28, check: func(t *testing.T, m *opcua.Message) {
			if m.Type != opcua.TypeAcknowledge || m.SendBufferSize != 65536 {
				t.Errorf("%+v", m)
			}
		}},
		{name: "error", b: opcuatest.Err(0x807f0000, "bye"), err: pdu.OK, n: -1, check: func(t *testing.T, m *opcua.Message) {
			if m.ErrorCode != 0x807f0000 || string(m.Reason) != "bye" {
				t.Errorf("%+v", m)
			}
		}},
		{name: "reverse hello", b: opcuatest.Frame("RHE", 'F', opcuatest.Str(opcuatest.Str(nil, []byte("urn:s")), []byte("opc.tcp://s"))), err: pdu.OK, n: -1,
			check: func(t *testing.T, m *opcua.Message) {
				if string(m.ServerURI) != "urn:s" || string(m.EndpointURL) != "opc.tcp://s" {
					t.Errorf("%+v", m)
				}
			}},

		// OpenSecureChannel.
		{name: "open none", b: opcuatest.OpenRequest("None", opcua.ModeNone, 1, 1), err: pdu.OK, n: -1, check: func(t *testing.T, m *opcua.Message) {
			if !m.HasMode || m.SecurityMode != opcua.ModeNone || m.Encrypted || m.Service != opcua.OpenSecureChannel || m.Response ||
				string(opcua.PolicySuffix(m.Policy)) != "None" || m.SenderCertLen != -1 || m.ThumbprintLen != -1 {
				t.Errorf("%+v", m)
			}
		}},
		{name: "open none asking for sign", b: opcuatest.OpenRequest("None", opcua.ModeSign, 1, 1), err: pdu.OK, n: -1, check: func(t *testing.T, m *opcua.Message) {
			if m.SecurityMode != opcua.ModeSign {
				t.Errorf("mode %v", m.SecurityMode)
			}
		}},
		{name: "open mode 4", b: opcuatest.OpenRequest("None", 4, 1, 1), err: opcua.ErrBadBody, n: -1},
		{name: "open response", b: opcuatest.OpenResponse("None", 9, 14, 1, 1), err: pdu.OK, n: -1, check: func(t *testing.T, m *opcua.Message) {
			if !m.HasToken || m.ChannelID != 9 || m.TokenID != 14 || !m.Response || !m.HasResult || m.ServiceResult != 0 {
				t.Errorf("%+v", m)
			}
		}},
		{name: "open encrypted", b: opcuatest.OpenRequest("Basic256Sha256", opcua.ModeSignAndEncrypt, 1, 1), err: pdu.OK, n: -1,
			check: func(t *testing.T, m *opcua.Message) {
				if !m.Encrypted || m.HasMode || m.HasType || m.SenderCertLen != 900 || m.ThumbprintLen != 0 ||
					string(opcua.PolicySuffix(m.Policy)) != "Basic256Sha256" {
					t.Errorf("%+v", m)
				}
			}},
		{name: "open encrypted cut in certificate", b: opcuatest.OpenRequest("Basic256Sha256", opcua.ModeSign, 1, 1)[:200], err: pdu.OK, n: 1257},
		{name: "open encrypted cut in certificate length", b: opcuatest.OpenRequest("Basic256Sha256", opcua.ModeSign, 1, 1)[:8+4+4+57+2], err: pdu.ErrShort},
		{name: "open certificate past message", b: withSize(opcuatest.OpenRequest("Basic256Sha256", opcua.ModeSign, 1, 1), 500), err: opcua.ErrBadString, n: 500},
		{name: "open policy too long", b: opcuatest.Frame("OPN", 'F', opcuatest.U32(opcuatest.Str(opcuatest.U32(nil, 0), make([]byte, 256)), 0xffffffff, 0xffffffff, 1, 1)),
			err: opcua.ErrBadString, n: -1},

		// Service messages.
		{name: "read", b: read, h: none, err: pdu.OK, n: -1, check: func(t *testing.T, m *opcua.Message) {
			if m.Service != opcua.Read || m.Response || m.TypeID != 631 || m.RequestID != 7 || m.SequenceNumber != 5 ||
				m.ChannelID != 9 || m.TokenID != 14 || m.Encrypted || m.HasResult {
				t.Errorf("%+v", m)
			}
		}},
		{name: "read prefix", b: read[:24+4], h: none, err: pdu.OK, n: len(read), check: func(t *testing.T, m *opcua.Message) {
			if m.Service != opcua.Read {
				t.Errorf("%+v", m)
			}
		}},
		{name: "read prefix short of the type", b: read[:24+3], h: none, err: pdu.ErrShort},
		{name: "read signed", b: read, h: sign, err: pdu.OK, n: -1},
		{name: "read guessed clear", b: read, h: unknown, err: pdu.OK, n: -1, check: func(t *testing.T, m *opcua.Message) {
			if m.Encrypted || m.Service != opcua.Read {
				t.Errorf("%+v", m)
			}
		}},
		{name: "read under encrypt hint", b: read, h: enc, err: pdu.OK, n: -1, check: func(t *testing.T, m *opcua.Message) {
			if !m.Encrypted || m.HasType || m.RequestID != 0 || m.TokenID != 14 {
				t.Errorf("%+v", m)
			}
		}},
		{name: "encrypted guessed", b: ch.Encrypted('F', 96), h: unknown, err: pdu.OK, n: -1, check: func(t *testing.T, m *opcua.Message) {
			if !m.Encrypted || m.HasType || m.Service != opcua.ServiceUnknown {
				t.Errorf("%+v", m)
			}
		}},
		{name: "encrypted read clear by hint", b: ch.Encrypted('F', 96), h: none, check: func(t *testing.T, m *opcua.Message) {
			if m.Encrypted || m.RequestID == 0 {
				t.Errorf("%+v", m)
			}
		}, err: "any"},
		{name: "read response", b: readRsp, h: none, err: pdu.OK, n: -1, check: func(t *testing.T, m *opcua.Message) {
			if m.Service != opcua.Read || !m.Response || m.TypeID != 634 || !m.HasResult || m.ServiceResult != 0x80340000 {
				t.Errorf("%+v", m)
			}
		}},
		{name: "service fault", b: ch.Response(opcua.ServiceFault, 6, 7, 0x800d0000, nil), h: none, err: pdu.OK, n: -1,
			check: func(t *testing.T, m *opcua.Message) {
				if m.Service != opcua.ServiceFault || !m.Response || m.ServiceResult != 0x800d0000 {
					t.Errorf("%+v", m)
				}
			}},
		{name: "full numeric node id", b: bigID, h: none, err: pdu.OK, n: -1, check: func(t *testing.T, m *opcua.Message) {
			if m.Service != opcua.FindServersOnNetwork || m.TypeID != 12208 {
				t.Errorf("%+v", m)
			}
		}},
		{name: "namespace 2 type", b: nsID, h: none, err: pdu.OK, n: -1, check: func(t *testing.T, m *opcua.Message) {
			if !m.HasType || m.TypeNS != 2 || m.TypeID != 0x277 || m.Service != opcua.ServiceUnknown {
				t.Errorf("%+v", m)
			}
		}},
		{name: "namespace 2 type guessed encrypted", b: nsID, h: unknown, err: pdu.OK, n: -1, check: func(t *testing.T, m *opcua.Message) {
			if !m.Encrypted {
				t.Errorf("%+v", m)
			}
		}},
		{name: "string type", b: strID, h: none, err: pdu.OK, n: -1, check: func(t *testing.T, m *opcua.Message) {
			if !m.HasType || m.TypeNS != 1 || m.TypeID != 0 || m.Service != opcua.ServiceUnknown {
				t.Errorf("%+v", m)
			}
		}},
		{name: "unknown node id encoding", b: ch.Chunk("MSG", 'F', 2, 3, []byte{0x07, 0, 0, 0}), h: none, err: opcua.ErrBadNodeID, n: -1},
		{name: "expanded flags in a type id", b: ch.Chunk("MSG", 'F', 2, 3, []byte{0x81, 0, 0x77, 2}), h: none, err: opcua.ErrBadNodeID, n: -1},
		{name: "body ends before type", b: ch.Chunk("MSG", 'F', 2, 3, []byte{0x01, 0}), h: none, err: opcua.ErrBadBody, n: -1},
		{name: "no body", b: ch.Chunk("MSG", 'F', 2, 3, nil), h: none, err: opcua.ErrBadBody, n: -1},
		{name: "response ends before result", b: ch.Chunk("MSG", 'F', 2, 3, opcuatest.NodeID(make([]byte, 0), 634)), h: none, err: opcua.ErrBadBody, n: -1},
		{name: "first chunk split in type", b: split, h: none, err: pdu.OK, n: -1, check: func(t *testing.T, m *opcua.Message) {
			if !m.Split || m.HasType || m.RequestID != 3 {
				t.Errorf("%+v", m)
			}
		}},
		{name: "open request split in its header", b: cutChunk(opcuatest.OpenRequest("None", opcua.ModeSign, 1, 1), 95), err: pdu.OK, n: 95,
			check: func(t *testing.T, m *opcua.Message) {
				if !m.Split || !m.HasType || m.Service != opcua.OpenSecureChannel || m.HasMode {
					t.Errorf("%+v", m)
				}
			}},
		{name: "open request split final", b: withSize(opcuatest.OpenRequest("None", opcua.ModeSign, 1, 1)[:95], 95), err: opcua.ErrBadBody, n: 95},
		{name: "open security header split", b: cutChunk(opcuatest.OpenRequest("None", opcua.ModeSign, 1, 1), 70), err: opcua.ErrBadBody, n: 70},
		{name: "continuation", b: ch.Chunk("MSG", 'F', 3, 3, []byte{0xff, 0xff}), h: cont, err: pdu.OK, n: -1, check: func(t *testing.T, m *opcua.Message) {
			if m.HasType || m.RequestID != 3 || m.SequenceNumber != 3 || m.Split {
				t.Errorf("%+v", m)
			}
		}},
		{name: "abort", b: abort, h: none, err: pdu.OK, n: -1, check: func(t *testing.T, m *opcua.Message) {
			if m.Chunk != opcua.ChunkAbort || m.ErrorCode != 0x80000000 || string(m.Reason) != "gone" || m.HasType {
				t.Errorf("%+v", m)
			}
		}},
		{name: "close", b: ch.Chunk("CLO", 'F', 8, 8, append(opcuatest.NodeID(nil, 452), opcuatest.RequestHeader(8)...)), h: enc, err: pdu.OK, n: -1,
			check: func(t *testing.T, m *opcua.Message) {
				if m.Type != opcua.TypeClose || !m.Encrypted || m.TokenID != 14 {
					t.Errorf("%+v", m)
				}
			}},
		{name: "close clear", b: ch.Chunk("CLO", 'F', 8, 8, append(opcuatest.NodeID(nil, 452), opcuatest.RequestHeader(8)...)), h: none, err: pdu.OK, n: -1,
			check: func(t *testing.T, m *opcua.Message) {
				if m.Service != opcua.CloseSecureChannel || m.RequestID != 8 {
					t.Errorf("%+v", m)
				}
			}},
		{name: "response past its result unread", b: ch.Chunk("MSG", 'F', 2, 3, append(opcuatest.NodeID(nil, 634), make([]byte, 16)...)), h: none, err: pdu.OK, n: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m opcua.Message
			n, err := opcua.Parse(tt.b, tt.h, &m)
			if tt.err != "any" && err != tt.err {
				t.Fatalf("err = %q, want %q (%+v)", err, tt.err, m)
			}
			want := tt.n
			if want == -1 {
				want = len(tt.b)
			}
			if tt.err != "any" && n != want {
				t.Errorf("n = %d, want %d", n, want)
			}
			if tt.check != nil {
				tt.check(t, &m)
			}
		})
	}
}

// TestOpenNestedDiagnostics: an OPN response whose header nests
// diagnostics up to the bound is read through to its token; one level
// more is refused.
func TestOpenNestedDiagnostics(t *testing.T) {
	resp := func(depth int) []byte {
		b := opcuatest.Str(opcuatest.Str(opcuatest.Str(opcuatest.U32(nil, 9), opcuatest.Policy("None")), nil), nil)
		b = opcuatest.NodeID(opcuatest.U32(b, 1, 1), 449)
		b = opcuatest.U32(append(b, make([]byte, 8)...), 1, 0) // timestamp, handle, result
		b = append(b, bytes.Repeat([]byte{0x40}, depth-1)...)  // inner diagnostics
		b = append(b, 0x00)
		b = append(opcuatest.U32(b, 0xffffffff), 0, 0, 0) // string table, additional header
		b = opcuatest.U32(b, 0, 9, 14, 0, 0, 1000)        // version, channel, token, created, lifetime
		return opcuatest.Frame("OPN", 'F', opcuatest.Str(b, []byte{}))
	}
	var m opcua.Message
	if _, err := opcua.Parse(resp(16), opcua.Hint{}, &m); err != pdu.OK || !m.HasToken || m.TokenID != 14 {
		t.Errorf("depth 16: %q %+v", err, m)
	}
	if _, err := opcua.Parse(resp(17), opcua.Hint{}, &m); err != opcua.ErrBadBody {
		t.Errorf("depth 17: %q, want %q", err, opcua.ErrBadBody)
	}
}
