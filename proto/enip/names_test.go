package enip

import (
	"sort"
	"testing"

	"github.com/conduit-ot/conduit/proto/internal/parsetest"
	"github.com/conduit-ot/conduit/proto/internal/pdu"
)

// The policy (this package's condition) takes its names from here, so
// the two cannot drift; rules' TestAppVocabulary writes every name into a
// policy.

func TestNames(t *testing.T) {
	parsetest.Vocab(t, "enip command", CommandNames(), CommandCode, CommandName, 0x99)
	names := ServiceNames()
	if !sort.StringsAreSorted(names) {
		t.Error("ServiceNames not sorted")
	}
	seen := map[string]bool{}
	for _, name := range names {
		if seen[name] {
			t.Errorf("service name %s twice", name)
		}
		seen[name] = true
		code, class, ok := ServiceCode(name)
		if !ok || ServiceName(code, class) != name || ServiceName(code|0x80, class) != name {
			t.Errorf("service %s round trip: %#x on %#x %v", name, code, class, ok)
		}
	}
	for _, tc := range []struct {
		code  uint8
		class uint32
		want  string
	}{
		{0x0e, 0x01, "get_attribute_single"}, {0x0e, 0, "get_attribute_single"},
		{0x54, ClassConnectionManager, "forward_open"}, {0x54, 0x01, ""},
		{0x52, ClassConnectionManager, "unconnected_send"}, {0x52, ClassSymbol, "read_tag_fragmented"},
		{0x4c, ClassSymbol, "read_tag"}, {0x4c, 0x6c, "read_template"}, {0x4c, 0x8e, ""},
		{0x0b, 1, ""}, {0x7f, 1, ""},
	} {
		if got := ServiceName(tc.code, tc.class); got != tc.want {
			t.Errorf("ServiceName(%#x, %#x) = %q, want %q", tc.code, tc.class, got, tc.want)
		}
	}
	if _, _, ok := ServiceCode("bogus"); ok {
		t.Error("unknown service has a code")
	}
	parsetest.Vocab(t, "cip class", ClassNames(), ClassCode, ClassName, 0x8e)
	if pdu.Request.String() != "request" || pdu.Response.String() != "response" {
		t.Error("Dir.String")
	}
}
