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
			d.yamlError(err)
		}
		return nil, &Errors{List: d.diags}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errAt(extra.Line, extra.Column, "a policy is one YAML document; remove the second one (after ---)")
	} else if !errors.Is(err, io.EOF) {
		d.yamlError(err)
	}
	d.checkTree(&doc, 0)
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
// diagnostic. yaml.v3 reports no column for these.
func (d *decoder) yamlError(err error) {
	msg := err.Error()
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.errAt(line, 1, "YAML syntax error: %s", m[2])
		return
	}
	d.errAt(1, 1, "YAML syntax error: %s", trimPrefix(msg, "yaml: "))
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
