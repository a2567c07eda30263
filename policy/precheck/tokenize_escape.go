package precheck

import (
	"strings"
	"unicode/utf8"
)

// This file holds the tokenizer's decoding of backslash escapes in string
// and bytes literals, as Python decodes them.

// escape reads a backslash sequence at t.pos in string s.
func (t *tokenizer) escape(s *frame) {
	if t.pos+1 >= len(t.src) {
		s.buf = append(s.buf, '\\')
		t.pos++
		return
	}
	n := t.src[t.pos+1]
	if n == '\n' || n == '\r' && strings.HasPrefix(t.src[t.pos+2:], "\n") { // continuation
		if s.raw {
			s.buf = append(s.buf, '\\', '\n')
		}
		if n == '\r' {
			t.pos++
		}
		t.pos += 2
		t.newLineIn(s)
		return
	}
	if s.raw { // the backslash stays; it only keeps a quote or a backslash from ending things
		s.buf = append(s.buf, '\\')
		t.pos++
		if n == s.quote || n == '\\' {
			s.buf = append(s.buf, n)
			t.pos++
		}
		return
	}
	if v, ok := simpleEscape(n); ok {
		s.buf = append(s.buf, v)
		t.pos += 2
		return
	}
	rest := t.src[t.pos+2:]
	switch {
	case n >= '0' && n <= '7':
		v, k := int(n-'0'), 2
		for k < 4 && t.pos+k < len(t.src) && t.src[t.pos+k] >= '0' && t.src[t.pos+k] <= '7' {
			v = v*8 + int(t.src[t.pos+k]-'0')
			k++
		}
		t.pos += k
		t.appendCode(s, rune(v))
		return
	case n == 'x':
		if v, ok := hexValue(rest, 2); ok {
			t.pos += 4
			t.appendCode(s, v)
			return
		}
	case n == 'u' && !s.bytes:
		if v, ok := hexValue(rest, 4); ok {
			t.pos += 6
			s.buf = utf8.AppendRune(s.buf, v)
			return
		}
	case n == 'U' && !s.bytes:
		if v, ok := hexValue(rest, 8); ok && v <= utf8.MaxRune {
			t.pos += 10
			s.buf = utf8.AppendRune(s.buf, v)
			return
		}
	case n == 'N' && !s.bytes && strings.HasPrefix(rest, "{"):
		// \N{NAME}: kept as written; its braces are not a replacement field.
		if i := strings.IndexAny(rest, "}\n"); i > 0 && i <= 100 && rest[i] == '}' {
			s.buf = append(s.buf, t.src[t.pos:t.pos+3+i]...)
			t.pos += 3 + i
			return
		}
	}
	// Not an escape Python knows: the backslash stays, the next character
	// is read as usual.
	s.buf = append(s.buf, '\\')
	t.pos++
}

// simpleEscape decodes the one-character escapes \\ \' \" \n \t \r \a \b \f \v.
func simpleEscape(n byte) (byte, bool) {
	switch n {
	case '\\', '\'', '"':
		return n, true
	case 'n':
		return '\n', true
	case 't':
		return '\t', true
	case 'r':
		return '\r', true
	case 'a':
		return 7, true
	case 'b':
		return 8, true
	case 'f':
		return 12, true
	case 'v':
		return 11, true
	}
	return 0, false
}

// appendCode appends code point v, a byte in a bytes literal.
func (t *tokenizer) appendCode(s *frame, v rune) {
	if s.bytes {
		s.buf = append(s.buf, byte(v))
		return
	}
	s.buf = utf8.AppendRune(s.buf, v)
}

// hexValue parses the n hex digits at the start of s.
func hexValue(s string, n int) (rune, bool) {
	if len(s) < n {
		return 0, false
	}
	var v rune
	for i := 0; i < n; i++ {
		d := s[i]
		switch {
		case d >= '0' && d <= '9':
			v = v<<4 | rune(d-'0')
		case d >= 'a' && d <= 'f':
			v = v<<4 | rune(d-'a'+10)
		case d >= 'A' && d <= 'F':
			v = v<<4 | rune(d-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}
