package precheck

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

// This file finds destinations in the decoded text of one string literal:
// URLs anywhere in it, and a whole literal that is a hostname, host:port or
// IP address.

// dest is one destination found in a literal.
type dest struct {
	host   string // normalized name, or the IP address's canonical form
	port   int    // 0 when unknown
	pos    int    // where in the literal's text it was found
	source string // the text it came from (a URL, or the whole literal), not yet cleaned up
}

// defaultPorts are the ports of the schemes whose URLs name no port.
var defaultPorts = map[string]int{"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21}

// maxScheme bounds how far back from "://" a scheme is looked for.
const maxScheme = 32

// findURLs appends to out the destination of each URL in text:
// "scheme://[userinfo@]host[:port]..." read as Python's urllib.parse reads
// it (the host follows the last "@"; the port follows the first ":" after
// an unbracketed host). A URL inside another URL (a redirect parameter,
// an archive link) is not a destination and is skipped. A URL whose host
// is not known before the code runs (a replacement field, "%s", "{host}")
// or is not a name or address is skipped too.
func findURLs(text string, out []dest) []dest {
	for i := 0; i < len(text); {
		j := strings.Index(text[i:], "://")
		if j < 0 {
			break
		}
		j += i
		// The scheme: letters, digits, "+", "-", "." before "://", starting
		// with a letter. Unknown (no default port) when absent or too long.
		k := j
		for k > 0 && j-k < maxScheme && isSchemeChar(text[k-1]) {
			k--
		}
		for k < j && !isLetter(text[k]) {
			k++
		}
		scheme := strings.ToLower(text[k:j])
		if k > 0 && j-k == maxScheme && isSchemeChar(text[k-1]) {
			scheme = ""
		}
		start := j + len("://")
		end := start
		for end < len(text) && !isAuthorityEnd(text[end]) {
			end++
		}
		urlEnd := end
		for urlEnd < len(text) && !isURLEnd(text[urlEnd]) {
			urlEnd++
		}
		i = max(urlEnd, start)
		src := strings.TrimRight(text[k:urlEnd], ".,;:!)")
		if d, ok := parseAuthority(trimAuthority(text[start:end]), scheme); ok {
			d.pos, d.source = k, src
			out = append(out, d)
		}
	}
	return out
}

// trimAuthority drops punctuation that ends a sentence or a parenthesis
// around a URL in prose: "(see https://evil.test)".
func trimAuthority(a string) string {
	a = strings.TrimRight(a, ".,;:!)")
	if strings.HasSuffix(a, "]") && !strings.Contains(a, "[") {
		a = strings.TrimRight(a, "]")
	}
	return a
}

// parseAuthority reads "[userinfo@]host[:port]".
func parseAuthority(auth, scheme string) (dest, bool) {
	hp := auth[strings.LastIndexByte(auth, '@')+1:] // Python: netloc.rpartition("@")
	var host, port string
	hasPort, bracketed := false, false
	if strings.HasPrefix(hp, "[") {
		end := strings.IndexByte(hp, ']')
		if end < 0 {
			return dest{}, false
		}
		host, bracketed = hp[1:end], true
		switch rest := hp[end+1:]; {
		case rest == "":
		case rest[0] == ':':
			port, hasPort = rest[1:], true
		default:
			return dest{}, false
		}
	} else {
		host, port, hasPort = strings.Cut(hp, ":")
	}
	if host == "" || strings.IndexByte(host, exprMark) >= 0 {
		return dest{}, false
	}
	h, ok := urlHost(host, bracketed)
	if !ok {
		return dest{}, false
	}
	d := dest{host: h}
	switch {
	case !hasPort || port == "":
		d.port = defaultPorts[scheme]
	default:
		d.port = parsePort(port) // 0 when not a number: unknown
	}
	return d, true
}

// urlHost normalizes a URL's host: an IP address (IPv6 in brackets, IPv4
// in any form inet_aton accepts, as Python's socket functions do:
// "2130706433", "0x7f.1", "127.1"), or a DNS name, percent-decoded, of at
// least two labels, or "localhost".
func urlHost(host string, bracketed bool) (string, bool) {
	if bracketed {
		host, _, _ = strings.Cut(host, "%") // zone: "fe80::1%25eth0"
		a, err := netip.ParseAddr(host)
		if err != nil {
			return "", false
		}
		return ipString(a), true
	}
	if strings.IndexByte(host, '%') >= 0 {
		u, err := url.PathUnescape(host)
		if err != nil {
			return "", false
		}
		host = u
	}
	host = netrules.NormalizeHost(host)
	if a, err := netip.ParseAddr(host); err == nil {
		return ipString(a), true
	}
	if a, ok := inetAton(host); ok {
		return ipString(a), true
	}
	if netrules.ValidHostname(host) && (strings.IndexByte(host, '.') >= 0 || host == "localhost") && hasLetter(lastLabel(host)) {
		return host, true
	}
	return "", false
}

// bareDest reads a whole literal as a destination: a hostname with a
// well-known top-level domain ("evil.test", "API.EXAMPLE.COM"), optionally
// with ":port", "localhost", or an IP address ("10.0.0.1", "10.0.0.1:80",
// "::1", "[::1]:8080"). The unspecified addresses 0.0.0.0 and :: are left
// out: as whole literals they are bind addresses of servers far more often
// than destinations.
func bareDest(text string) (dest, bool) {
	t := strings.TrimSpace(text)
	if t == "" || len(t) > 300 || !strings.ContainsAny(t, ".:") && !strings.EqualFold(t, "localhost") {
		return dest{}, false
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] >= 0x7f {
			return dest{}, false
		}
	}
	d := dest{source: t}
	if strings.HasPrefix(t, "[") { // [v6] or [v6]:port
		end := strings.IndexByte(t, ']')
		if end < 0 {
			return dest{}, false
		}
		a, err := netip.ParseAddr(t[1:end])
		if err != nil || !a.Is6() || a.IsUnspecified() {
			return dest{}, false
		}
		if rest := t[end+1:]; rest != "" {
			if rest[0] != ':' || parsePort(rest[1:]) == 0 {
				return dest{}, false
			}
			d.port = parsePort(rest[1:])
		}
		d.host = ipString(a)
		return d, true
	}
	// Addresses start with a hex digit or ":"; other literals skip the parsers.
	if isHexDigit(t[0]) || t[0] == ':' {
		if a, err := netip.ParseAddr(t); err == nil {
			// IPv6 needs a digit, so that "::" separators and words such as
			// "a::b" are not read as addresses.
			if a.IsUnspecified() || a.Is6() && !strings.ContainsAny(t, "0123456789") {
				return dest{}, false
			}
			d.host = ipString(a)
			return d, true
		}
		if ap, err := netip.ParseAddrPort(t); err == nil && ap.Addr().Is4() {
			if ap.Addr().IsUnspecified() || ap.Port() == 0 {
				return dest{}, false
			}
			d.host, d.port = ipString(ap.Addr()), int(ap.Port())
			return d, true
		}
	}
	name := t
	if i := strings.LastIndexByte(t, ':'); i >= 0 {
		if d.port = parsePort(t[i+1:]); d.port == 0 {
			return dest{}, false
		}
		name = t[:i]
	}
	if !bareName(name) {
		return dest{}, false
	}
	d.host = netrules.NormalizeHost(name)
	return d, true
}

