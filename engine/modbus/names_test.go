package modbus

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
	want := policyNames(t, "modbusFunctions")
	got := FunctionNames()
	if len(got) != len(want) {
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
	if FunctionName(0x83) != "read_holding_registers" {
		t.Errorf("exception bit not ignored: %q", FunctionName(0x83))
	}
	for _, code := range []uint8{0, 9, 42, 90, 127} {
		if n := FunctionName(code); n != "" {
			t.Errorf("FunctionName(%d) = %q, want empty", code, n)
		}
	}
	for _, name := range []string{"", "nope", "READ_COILS"} {
		if _, ok := FunctionCode(name); ok {
			t.Errorf("FunctionCode(%q) found", name)
		}
	}
	if ExceptionName(2) != "illegal_data_address" || ExceptionName(11) != "gateway_target_failed_to_respond" ||
		ExceptionName(7) != "" || ExceptionName(200) != "" {
		t.Error("exception names")
	}
}
