package precheck

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// This file turns the token stream into literals (adjacent ones joined),
// the destinations they name, and the evidence that the code uses the
// network.

// wordClass is what a name tells about the code's use of the network.
type wordClass uint8

const (
	netModule   wordClass = iota + 1 // imported or used ("requests.get"), the code uses the network
	netCall                          // a connection helper: counts wherever it appears
	shellModule                      // runs other programs; with a network tool named in a literal, counts
	shellCall                        // the same, wherever it appears
)

// classify says what name w tells. A switch, not a map: it is asked for
// every name in the code.
func classify(w string) wordClass {
	switch w {
	case "socket", "ssl", "socketserver", "urllib", "urllib2", "urllib3", "http", "httplib", "httplib2",
		"requests", "httpx", "aiohttp", "ftplib", "smtplib", "poplib", "imaplib", "nntplib", "telnetlib",
		"xmlrpc", "websocket", "websockets", "paramiko", "pip", "pycurl", "boto3", "botocore", "grpc":
		return netModule
	case "open_connection", "create_connection", "sock_connect", "create_datagram_endpoint":
		return netCall
	case "subprocess":
		return shellModule
	case "create_subprocess_shell", "create_subprocess_exec":
		return shellCall
	}
	return 0
}

// isNetTool reports whether w, a word of a literal, names a program that
// uses the network.
func isNetTool(w string) bool {
	switch w {
	case "curl", "wget", "nc", "ncat", "netcat", "socat", "pip", "pip3", "ssh", "scp", "sftp", "telnet",
		"ftp", "rsync", "git", "apt", "apt-get", "npm", "conda":
		return true
	}
	return false
}

// destKey deduplicates destinations.
type destKey struct {
	host string
	port int
}

// candidate is a destination found, not yet decided.
type candidate struct {
	host   string
	port   int
	off    int // offset of its literal in the code
	pos    int // position in the literal's text
	line   int
	source string
}

// pending is a literal being read: adjacent string tokens are joined, and
// a following "," and integer give a (host, port) tuple's port.
type pending struct {
	active bool
	comma  bool   // a "," followed the literal
	first  string // the text of a literal of one token
	more   []byte // the joined text of a literal of several tokens
	off    int
	line   int
	lines  []lineAnchor
}

func (p *pending) text() string {
	if p.more != nil {
		return string(p.more)
	}
	return p.first
}

// analyzer receives the tokens of the code.
type analyzer struct {
	pend  []pending // by replacement-field depth
	seen  map[destKey]int
	cands []candidate
	dests []dest // scratch

	prev, prev2 word // the two tokens before the current one
	inImport    bool // inside an import statement
	await       word // a module name waiting for "." to count as used

	netUse    string // evidence of networking
	shell     string // evidence of running programs
	tool      string // a network tool named in a literal
	dynImport bool   // __import__ or importlib.import_module is used
	dynModule string // a literal naming a networking module

	trace func(text string, line, port int) // tests: sees each literal
}

// run reads code.
func (a *analyzer) run(code string) {
	if a.seen == nil {
		a.seen = map[destKey]int{}
	}
	tokenize(code, a.token)
	for d := len(a.pend) - 1; d >= 0; d-- {
		a.flush(d, 0)
	}
}

// word is what the analyzer remembers of a token.
type word struct {
	kind tokKind
	text string // "" for a string: not needed, and a large literal is not kept alive
	line int
}

func (w word) is(k tokKind, text string) bool { return w.kind == k && w.text == text }

// token handles one token.
func (a *analyzer) token(t *token) {
	a.literals(t)
	a.names(t)
	a.prev2, a.prev = a.prev, word{kind: t.kind, text: t.text, line: t.line}
	if t.kind == tokString {
		a.prev.text = ""
	}
}

// literals joins adjacent string tokens and hands each literal on when it
// ends.
func (a *analyzer) literals(t *token) {
	// A token at depth d ends every literal deeper than d: their
	// replacement field has ended.
	for d := len(a.pend) - 1; d > t.depth; d-- {
		a.flush(d, 0)
	}
	if len(a.pend) > t.depth+1 {
		a.pend = a.pend[:t.depth+1]
	}
	for len(a.pend) <= t.depth {
		a.pend = append(a.pend, pending{})
	}
	p := &a.pend[t.depth]
	switch {
	case t.kind == tokString && p.active && !p.comma:
		if p.more == nil { // the second token: the text and anchors become the literal's own
			p.more = append([]byte(nil), p.first...)
			p.lines = slices.Clone(p.lines)
		}
		p.lines = append(p.lines, lineAnchor{len(p.more), t.line})
		for _, l := range t.lines {
			p.lines = append(p.lines, lineAnchor{len(p.more) + l.off, l.line})
		}
		p.more = append(p.more, t.text...)
	case t.kind == tokString:
		a.flush(t.depth, 0)
		*p = pending{active: true, first: t.text, off: t.off, line: t.line, lines: t.lines}
	case t.kind == tokOp && t.text == "," && p.active && !p.comma:
		p.comma = true
	case t.kind == tokNumber && p.active && p.comma:
		a.flush(t.depth, parsePort(t.text))
	default:
		a.flush(t.depth, 0)
	}
}

// flush hands on the literal pending at depth d, if any; port is the port
// of a (host, port) tuple, 0 when none.
func (a *analyzer) flush(d, port int) {
	p := &a.pend[d]
	if !p.active {
		return
	}
	a.literal(p.text(), p.off, p.line, p.lines, port)
	*p = pending{}
}

