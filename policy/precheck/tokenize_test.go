package precheck

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// toks renders the tokens of src compactly: N:name #:number S"string"
// O:op NL, with "@line" when not on line 1 and "^depth" inside f-string
// replacement fields.
func toks(src string) string {
	var out []string
	tokenize(src, func(t *token) {
		var s string
		switch t.kind {
		case tokName:
			s = "N:" + t.text
		case tokNumber:
			s = "#:" + t.text
		case tokString:
			s = "S" + strconv.Quote(t.text)
		case tokOp:
			s = "O:" + t.text
		case tokNewline:
			s = "NL"
		}
		if t.line != 1 {
			s += fmt.Sprintf("@%d", t.line)
		}
		if t.depth != 0 {
			s += fmt.Sprintf("^%d", t.depth)
		}
		out = append(out, s)
	})
	return strings.Join(out, " ")
}

func TestTokenize(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		// quote kinds
		{"single", `x = 'a b'`, `N:x O:= S"a b"`},
		{"double", `"a'b"`, `S"a'b"`},
		{"triple single", "'''a\n'b'\n''' x", `S"a\n'b'\n" N:x@3`},
		{"triple double with quotes inside", `"""a "b" ""c""" d`, `S"a \"b\" \"\"c" N:d`},
		{"empty strings", `'' "" '''''' """"""`, `S"" S"" S"" S""`},
		// prefixes
		{"raw", `r'\n\d'`, `S"\\n\\d"`},
		{"raw keeps escaped quote", `r"a\"b" c`, `S"a\\\"b" N:c`},
		{"raw ends after double backslash", `r'\\' x`, `S"\\\\" N:x`},
		{"bytes", `b'\x41\u0041'`, `S"A\\u0041"`},
		{"bytes high escape", `b'\xff'`, `S"\xff"`},
		{"unicode prefix", `u'\u00e9'`, `S"é"`},
		{"prefixes any case", `R'\t' Rb'\t' bR'\t' BR"x" F'{a}' fR'{b}\t' Rf'' T'{c}'`,
			`S"\\t" S"\\t" S"\\t" S"x" N:a^1 O:}^1 S"\x00" N:b^1 O:}^1 S"\x00\\t" S"" N:c^1 O:}^1 S"\x00"`},
		{"name before quote is not a prefix", `x'a' print"b" rb2'c'`, `N:x S"a" N:print S"b" N:rb2 S"c"`},
		// escapes
		{"escapes", `"\\ \' \" \n \t \r \x41 \u00e9 \U0001F600 \101 \0"`, `S"\\ ' \" \n \t \r A é 😀 A \x00"`},
		{"unknown escapes stay", `"\q \d \x4 \u12 \N{EM DASH}"`, `S"\\q \\d \\x4 \\u12 \\N{EM DASH}"`},
		{"continuation in string", "'ab\\\ncd' x", `S"abcd" N:x@2`},
		{"continuation in raw string", "r'ab\\\ncd'", `S"ab\\\ncd"`},
		// comments
		{"comment with quotes", "x = 1  # it's \"quoted\" 'too'\ny = 'z'", `N:x O:= #:1 NL N:y@2 O:=@2 S"z"@2`},
		{"comment with URL", "# 'https://evil.test'\n", ``},
		{"string with hash", `s = "a#b" # c "d"`, `N:s O:= S"a#b"`},
		// unterminated
		{"unterminated single ends at line end", "'abc\nx = 'd'", `S"abc" NL N:x@2 O:=@2 S"d"@2`},
		{"unterminated double", `"abc`, `S"abc"`},
		{"unterminated triple ends at end", "'''abc\ndef", `S"abc\ndef"`},
		{"backslash at end", `'a\`, `S"a\\"`},
		// f-strings
		{"f-string fields skipped", `f"a{x}b{{c}}d{y!r:>{w}}e"`,
			`N:x^1 O:}^1 N:y^1 O:!^1 N:r^1 N:w^1 O:}^1 O:}^1 S"a\x00b{c}d\x00e"`},
		{"f-string nested quotes", `f"{d["k"]}" z`, `N:d^1 O:[^1 S"k"^1 O:]^1 O:}^1 S"\x00" N:z`},
		{"f-string nested f-string", `f'{f"{x}"}'`, `N:x^2 O:}^2 S"\x00"^1 O:}^1 S"\x00"`},
		{"f-string dict in field", `f"{ {'a': 1}['a'] }"`, `O:{^1 S"a"^1 O::^1 #:1^1 O:}^1 O:[^1 S"a"^1 O:]^1 O:}^1 S"\x00"`},
		{"f-string named escape", `f"\N{DASH}{x}"`, `N:x^1 O:}^1 S"\\N{DASH}\x00"`},
		{"f-string multi-line field", "f'{(\n1)}' x", `O:(^1 #:1@2^1 O:)@2^1 O:}@2^1 S"\x00" N:x@2`},
		{"f-string unterminated field", "f'{x\ny = 1", `N:x^1 N:y@2^1 O:=@2^1 #:1@2^1 S"\x00"`},
		{"f-string ends in spec", `f"{x:>3" y`, `N:x^1 S"\x00" N:y`},
		{"triple f-string", "f'''a\n{x}'''", `N:x@2^1 O:}@2^1 S"a\n\x00"`},
		// code
		{"adjacent literals stay separate tokens", `("https://" "evil.test")`, `O:( S"https://" S"evil.test" O:)`},
		{"no newline inside brackets", "f(\n'a',\n'b'\n)\nx", `N:f O:( S"a"@2 O:,@2 S"b"@3 O:)@4 NL@4 N:x@5`},
		{"backslash continuation", "x = 1 + \\\n  2\ny", `N:x O:= #:1 O:+ #:2@2 NL@2 N:y@3`},
		{"blank lines collapse", "a\n\n\n# c\n\nb", `N:a NL N:b@6`},
		{"numbers", `1e+5 0x1F .5 1_000 3j 0o755`, `#:1e+5 #:0x1F #:.5 #:1_000 #:3j #:0o755`},
		{"attribute", `requests.get(u)`, `N:requests O:. N:get O:( N:u O:)`},
		{"crlf", "'a'\r\n'b'", `S"a" NL S"b"@2`},
		{"non-ASCII names", `é = "x"`, `N:é O:= S"x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := toks(tt.src); got != tt.want {
				t.Errorf("tokens of %q:\n got %s\nwant %s", tt.src, got, tt.want)
			}
		})
	}
}

// TestTokenizeLines: a string spanning lines says where each line starts
// in its decoded text.
func TestTokenizeLines(t *testing.T) {
	var got []token
	tokenize("x = 1\ns = '''a\nb\\n\nc'''", func(t *token) {
		if t.kind == tokString {
			got = append(got, *t)
		}
	})
	if len(got) != 1 {
		t.Fatalf("got %d strings", len(got))
	}
	s := got[0]
	if s.line != 2 || s.text != "a\nb\n\nc" || s.off != 10 {
		t.Fatalf("string = %q line %d off %d", s.text, s.line, s.off)
	}
	for pos, want := range map[int]int{0: 2, 1: 2, 2: 3, 4: 3, 5: 4} {
		if l := lineAt(s.line, s.lines, pos); l != want {
			t.Errorf("lineAt(%d) = %d, want %d", pos, l, want)
		}
	}
}

// TestLiterals: adjacent literals join as Python joins them, and a
// literal followed by "," and an integer carries a tuple's port.
func TestLiterals(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // text@line:port
	}{
		{"implicit concatenation", `u = ("https://" "evil.test" '/x')`, []string{`"https://evil.test/x"@1:0`}},
		{"across lines in brackets", "u = (\n 'https://'  # scheme\n 'evil.test'\n)", []string{`"https://evil.test"@2:0`}},
		{"with an f-string", `u = "https://" f"{h}.test" "/x"`, []string{`"https://\x00.test/x"@1:0`}},
		{"not across statements", "a = 'x'\n'y'", []string{`"x"@1:0`, `"y"@2:0`}},
		{"tuple port", `socket.create_connection(("evil.test", 443))`, []string{`"evil.test"@1:443`}},
		{"tuple port not octal", `os.chmod("run.sh", 0o755)`, []string{`"run.sh"@1:0`}},
		{"no port after a keyword", `f("a.test", timeout=3)`, []string{`"a.test"@1:0`}},
		{"two strings in a tuple", `("a.test", "b.test")`, []string{`"a.test"@1:0`, `"b.test"@1:0`}},
		{"fields are separate", `f"{'a'}{'b'}"`, []string{`"a"@1:0`, `"b"@1:0`, `"\x00\x00"@1:0`}},
		{"field literal with port", `f"{('x.test', 80)}"`, []string{`"x.test"@1:80`, `"\x00"@1:0`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			a := &analyzer{trace: func(text string, line, port int) {
				got = append(got, fmt.Sprintf("%q@%d:%d", text, line, port))
			}}
			a.run(tt.src)
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Errorf("literals of %q:\n got %v\nwant %v", tt.src, got, tt.want)
			}
		})
	}
}
