package opcua_test

import (
	"testing"

	"github.com/conduit-ot/conduit/proto/internal/pdu"
	"github.com/conduit-ot/conduit/proto/opcua"
	"github.com/conduit-ot/conduit/proto/opcua/opcuatest"
)

// chunks is a Write request cut into chunks of the given types: the first chunk carries the
// type NodeId, the others only body bytes.
func chunks(reqID uint32, types ...byte) [][]byte {
	var out [][]byte
	for i, c := range types {
		body := []byte{0xaa, 0xbb, 0xcc}
		switch {
		case c == opcua.ChunkAbort:
			body = opcuatest.Str(opcuatest.U32(nil, 0x80000000), []byte("aborted"))
		case i == 0:
			body = append(opcuatest.NodeID(nil, opcua.Write.RequestID()), opcuatest.RequestHeader(reqID)...)
		}
		out = append(out, ch.Chunk("MSG", c, uint32(10+i), reqID, body))
	}
	return out
}

func TestChunks(t *testing.T) {
	other := ch.Chunk("MSG", 'F', 30, 99, []byte{1, 2, 3})
	tests := []struct {
		name   string
		chunks [][]byte
		want   []opcua.Kind
	}{
		{"single", chunks(5, 'F'), []opcua.Kind{opcua.KindSingle}},
		{"two singles", append(chunks(5, 'F'), chunks(6, 'F')...), []opcua.Kind{opcua.KindSingle, opcua.KindSingle}},
		{"three chunks", chunks(5, 'C', 'C', 'F'), []opcua.Kind{opcua.KindFirst, opcua.KindMiddle, opcua.KindFinal}},
		{"abort", chunks(5, 'C', 'A'), []opcua.Kind{opcua.KindFirst, opcua.KindAbort}},
		{"abort alone", chunks(5, 'A'), []opcua.Kind{opcua.KindAbort}},
		{"after abort", append(chunks(5, 'C', 'A'), chunks(6, 'F')...), []opcua.Kind{opcua.KindFirst, opcua.KindAbort, opcua.KindSingle}},
		{"interleaved", append(chunks(5, 'C'), other), []opcua.Kind{opcua.KindFirst, opcua.KindStray}},
		{"handshake", [][]byte{opcuatest.Hello("opc.tcp://x"), chunks(5, 'F')[0]}, []opcua.Kind{opcua.KindSingle, opcua.KindSingle}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c opcua.Chunks
			for i, b := range tt.chunks {
				var m opcua.Message
				if _, err := opcua.Parse(b, opcua.Hint{Mode: opcua.ModeNone, Continues: c.Open()}, &m); err != pdu.OK {
					t.Fatalf("chunk %d: %q", i, err)
				}
				if k := c.Next(&m); k != tt.want[i] {
					t.Fatalf("chunk %d: %v, want %v", i, k, tt.want[i])
				}
				// Every chunk of the Write names it, the first from its
				// NodeId, the others from the open message.
				if m.Type == opcua.TypeMessage && m.RequestID != 99 && m.Service != opcua.Write && tt.name != "abort alone" {
					t.Errorf("chunk %d: service %v", i, m.Service)
				}
			}
			if len(tt.want) > 1 && tt.want[1] == opcua.KindMiddle && c.Count() != 0 {
				t.Errorf("count %d after the final chunk", c.Count())
			}
		})
	}
}

func TestChunksCount(t *testing.T) {
	var c opcua.Chunks
	for i, b := range chunks(5, 'C', 'C', 'C') {
		var m opcua.Message
		opcua.Parse(b, opcua.Hint{Mode: opcua.ModeNone, Continues: c.Open()}, &m)
		c.Next(&m)
		if c.Count() != uint32(i+1) || !c.Open() {
			t.Fatalf("after %d chunks: count %d, open %v", i+1, c.Count(), c.Open())
		}
	}
}
