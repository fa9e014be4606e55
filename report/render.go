package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
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
	"add":    func(a, b int) int { return a + b },
	"odd":    func(i int) bool { return i%2 == 1 },
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

// Render writes the report as one self-contained HTML page.
func Render(w io.Writer, r *Report) error {
	if err := page.Execute(w, r); err != nil {
		return fmt.Errorf("render report: %w", err)
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