// bareName reports whether a whole literal looks like a hostname: labels
// of letters, digits and hyphens (no underscores: "my_pkg.app" is a
// module), at least two of them, the last one a well-known top-level
// domain, written in lowercase or all in capitals ("typing.IO" is a type,
// not a host); or "localhost".
func bareName(name string) bool {
	name = strings.TrimSuffix(name, ".")
	if strings.EqualFold(name, "localhost") {
		return true
	}
	if len(name) > 253 || strings.IndexByte(name, '.') < 0 {
		return false
	}
	upper := true
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case c >= 'a' && c <= 'z':
				upper = false
			case c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
			default:
				return false
			}
		}
	}
	tld := lastLabel(name)
	if !upper && strings.ToLower(tld) != tld {
		return false
	}
	return commonTLDs[strings.ToLower(tld)]
}

// commonTLDs are the top-level domains that make a bare literal
// ("evil.test") count as a hostname. The trade-off: without a URL around
// it, "numpy.linalg", "data.csv" or "x.py" must not be hosts, so only a
// short list of common and special-use domains counts; a host under
// another TLD is found only in a URL or a (host, port) tuple, and a file
// or module name ending in one of these ("install.sh", "settings.local",
// "google.cloud") is read as a host.
var commonTLDs = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range strings.Fields(`com net org io dev ai app co uk de fr jp cn ru info biz edu gov mil
		int us eu me tv xyz cloud sh internal local test example invalid localhost arpa
		ca au nl se ch es it br kr`) {
		m[t] = true
	}
	return m
}()

