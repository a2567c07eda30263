package precheck

import "strings"

// This file holds a small Python tokenizer: just enough of Python 3.12's
// lexical rules to find string literals (decoded), names, numbers and
// punctuation, and to skip comments, in possibly invalid code, in one
// linear pass with bounded memory.

// tokKind is what a token is.
type tokKind uint8

const (
	tokName    tokKind = iota + 1 // identifier or keyword
	tokNumber                     // numeric literal, as written
	tokString                     // string or bytes literal, decoded
	tokOp                         // one punctuation character
	tokNewline                    // end of a logical line at the top level
)

// exprMark stands, in a decoded f-string, for each replacement field
// ({...}): its value is not known before the code runs. No hostname or
// port can contain it.
const exprMark = '\x00'

// maxFrames bounds the nesting of f-strings (and so the tokenizer's
// memory): a string starting deeper is read as a plain string.
const maxFrames = 64

// token is one token. Tokens are emitted when they end: the tokens of an
// f-string's replacement fields come before the f-string itself.
type token struct {
	kind tokKind
	// text is the source text of a name, number or op; the decoded value of
	// a string (escapes applied in non-raw strings, {{ and }} halved and
	// each replacement field replaced by exprMark in f-strings).
	text  string
	line  int // 1-based line where the token starts
	off   int // byte offset where the token starts
	depth int // replacement-field nesting: 0 for code outside any f-string
	// lines, for a string token spanning several source lines, says where
	// in text each later line starts; nil for a one-line literal.
	lines []lineAnchor
}

// lineAnchor says that text[off:] comes from source line line onwards.
type lineAnchor struct{ off, line int }

// frameKind is what the tokenizer is reading.
type frameKind uint8

const (
	codeFrame  frameKind = iota // the code at the top level
	fieldFrame                  // a replacement field's expression, ended by its "}"
	strFrame                    // the literal part of a string
	specFrame                   // a replacement field's format spec, after ":"
)

// frame is one level of the tokenizer's stack.
type frame struct {
	kind     frameKind
	depth    int // depth of the tokens emitted in this frame
	brackets int // code and field frames: open (, [ and { not yet closed
	owner    int // field and spec frames: index in the stack of their string

	// string frames
	quote                      byte
	triple, raw, bytes, format bool
	buf                        []byte
	line, off                  int
	lines                      []lineAnchor
}

// tokenizer reads src and calls emit for each token.
type tokenizer struct {
	src   string
	pos   int
	line  int
	emit  func(*token)
	tok   token // the token being emitted
	stack []frame
	last  tokKind // kind of the last token emitted at the top level
}

// tokenize calls emit for each token of src, in the order tokens end (the
// token is valid only during the call). It
// never fails: an unterminated single-quoted string ends at the end of its
// line, a triple-quoted one at the end of src, and any other byte is an op.
func tokenize(src string, emit func(*token)) {
	t := &tokenizer{src: src, line: 1, emit: emit, last: tokNewline}
	t.stack = append(t.stack, frame{kind: codeFrame})
	for t.pos < len(t.src) {
		f := &t.stack[len(t.stack)-1]
		switch f.kind {
		case codeFrame, fieldFrame:
			t.code(f)
		case strFrame:
			t.str(f)
		case specFrame:
			t.spec(f)
		}
	}
	// End of input: close what is open, innermost first.
	for i := len(t.stack) - 1; i > 0; i-- {
		if t.stack[i].kind == strFrame {
			t.finishString()
		} else {
			t.stack = t.stack[:i]
		}
	}
}

// put emits a token of kind k with text at the current position.
func (t *tokenizer) put(f *frame, k tokKind, text string, off int) {
	if len(t.stack) == 1 {
		t.last = k
	}
	t.send(k, text, t.line, off, f.depth, nil)
}

