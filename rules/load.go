package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// MaxFileSize is the largest policy file accepted. Real policies are a few
// hundred lines; the bound keeps hostile input cheap to refuse.
const MaxFileSize = 4 << 20

// Load reads and parses the policy file at path. An invalid policy gives an
// error wrapping *Errors; a file that cannot be read gives any other error.
func Load(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load policy %s: %w", path, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > MaxFileSize {
		return nil, fmt.Errorf("load policy %s: %w", path, tooLarge(path, fi.Size()))
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("load policy %s: %w", path, err)
	}
	p, err := Parse(path, data)
	if err != nil {
		return nil, fmt.Errorf("load policy %s: %w", path, err)
	}
	p.File = path
	return p, nil
}

func tooLarge(name string, size int64) *Errors {
	return &Errors{List: []Diagnostic{{File: name, Line: 1, Col: 1,
		Msg: fmt.Sprintf("file is too large (%d bytes; a policy may be at most %d MiB)", size, MaxFileSize>>20)}}}
}

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Parse parses and validates a policy; name is used in diagnostics. An
// invalid policy returns *Errors holding every problem found.
func Parse(name string, data []byte) (*Policy, error) {
	if len(data) > MaxFileSize {
		return nil, tooLarge(name, int64(len(data)))
	}
	d := &decoder{file: name}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		line, col := position(data, i)
		d.errAt(line, col, "this is not a text file (NUL byte); a policy is YAML text")
		return nil, &Errors{List: d.diags}
	}
	if !utf8.Valid(data) {
		i := invalidUTF8(data)
		line, col := position(data, i)
		d.errAt(line, col, "this is not UTF-8 text; a policy is YAML text")
		return nil, &Errors{List: d.diags}
	}
	sum := sha256.Sum256(data)

	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errAt(1, 1, "the policy is empty")
		} else {
			d.yamlError(err, data)
		}
		return nil, &Errors{List: d.diags}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errAt(extra.Line, extra.Column, "a policy is one YAML document; remove the second one (after ---)")
	} else if !errors.Is(err, io.EOF) {
		d.yamlError(err, data)
	}
	d.checkTree(&doc, 0, new([2]bool))
	if len(d.diags) > 0 {
		return nil, &Errors{List: sortDiags(d.diags)}
	}
	if len(doc.Content) == 0 {
		d.errAt(1, 1, "the policy is empty")
		return nil, &Errors{List: d.diags}
	}
	p := d.policy(doc.Content[0])
	if len(d.diags) == 0 {
		if err := p.compile(); err != nil {
			d.errAt(1, 1, "%v", err)
		}
	}
	if len(d.diags) > 0 {
		return nil, &Errors{List: sortDiags(d.diags)}
	}
	p.SHA256 = hex.EncodeToString(sum[:])
	p.Warnings = sortDiags(p.lint(name))
	return p, nil
}

// yamlError turns a yaml.v3 syntax error ("yaml: line 3: ...") into a
// diagnostic. yaml.v3 reports no column, and for parser errors the line
// where the enclosing construct began, which can be far from the mistake;
// so for files of ordinary size the line is found again as the first line
// whose addition makes the text unparsable.
func (d *decoder) yamlError(err error, data []byte) {
	msg := trimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := yamlLineErr.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if len(data) <= 1<<20 {
		line = firstBadLine(data)
	}
	if l := lineText(data, line); len(l) > 0 && bytes.IndexByte(l[:len(l)-len(bytes.TrimLeft(l, " \t"))], '\t') >= 0 {
		msg += " (a tab in the indentation: YAML indents with spaces only)"
	}
	d.errAt(line, 1, "YAML syntax error: %s", msg)
}

// firstBadLine binary-searches for the shortest prefix of whole lines that
// fails to parse, and returns its last line number.
func firstBadLine(data []byte) int {
	ends := []int{0} // ends[k] is the length of the first k lines
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	lo, hi := 0, len(ends)-1 // prefix lo parses, prefix hi does not
	if parses(data[:ends[hi]]) {
		return 1
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if parses(data[:ends[mid]]) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// lineText returns line n (1-based) of data without its newline.
func lineText(data []byte, n int) []byte {
	for ; n > 1; n-- {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return nil
		}
		data = data[i+1:]
	}
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		data = data[:i]
	}
	return data
}

func parses(b []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			return errors.Is(err, io.EOF)
		}
	}
}

func trimPrefix(s, p string) string {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// position converts a byte offset into a 1-based line and column.
func position(data []byte, off int) (line, col int) {
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	col = off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}

func invalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return 0
}