// literal finds the destinations in one literal, and the evidence of
// networking it holds.
func (a *analyzer) literal(text string, off, line int, lines []lineAnchor, tuplePort int) {
	if a.trace != nil {
		a.trace(text, line, tuplePort)
	}
	a.dests = findURLs(text, a.dests[:0])
	if d, ok := bareDest(text); ok {
		if d.port == 0 {
			d.port = tuplePort
		}
		d.pos = len(text) - len(strings.TrimLeftFunc(text, unicode.IsSpace))
		a.dests = append(a.dests, d)
	}
	for _, d := range a.dests {
		a.add(candidate{host: d.host, port: d.port, off: off, pos: d.pos, line: lineAt(line, lines, d.pos), source: d.source})
	}
	if a.tool == "" {
		if w := toolWord(text); w != "" {
			a.tool = strconv.Quote(w) + " (line " + strconv.Itoa(line) + ")"
		}
	}
	if a.dynModule == "" && len(text) <= 64 {
		m, _, _ := strings.Cut(strings.TrimSpace(text), ".")
		if classify(m) == netModule {
			a.dynModule = "import of " + strconv.Quote(strings.TrimSpace(text)) + ", line " + strconv.Itoa(line)
		}
	}
}

// add records destination c unless already found (the first occurrence in
// the code is kept).
func (a *analyzer) add(c candidate) {
	k := destKey{c.host, c.port}
	if i, ok := a.seen[k]; ok {
		if old := &a.cands[i]; c.off < old.off || c.off == old.off && c.pos < old.pos {
			*old = c
		}
		return
	}
	if len(a.cands) >= maxDestinations {
		return
	}
	a.seen[k] = len(a.cands)
	a.cands = append(a.cands, c)
}

// names looks for the evidence that the code uses the network in its
// names: imports ("import socket", "from urllib.request import urlopen"),
// module use ("requests.get"), connection helpers, programs run.
func (a *analyzer) names(t *token) {
	if a.await.kind != 0 {
		if t.kind == tokOp && t.text == "." {
			a.evidence(a.await.text, a.await.text+" used", a.await.line)
		}
		a.await = word{}
	}
	switch t.kind {
	case tokNewline:
		a.inImport = false
	case tokOp:
		if t.text == ";" {
			a.inImport = false
		}
	case tokName:
		w := t.text
		class := classify(w)
		switch {
		case a.prev.is(tokName, "import"), a.inImport && a.prev.is(tokOp, ","):
			a.evidence(w, "import "+w, t.line)
		case a.prev.is(tokName, "from"):
			a.evidence(w, "from "+w+" import", t.line)
		case !a.prev.is(tokOp, "."):
			if class == netModule || class == shellModule {
				a.await = word{kind: t.kind, text: t.text, line: t.line}
			}
		}
		switch {
		case w == "import":
			a.inImport = true
		case class == netCall && a.netUse == "":
			a.netUse = w + ", line " + strconv.Itoa(t.line)
		case class == shellCall && a.shell == "":
			a.shell = w + ", line " + strconv.Itoa(t.line)
		case w == "__import__" || w == "import_module":
			a.dynImport = true
		case a.shell == "" && a.prev.is(tokOp, ".") && a.prev2.is(tokName, "os") && osRunsPrograms(w):
			a.shell = "os." + w + ", line " + strconv.Itoa(t.line)
		}
	}
}

// evidence records that module m is imported or used, as what.
func (a *analyzer) evidence(m, what string, line int) {
	switch c := classify(m); {
	case c == netModule && a.netUse == "":
		a.netUse = what + ", line " + strconv.Itoa(line)
	case c == shellModule && a.shell == "":
		a.shell = what + ", line " + strconv.Itoa(line)
	}
}

// networkUse says why the code looks like it uses the network, "" when it
// does not.
func (a *analyzer) networkUse() string {
	switch {
	case a.netUse != "":
		return a.netUse
	case a.shell != "" && a.tool != "":
		return a.shell + ", running " + a.tool
	case a.dynImport && a.dynModule != "":
		return a.dynModule
	}
	return ""
}

// osRunsPrograms reports whether os.<w> runs another program.
func osRunsPrograms(w string) bool {
	for _, p := range []string{"system", "popen", "exec", "spawn", "posix_spawn", "startfile"} {
		if strings.HasPrefix(w, p) {
			return true
		}
	}
	return false
}

// toolWord returns the first word of text naming a network tool ("curl",
// "/usr/bin/wget", "python -m pip"), "" when none does.
func toolWord(text string) string {
	for i := 0; i < len(text); {
		for i < len(text) && !isWordChar(text[i]) {
			i++
		}
		j := i
		for j < len(text) && isWordChar(text[j]) {
			j++
		}
		if j-i <= 7 && isNetTool(text[i:j]) {
			return text[i:j]
		}
		i = j
	}
	return ""
}

func isWordChar(c byte) bool { return isLetter(c) || c >= '0' && c <= '9' || c == '_' || c == '-' }

// lineAt is the source line of text[pos] in a literal starting on line
// base whose later lines start at anchors.
func lineAt(base int, anchors []lineAnchor, pos int) int {
	i := sort.Search(len(anchors), func(i int) bool { return anchors[i].off > pos })
	if i > 0 {
		return anchors[i-1].line
	}
	return base
}
