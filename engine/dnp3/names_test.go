package dnp3

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"testing"
)

// policyNames reads the map literal var name in rules/app.go, so the
// parser's vocabulary cannot drift from the policy's.
func policyNames(t *testing.T, name string) map[string]int {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "..", "rules", "app.go"), nil, 0)
	if err != nil {
		t.Skipf("rules/app.go not readable: %v", err)
	}
	out := map[string]int{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || vs.Names[0].Name != name {
			return true
		}
		for _, e := range vs.Values[0].(*ast.CompositeLit).Elts {
			kv := e.(*ast.KeyValueExpr)
			k, _ := strconv.Unquote(kv.Key.(*ast.BasicLit).Value)
			v, err := strconv.ParseInt(kv.Value.(*ast.BasicLit).Value, 0, 32)
			if err != nil {
				t.Fatal(err)
			}
			out[k] = int(v)
		}
		return false
	})
	if len(out) == 0 {
		t.Fatalf("%s not found in rules/app.go", name)
	}
	return out
}

func TestNamesMatchPolicy(t *testing.T) {
	want := policyNames(t, "dnp3Functions")
	if got := FunctionNames(); len(got) != len(want) {
		t.Errorf("%d names, policy has %d", len(got), len(want))
	}
	for name, code := range want {
		c, ok := FunctionCode(name)
		if !ok || int(c) != code || FunctionName(c) != name {
			t.Errorf("%s: FunctionCode = %d, %v; policy says %d", name, c, ok, code)
		}
	}
}

func TestNames(t *testing.T) {
	for _, code := range []uint8{34, 128, 132, 255} {
		if n := FunctionName(code); n != "" {
			t.Errorf("FunctionName(%d) = %q, want empty", code, n)
		}
	}
	for _, name := range []string{"", "nope", "Read"} {
		if _, ok := FunctionCode(name); ok {
			t.Errorf("FunctionCode(%q) found", name)
		}
	}
	if IsResponse(FuncAuthenticateErr) || !IsResponse(FuncResponse) || !IsResponse(FuncAuthenticateResp) || IsResponse(132) {
		t.Error("IsResponse")
	}
	for ctrl, want := range map[uint8]string{0xc9: "request_link_status", 0x0b: "link_status", 0x1b: "link_status", 0xc4: "unconfirmed_user_data",
		0x00: "ack", 0x40: "reset_link_states", 0x45: "", 0x02: "", 0x4f: "", 0x0e: "link_not_functioning"} {
		if got := LinkFunctionName(ctrl); got != want {
			t.Errorf("LinkFunctionName(%#x) = %q, want %q", ctrl, got, want)
		}
	}
}
