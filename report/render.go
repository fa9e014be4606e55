package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var pageTemplate string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"stamp": func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"time":  func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") },
	"bytes": fmtBytes,
	"port": func(r Row) string {
		if r.Port < 0 {
			return "-"
		}
		return itoa(r.Port)
	},
	"add":     func(a, b int) int { return a + b },
	"odd":     func(i int) bool { return i%2 == 1 },
	"refused": isRefused,
	"firstLine": func(s string) string {
		first, _, _ := strings.Cut(s, "\n")
		return first
	},
	"labelX": func(x float64) float64 { return x + 5 },
	"textY":  func(y float64, i int) float64 { return y + float64(i)*lineH },
	"labelY": func(y float64, i int) float64 { return y + 14 + float64(i)*lineH },
	"span": func(a, b *time.Time) string {
		if a == nil || b == nil {
			return ""
		}
		return Ago(b.Sub(*a))
	},
}).Parse(pageTemplate))

// Render writes the report as one self-contained HTML page. The page is
// checked before it is written: one that would make a browser fetch
// anything (an air-gapped workstation opens it) is an error.
func Render(w io.Writer, r *Report) error {
	var b bytes.Buffer
	if err := page.Execute(&b, r); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	if err := SelfContained(b.Bytes()); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// external matches what could make a browser fetch anything: a scheme
// followed by //, a protocol-relative reference, a src/href/action/...
// attribute that is not a fragment, a CSS url() that is not a fragment,
// an @import.
var external = regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*:)?//|\b(src|href|action|srcset|poster|data|formaction|background)\s*=\s*["']?[^"'#\s]|url\(\s*["']?[^#"'\s]|@import`)

// SelfContained reports the first reference of page to anything outside
// it, if there is one.
func SelfContained(page []byte) error {
	if loc := external.FindIndex(page); loc != nil {
		from := max(loc[0]-40, 0)
		return fmt.Errorf("the page refers to something outside it: %q (in %q)", page[loc[0]:loc[1]], page[from:min(loc[1]+40, len(page))])
	}
	return nil
}

// fmtBytes formats a byte count: 512 B, 1.5 KiB, 3.0 MiB.
func fmtBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