// send emits a token. Its fields are set one by one: assigning a whole
// token literal to t.tok costs a typed copy with write barriers, the
// tokenizer's largest cost.
func (t *tokenizer) send(k tokKind, text string, line, off, depth int, lines []lineAnchor) {
	tok := &t.tok
	tok.kind, tok.text, tok.line, tok.off, tok.depth, tok.lines = k, text, line, off, depth, lines
	t.emit(tok)
}

// code reads one token (or skips blanks or a comment) in a code or field
// frame.
func (t *tokenizer) code(f *frame) {
	c := t.src[t.pos]
	switch {
	case c == ' ' || c == '\t' || c == '\f' || c == '\r':
		t.pos++
		for t.pos < len(t.src) && (t.src[t.pos] == ' ' || t.src[t.pos] == '\t') {
			t.pos++
		}
	case c == '\n':
		t.pos++
		if len(t.stack) == 1 && f.brackets == 0 && t.last != tokNewline {
			t.put(f, tokNewline, "", t.pos-1)
		}
		t.line++
	case c == '#':
		if i := strings.IndexByte(t.src[t.pos:], '\n'); i >= 0 {
			t.pos += i
		} else {
			t.pos = len(t.src)
		}
	case c == '\\' && strings.HasPrefix(t.src[t.pos+1:], "\n"):
		t.pos += 2
		t.line++
	case c == '\\' && strings.HasPrefix(t.src[t.pos+1:], "\r\n"):
		t.pos += 3
		t.line++
	case c == '"' || c == '\'':
		t.startString(f, "", t.pos)
	case isIdentStart(c):
		start := t.pos
		for t.pos < len(t.src) && isIdentPart(t.src[t.pos]) {
			t.pos++
		}
		word := t.src[start:t.pos]
		if t.pos < len(t.src) && (t.src[t.pos] == '"' || t.src[t.pos] == '\'') && isPrefix(word) {
			t.startString(f, word, start)
			return
		}
		t.put(f, tokName, word, start)
	case c >= '0' && c <= '9' || c == '.' && t.pos+1 < len(t.src) && t.src[t.pos+1] >= '0' && t.src[t.pos+1] <= '9':
		start := t.pos
		hex := strings.HasPrefix(t.src[t.pos:], "0x") || strings.HasPrefix(t.src[t.pos:], "0X")
		for t.pos < len(t.src) {
			d := t.src[t.pos]
			if d >= '0' && d <= '9' || d >= 'a' && d <= 'z' || d >= 'A' && d <= 'Z' || d == '_' || d == '.' {
				t.pos++
				continue
			}
			if (d == '+' || d == '-') && !hex && (t.src[t.pos-1] == 'e' || t.src[t.pos-1] == 'E') {
				t.pos++
				continue
			}
			break
		}
		t.put(f, tokNumber, t.src[start:t.pos], start)
	default:
		start := t.pos
		t.pos++
		switch c {
		case '(', '[', '{':
			f.brackets++
		case ')', ']':
			if f.brackets > 0 {
				f.brackets--
			}
		case '}':
			if f.kind == fieldFrame && f.brackets == 0 {
				t.put(f, tokOp, "}", start)
				t.stack = t.stack[:len(t.stack)-1] // back to the string
				return
			}
			if f.brackets > 0 {
				f.brackets--
			}
		case ':':
			if f.kind == fieldFrame && f.brackets == 0 {
				f.kind = specFrame
				return
			}
		}
		t.put(f, tokOp, t.src[start:t.pos], start)
	}
}

// startString pushes a string frame for the literal whose prefix starts at
// off and whose quote is at t.pos.
func (t *tokenizer) startString(f *frame, prefix string, off int) {
	q := t.src[t.pos]
	s := frame{kind: strFrame, depth: f.depth, quote: q, line: t.line, off: off}
	for i := 0; i < len(prefix); i++ {
		switch prefix[i] | 0x20 { // lowercase
		case 'r':
			s.raw = true
		case 'b':
			s.bytes = true
		case 'f', 't':
			s.format = len(t.stack) < maxFrames
		}
	}
	if t.pos+2 < len(t.src) && t.src[t.pos+1] == q && t.src[t.pos+2] == q {
		s.triple = true
		t.pos += 3
	} else {
		t.pos++
	}
	t.stack = append(t.stack, s)
}

