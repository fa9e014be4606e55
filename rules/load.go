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
	"strings"
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
// diagnostic at the character to fix. yaml.v3 reports no column, and for
// parser errors the line where the enclosing construct began, which can be
// far from the mistake; so for files of ordinary size the line is found
// again by parsing prefixes of the file (badLine), and the column by
// reading that line (locate).
func (d *decoder) yamlError(err error, data []byte) {
	msg := trimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := yamlLineErr.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	if i := controlChar(data); i >= 0 && msg == "control characters are not allowed" {
		// The reader refuses these before any parsing, without a line.
		line, col := position(data, i)
		r, _ := utf8.DecodeRune(data[i:])
		d.errAt(line, col, "YAML syntax error: control character U+%04X; a policy may hold only printable text, tabs and line breaks", r)
		return
	}
	if len(data) <= 1<<20 {
		line = badLine(data)
	}
	line, col, hint := locate(data, line, msg)
	if hint != "" {
		msg += " (" + hint + ")"
	}
	d.errAt(line, col, "YAML syntax error: %s", msg)
}

// badLine returns the line of a syntax error: the last line of the
// shortest prefix of whole lines that fails to parse, skipping prefixes
// that only fail because they cut a multi-line flow list or quoted value
// short (a later prefix parses again). Skipping stops when it has parsed
// 4 times the file and 2 MiB more, to keep hostile input cheap.
func badLine(data []byte) int {
	ends := []int{0} // ends[k] is the length of the first k lines
	for i, c := range data {
		if c == '\n' {
			ends = append(ends, i+1)
		}
	}
	if ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	budget := 4*len(data) + 2<<20
	parses := func(k int) bool {
		budget -= ends[k]
		return parseErr(data[:ends[k]]) == nil
	}
	last := len(ends) - 1
	if parses(last) {
		return 1
	}
	lo := 0 // prefix lo parses, prefix last does not
	for {
		bad := lo + 1 // binary search for a failing prefix right after one that parses
		for hi := last; hi-lo > 1; {
			if mid := (lo + hi) / 2; parses(mid) {
				lo = mid
			} else {
				hi = mid
			}
			bad = hi
		}
		if !truncated(parseErr(data[:ends[bad]])) {
			return bad
		}
		next := -1
		for k := bad + 1; k <= min(bad+maxSpan, last-1) && budget > 0; k++ {
			if parses(k) {
				next = k
				break
			}
		}
		if next < 0 {
			return bad
		}
		lo = next
	}
}

// maxSpan bounds how many lines badLine looks ahead for the end of a
// multi-line flow list or quoted value.
const maxSpan = 50

// truncated reports whether err is what yaml.v3 says when the text ends
// inside a flow list or mapping or a quoted value.
func truncated(err error) bool {
	if err == nil {
		return false
	}
	m := err.Error()
	return strings.HasSuffix(m, "found unexpected end of stream") ||
		strings.HasSuffix(m, "did not find expected ',' or ']'") ||
		strings.HasSuffix(m, "did not find expected ',' or '}'") ||
		strings.HasSuffix(m, "did not find expected node content")
}

// lineStart returns the offset of line n (1-based) in data, or len(data).
func lineStart(data []byte, n int) int {
	off := 0
	for ; n > 1; n-- {
		i := bytes.IndexByte(data[off:], '\n')
		if i < 0 {
			return len(data)
		}
		off += i + 1
	}
	return off
}

// lineFrom returns the line starting at off, without its line break.
func lineFrom(data []byte, off int) []byte {
	l := data[off:]
	if i := bytes.IndexByte(l, '\n'); i >= 0 {
		l = l[:i]
	}
	return bytes.TrimSuffix(l, []byte{'\r'})
}

func parseErr(b []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// controlChar returns the offset of the first character the YAML reader
// refuses (yaml.v3 readerc.go), or -1.
func controlChar(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		switch {
		case r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r <= 0x7e || r == 0x85,
			r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
		default:
			return i
		}
		i += n
	}
	return -1
}

