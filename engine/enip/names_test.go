package enip

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
)

// rulesVocabulary reads a map[string]uint16 literal from rules/app.go, so
// that this test fails when the policy's names and the parser's drift apart.
func rulesVocabulary(t *testing.T, name string) map[string]uint64 {
	t.Helper()
	path := filepath.Join("..", "..", "rules", "app.go")
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Skipf("rules vocabulary not readable: %v", err)
	}
	out := map[string]uint64{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || vs.Names[0].Name != name || len(vs.Values) != 1 {
			return true
		}
		lit := vs.Values[0].(*ast.CompositeLit)
		for _, e := range lit.Elts {
			kv := e.(*ast.KeyValueExpr)
			k, _ := strconv.Unquote(kv.Key.(*ast.BasicLit).Value)
			v, err := strconv.ParseUint(kv.Value.(*ast.BasicLit).Value, 0, 64)
			if err != nil {
				t.Fatalf("%s[%s]: %v", name, k, err)
			}
			out[k] = v
		}
		return false
	})
	if len(out) == 0 {
		t.Fatalf("%s not found in %s", name, path)
	}
	return out
}

func TestCommandsMatchRules(t *testing.T) {
	rules := rulesVocabulary(t, "enipCommands")
	for name, code := range rules {
		if got, ok := CommandCode(name); !ok || uint64(got) != code {
			t.Errorf("rules command %s=%#x; CommandCode = %#x, %v", name, code, got, ok)
		}
	}
	if len(CommandNames()) != len(rules) {
		t.Errorf("CommandNames %v; rules has %d", CommandNames(), len(rules))
	}
}

// TestServicesMatchRules checks that every CIP service name the policy
// accepts means the same code here. The policy's table is flat, so the
// object-specific names it lacks are only logged.
func TestServicesMatchRules(t *testing.T) {
	rules := rulesVocabulary(t, "cipServices")
	for name, code := range rules {
		if got, _, ok := ServiceCode(name); !ok || uint64(got) != code {
			t.Errorf("rules service %s=%#x; ServiceCode = %#x, %v", name, code, got, ok)
		}
	}
	var extra []string
	for _, name := range ServiceNames() {
		if _, ok := rules[name]; !ok {
			extra = append(extra, name)
		}
	}
	t.Logf("services the parser names that rules/app.go lacks: %v", extra)
}

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