// inetAton parses the IPv4 forms glibc's inet_aton accepts, which
// Python's socket functions (and so every HTTP client) accept as a host:
// one to four parts separated by dots, each decimal, octal (leading 0) or
// hex (0x), the last part filling the remaining bytes ("127.1",
// "2130706433", "0x7f.0.0.1", "0177.0.0.1").
func inetAton(s string) (netip.Addr, bool) {
	if s == "" || len(s) > 64 || !strings.ContainsAny(s[:1], "0123456789") {
		return netip.Addr{}, false
	}
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var v uint64
	for i, p := range parts {
		base := 10
		switch {
		case len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X"):
			base, p = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		if p == "" || len(p) > 12 || p[0] == '+' || p[0] == '-' {
			return netip.Addr{}, false
		}
		n, err := strconv.ParseUint(p, base, 64)
		if err != nil {
			return netip.Addr{}, false
		}
		limit := uint64(255)
		if i == len(parts)-1 {
			limit = 1<<(8*(5-len(parts))) - 1
		}
		if n > limit {
			return netip.Addr{}, false
		}
		if i == len(parts)-1 {
			v = v<<(8*(5-len(parts))) | n
		} else {
			v = v<<8 | n
		}
	}
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// parsePort reads a decimal port, 1 to 65535; 0 when s is not one.
func parsePort(s string) int {
	if s == "" || len(s) > 5 {
		return 0
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0
		}
		n = n*10 + int(s[i]-'0')
	}
	if n > 65535 {
		return 0
	}
	return n
}

// ipString is the canonical form of a, IPv4-mapped addresses unmapped and
// zones dropped, as the policy decides it.
func ipString(a netip.Addr) string { return a.Unmap().WithZone("").String() }

func lastLabel(name string) string { return name[strings.LastIndexByte(name, '.')+1:] }

func hasLetter(s string) bool {
	for i := 0; i < len(s); i++ {
		if isLetter(s[i]) {
			return true
		}
	}
	return false
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func isSchemeChar(c byte) bool {
	return isLetter(c) || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

// isAuthorityEnd reports whether c ends a URL's authority: the start of
// the path, query or fragment, or a character no URL holds (blanks,
// quotes, brackets of templates: "https://{host}/").
func isAuthorityEnd(c byte) bool {
	switch c {
	case '/', '?', '#', '"', '\'', '<', '>', '`', '{', '}', '|', '^', ' ', 0x7f:
		return true
	}
	return c < ' ' && c != exprMark
}

// isURLEnd reports whether c ends a URL in text.
func isURLEnd(c byte) bool {
	switch c {
	case '"', '\'', '<', '>', '`', ' ', 0x7f:
		return true
	}
	return c < ' ' && c != exprMark
}