func trimPrefix(s, p string) string {
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// position converts a byte offset into a 1-based line and column; columns
// count characters, as yaml.v3's node columns do.
func position(data []byte, off int) (line, col int) {
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	col = 1 + utf8.RuneCount(data[bytes.LastIndexByte(data[:off], '\n')+1:off])
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

// locate finds the character behind a syntax error on line n, from
// yaml.v3's message and the text of the line (or, when the mistake shows
// on the line after it, of the line above), and a hint in a plant
// engineer's words for the messages that need one.
func locate(data []byte, n int, msg string) (line, col int, hint string) {
	start := lineStart(data, n)
	text := lineFrom(data, start)
	s := scanLine(text)
	at := func(off int) int { return 1 + utf8.RuneCount(text[:off]) }
	first := 1 // the line's first character, or 1 on a blank line
	if s.indent < len(text) {
		first = at(s.indent)
	}
	has := func(sub string) bool { return strings.Contains(msg, sub) }
	switch {
	case s.tab >= 0 && (has("tab character") || has("cannot start any token")):
		return n, at(s.tab), "a tab in the indentation: YAML indents with spaces only"
	case has("cannot start any token") && s.badStart >= 0:
		return n, at(s.badStart), fmt.Sprintf("a value cannot begin with %q; put it in quotes", text[s.badStart])
	case s.quote >= 0:
		// An unclosed quote swallows the lines after it, whatever yaml.v3
		// then trips over.
		return n, at(s.quote), fmt.Sprintf("this %c is never closed", text[s.quote])
	case has("unknown escape") && s.badEscape >= 0:
		return n, at(s.badEscape), `in "..." a backslash starts an escape such as \n; write \\ or use '...' for a path`
	case s.afterQuote >= 0 && (has("expected key") || has("comment or line break")):
		return n, at(s.afterQuote), "text after a closing quote: quote the whole value; write ' inside '...' as ''"
	case has("did not find expected") && s.mismatch >= 0:
		if s.open0 < 0 {
			return n, at(s.mismatch), fmt.Sprintf("this %c closes nothing", text[s.mismatch])
		}
		return n, at(s.mismatch), fmt.Sprintf("this %c closes the %c at column %d", text[s.mismatch], text[s.open0], at(s.open0))
	case has("did not find expected ',' or") && s.noComma >= 0:
		return n, at(s.noComma), "a ',' is missing before this key"
	case has("did not find expected") && len(s.open) > 0:
		o := s.open[len(s.open)-1]
		for i := len(s.open) - 1; i >= 0; i-- { // the bracket yaml.v3 wants closed
			if c := text[s.open[i]]; has("',' or '" + closer(c) + "'") {
				o = s.open[i]
				break
			}
		}
		return n, at(o), fmt.Sprintf("this %c is never closed", text[o])
	case has("expected node content") && s.emptyEntry >= 0:
		return n, at(s.emptyEntry), "nothing before this ','"
	case has("mapping values are not allowed"):
		if len(s.colons) >= 2 {
			return n, at(s.colons[1]), "a value containing ': ' must be in quotes"
		}
		// The line continues a plain value from the line above: the
		// line above lacks the space after a key's ':', or this line is
		// indented deeper than the key above it.
		if pn, prev := prevContent(data, start, n); pn > 0 {
			ps := scanLine(prev)
			if ps.noSpace >= 0 && len(ps.colons) == 0 {
				return pn, 1 + utf8.RuneCount(prev[:ps.noSpace]), "put a space after ':'"
			}
			if s.indent > ps.key {
				return n, first, fmt.Sprintf("indented %d spaces, the line above %d: keys of one mapping line up, as do items of one list", s.indent, ps.key)
			}
		}
	case has("could not find expected ':'"):
		if s.noSpace >= 0 {
			return n, at(s.noSpace), "put a space after ':'"
		}
		return n, at(s.key), "a key needs ': ' after it"
	case has("block sequence entries are not allowed") && s.dash >= 0:
		return n, at(s.dash), "a list item cannot follow a key on its line; start it on the next line"
	case has("did not find expected key") && s.dashes > 0:
		return n, first, "a list item where a key was expected: check this line's indentation"
	case has("did not find expected '-' indicator") || has("did not find expected key"):
		return n, first, "check this line's indentation: it does not line up with the lines above it"
	}
	return n, first, ""
}

func closer(open byte) string {
	if open == '[' {
		return "]"
	}
	return "}"
}

// prevContent returns the last line before line n (starting at off) that
// holds more than blanks and a comment, and its number (0 if none).
func prevContent(data []byte, off, n int) (int, []byte) {
	for off > 0 {
		off = bytes.LastIndexByte(data[:off-1], '\n') + 1
		n--
		l := lineFrom(data, off)
		if t := bytes.TrimLeft(l, " \t"); len(t) > 0 && t[0] != '#' {
			return n, l
		}
	}
	return 0, nil
}

// lineScan is what a rough one-line YAML lexer finds on a line: enough to
// point at the character behind a syntax error. Offsets index the line;
// -1 is none.
type lineScan struct {
	indent int // leading blanks
	tab    int // the first tab among them
	dashes int // "- " list indicators after them
	key    int // where the content after those begins
	// colons are the block-level ':' indicators (after "key").
	colons []int
	// noSpace is a ':' glued to the word after it in the line's leading
	// plain key ("from:ops").
	noSpace int
	quote   int   // a quote opened and not closed on the line
	open    []int // '[' and '{' not closed on the line
	open0   int   // for mismatch: the bracket it closes
	// mismatch is a ']' or '}' that closes the other kind of bracket, or
	// one with nothing to close.
	mismatch   int
	noComma    int // a key in a flow mapping entry that already has one
	emptyEntry int // a ',' with nothing before it in a flow
	dash       int // a "- " where a value was expected ("from: - a")
	badStart   int // '@' or '`' at the start of a value
	badEscape  int // an unknown escape in "..."
	afterQuote int // text after a closing quote, or the quote when glued to it
}

// scanLine lexes one line as YAML, from block context: quotes, flow
// brackets, ':' indicators and comments, nothing more.
func scanLine(l []byte) lineScan {
	s := lineScan{tab: -1, noSpace: -1, quote: -1, open0: -1, mismatch: -1, noComma: -1,
		emptyEntry: -1, dash: -1, badStart: -1, badEscape: -1, afterQuote: -1}
	blank := func(i int) bool { return i >= len(l) || l[i] == ' ' || l[i] == '\t' }
	i := 0
	for i < len(l) && (l[i] == ' ' || l[i] == '\t') {
		if l[i] == '\t' && s.tab < 0 {
			s.tab = i
		}
		i++
	}
	s.indent = i
	for i < len(l) && l[i] == '-' && blank(i+1) {
		s.dashes++
		for i++; i < len(l) && blank(i); i++ {
		}
	}
	s.key = i
	var keys []int // per open bracket: ':' indicators in its current entry
	start, plain := true, -1
	set := func(p *int, v int) {
		if *p < 0 {
			*p = v
		}
	}
	for i < len(l) {
		c := l[i]
		flow := len(s.open) > 0
		if c == ' ' || c == '\t' {
			if i+1 < len(l) && l[i+1] == '#' {
				return s
			}
			i++
			continue
		}
		if start {
			start, plain = false, -1
			switch c {
			case '#':
				return s
			case '"', '\'':
				end := s.closeQuote(l, i)
				if end < 0 {
					s.quote = i
					return s
				}
				i = end + 1
				j := i
				for j < len(l) && (l[j] == ' ' || l[j] == '\t') {
					j++
				}
				if j == i && j < len(l) && l[j] != ':' && l[j] != ',' && l[j] != ']' && l[j] != '}' {
					set(&s.afterQuote, end) // glued on: the quote was meant inside ("'it's'")
				} else if j < len(l) && strings.IndexByte(":,]}#", l[j]) < 0 {
					set(&s.afterQuote, j)
				}
				continue
			case '[', '{':
				s.open = append(s.open, i)
				keys = append(keys, 0)
				i, start = i+1, true
				continue
			case ']', '}':
				if !flow {
					set(&s.mismatch, i)
				}
			case '-':
				if !flow && blank(i+1) {
					set(&s.dash, i)
					i, start = i+1, true
					continue
				}
			case ',':
				if flow {
					set(&s.emptyEntry, i)
					i, start = i+1, true
					continue
				}
			case '|', '>':
				if !flow {
					return s // a block scalar's header
				}
			case '@', '`':
				set(&s.badStart, i)
			case '&', '*', '!':
				for i < len(l) && !blank(i) && !(flow && strings.IndexByte(",[]{}", l[i]) >= 0) {
					i++
				}
				start = true
				continue
			}
			plain = i
		}
		switch {
		case c == ':' && (blank(i+1) || flow && strings.IndexByte(",[]{}", l[i+1]) >= 0):
			if !flow {
				s.colons = append(s.colons, i)
			} else if keys[len(keys)-1]++; keys[len(keys)-1] == 2 && plain >= 0 {
				// "{a: 1 b: 2}": the key starts after the last blank.
				k := i
				for k > plain && !blank(k-1) {
					k--
				}
				set(&s.noComma, k)
			}
			start = true
		case c == ':' && !flow && plain == s.key && len(s.colons) == 0:
			set(&s.noSpace, i)
		case flow && c == ',':
			keys[len(keys)-1] = 0
			start = true
		case flow && (c == ']' || c == '}'):
			o := s.open[len(s.open)-1]
			if (c == ']') != (l[o] == '[') && s.mismatch < 0 {
				s.mismatch, s.open0 = i, o
			}
			s.open, keys = s.open[:len(s.open)-1], keys[:len(keys)-1]
		case flow && (c == '[' || c == '{'):
			s.open = append(s.open, i)
			keys = append(keys, 0)
			start = true
		}
		i++
	}
	return s
}

// closeQuote returns the offset of the quote closing the one at i, or -1
// when the line ends first, noting the first unknown escape in "...".
func (s *lineScan) closeQuote(l []byte, i int) int {
	q := l[i]
	for j := i + 1; j < len(l); j++ {
		switch {
		case q == '\'' && l[j] == '\'':
			if j+1 < len(l) && l[j+1] == '\'' {
				j++ // '' is a quote inside '...'
				continue
			}
			return j
		case q == '"' && l[j] == '\\':
			if j+1 < len(l) && strings.IndexByte("0abt\tnvfre \"/\\N_LPxuU", l[j+1]) < 0 && s.badEscape < 0 {
				s.badEscape = j
			}
			j++
		case q == '"' && l[j] == '"':
			return j
		}
	}
	return -1
}