// finishString pops the string frame on top and emits its token.
func (t *tokenizer) finishString() {
	s := &t.stack[len(t.stack)-1]
	t.send(tokString, string(s.buf), s.line, s.off, s.depth, s.lines)
	t.stack = t.stack[:len(t.stack)-1]
	if len(t.stack) == 1 {
		t.last = tokString
	}
}

// newLineIn records, in string frame s, that the source line changed.
func (t *tokenizer) newLineIn(s *frame) {
	t.line++
	s.lines = append(s.lines, lineAnchor{len(s.buf), t.line})
}

// str reads the literal part of a string: a run of ordinary characters,
// an escape, a brace, a newline or the closing quote.
func (t *tokenizer) str(s *frame) {
	c := t.src[t.pos]
	switch {
	case c == s.quote:
		if !s.triple {
			t.pos++
			t.finishString()
			return
		}
		if t.pos+2 < len(t.src) && t.src[t.pos+1] == c && t.src[t.pos+2] == c {
			t.pos += 3
			t.finishString()
			return
		}
		s.buf = append(s.buf, c)
		t.pos++
	case c == '\n':
		if !s.triple { // unterminated: the newline belongs to the code
			t.finishString()
			return
		}
		s.buf = append(s.buf, c)
		t.pos++
		t.newLineIn(s)
	case c == '\\':
		t.escape(s)
	case s.format && c == '{':
		if strings.HasPrefix(t.src[t.pos:], "{{") {
			s.buf = append(s.buf, '{')
			t.pos += 2
			return
		}
		s.buf = append(s.buf, exprMark)
		t.pos++
		if len(t.stack) >= maxFrames {
			return // too deep: the field's text stays part of the string
		}
		t.stack = append(t.stack, frame{kind: fieldFrame, depth: s.depth + 1, owner: len(t.stack) - 1})
	case s.format && c == '}':
		if strings.HasPrefix(t.src[t.pos:], "}}") {
			t.pos++
		}
		s.buf = append(s.buf, '}')
		t.pos++
	default:
		// A run of ordinary characters.
		end := t.pos + 1
		for end < len(t.src) {
			d := t.src[end]
			if d == s.quote || d == '\n' || d == '\\' || s.format && (d == '{' || d == '}') {
				break
			}
			end++
		}
		s.buf = append(s.buf, t.src[t.pos:end]...)
		t.pos = end
	}
}

// spec skips a replacement field's format spec, which can hold nested
// replacement fields ("{x:>{width}}").
func (t *tokenizer) spec(f *frame) {
	s := &t.stack[f.owner] // the string the field belongs to
	c := t.src[t.pos]
	switch {
	case c == '{':
		t.pos++
		if len(t.stack) < maxFrames {
			t.stack = append(t.stack, frame{kind: fieldFrame, depth: f.depth, owner: f.owner})
		}
	case c == '}':
		t.pos++
		t.put(f, tokOp, "}", t.pos-1)
		t.stack = t.stack[:len(t.stack)-1]
	case c == s.quote || c == '\n' && !s.triple:
		// The string ends inside the spec (invalid code): let it end.
		t.stack = t.stack[:len(t.stack)-1]
	case c == '\n':
		t.pos++
		t.newLineIn(s)
	default:
		t.pos++
	}
}

// isPrefix reports whether w is a string prefix: r, b, u, f, t and the
// two-letter combinations Python accepts, in any case.
func isPrefix(w string) bool {
	switch strings.ToLower(w) {
	case "r", "u", "b", "f", "t", "br", "rb", "fr", "rf", "tr", "rt":
		return true
	}
	return false
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
