package enip

import (
	"sort"
	"testing"
)

// The policy (rules/app.go) takes its names from this package, so the two
// cannot drift; rules' TestAppVocabulary writes every name into a policy.

func TestNames(t *testing.T) {
	for _, name := range CommandNames() {
		c, ok := CommandCode(name)
		if !ok || CommandName(c) != name {
			t.Errorf("command %s round trip: %#x %v", name, c, ok)
		}
	}
	if _, ok := CommandCode("bogus"); ok || CommandName(0x99) != "" {
		t.Error("unknown command named")
	}
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
	for _, name := range ClassNames() {
		c, ok := ClassCode(name)
		if !ok || ClassName(c) != name {
			t.Errorf("class %s round trip", name)
		}
	}
	if _, ok := ClassCode("bogus"); ok || ClassName(0x8e) != "" {
		t.Error("unknown class named")
	}
	if Request.String() != "request" || Response.String() != "response" {
		t.Error("Dir.String")
	}
}
