package e2e

import (
	_ "embed"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
)

//go:embed policy.yaml.tmpl
var policyTemplate string

// Policy renders the test policy (policy.yaml.tmpl), whose rules the flows
// of this package name.
type Policy struct {
	Mode     string
	Queue    int
	FailOpen bool
	Conduits string // per-conduit modes, as YAML list items
	Extra    string // rules placed first, as YAML list items
	Socket   string // control socket; a fresh temporary path when empty
}

// Render returns the policy's text.
func (pol Policy) Render(t testing.TB) string {
	t.Helper()
	if pol.Queue == 0 {
		pol.Queue = 20
	}
	if pol.Socket == "" {
		// Never the host's default socket: tests run daemons side by side.
		pol.Socket = filepath.Join(t.TempDir(), "conduit.sock")
	}
	return execute(t, template.Must(template.New("policy").Parse(policyTemplate)), pol)
}

// RenderFile executes the template file path with data.
func RenderFile(t testing.TB, path string, data any) string {
	t.Helper()
	tmpl, err := template.ParseFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	return execute(t, tmpl, data)
}

func execute(t testing.TB, tmpl *template.Template, data any) string {
	t.Helper()
	var b strings.Builder
	if err := tmpl.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// WriteFile replaces path the way editors and configuration management
// do: write a temporary file beside it, then rename it over.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
