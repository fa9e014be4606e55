package modbus

import (
	"testing"

	"github.com/conduit-ot/conduit/internal/alloctest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// benchADUs is a mix of requests and responses as a poller and an
// engineering tool would send them.
var benchADUs = []struct {
	name string
	b    []byte
	dir  pdu.Dir
}{
	{"read_request", adu(words(3, 0, 10)...), pdu.Request},
	{"read_response", adu(3, 4, 0, 9, 0, 0x18), pdu.Response},
	{"write_multiple", adu(cat(words(16, 1, 2), []byte{4, 0, 10, 1, 2})...), pdu.Request},
	{"read_write", adu(cat(words(23, 3, 6, 14, 3), []byte{6, 0, 0xff, 0, 0xff, 0, 0xff})...), pdu.Request},
	{"exception", adu(0x83, 2), pdu.Response},
	{"write_file_record", adu(21, 13, 6, 0, 4, 0, 7, 0, 3, 0x06, 0xaf, 0x04, 0xbe, 0x10, 0x0d), pdu.Request},
}

func TestNoAllocs(t *testing.T) {
	var p PDU
	bad := adu(words(6, 1, 2, 3)...)
	alloctest.Zero(t, 1000, "Parse", func() {
		for _, a := range benchADUs {
			if _, err := Parse(a.b, a.dir, &p); err != pdu.OK {
				t.Fatal(err)
			}
		}
		Parse(bad, pdu.Request, &p)
		Parse(bad[:5], pdu.Request, &p)
		_ = FunctionName(p.Function)
	})
}

func BenchmarkParse(b *testing.B) {
	for _, a := range benchADUs {
		var p PDU
		alloctest.Bench(b, a.name, len(a.b), func() { Parse(a.b, a.dir, &p) })
	}
}
