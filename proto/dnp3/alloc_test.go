package dnp3

import (
	"testing"

	"github.com/conduit-ot/conduit/internal/alloctest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// benchFrames are a poll, a control, a response, link status, and a
// 292-byte continuation segment.
var benchFrames = map[string][]byte{
	"read_class":     req(FuncRead, 60, 2, 0x06, 60, 3, 0x06, 60, 4, 0x06, 60, 1, 0x06),
	"direct_operate": req(FuncDirectOperate, 12, 1, 0x28, 1, 0, 3, 0, 0x41, 1, 0xe8, 3, 0, 0, 0, 0, 0, 0, 0),
	"response":       link(0x44, append([]byte{0xc0, 0xc1, FuncResponse, 0, 0, 1, 2, 0x00, 0, 9}, make([]byte, 10)...)...),
	"link_status":    link(0x0b),
	"max_segment":    link(0x44, append([]byte{0x01}, make([]byte, MaxUserData-1)...)...),
}

func TestNoAllocs(t *testing.T) {
	var f Frame
	var a App
	bad := req(FuncRead, 60, 2, 0x0a)
	alloctest.Zero(t, 1000, "Parse", func() {
		for _, b := range benchFrames {
			if _, err := Parse(b, &f); err != pdu.OK {
				t.Fatal(err)
			}
		}
		Parse(bad, &f)
		Parse(bad[:12], &f)
		ParseApp(f.Segment(), &a)
		_ = FunctionName(f.App.Function)
		_ = LinkFunctionName(f.Control)
	})
}

func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"read_class", "direct_operate", "response", "link_status", "max_segment"} {
		fr := benchFrames[name]
		var f Frame
		alloctest.Bench(b, name, len(fr), func() { Parse(fr, &f) })
	}
}
