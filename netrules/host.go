package netrules

import (
	"strconv"
	"strings"
)

// NormalizeHost lowercases the ASCII letters of host and drops one
// trailing dot and IPv6 brackets, the forms a request may carry a name in.
// Other characters are kept as they are (Unicode case folding could turn a
// non-ASCII name into a different ASCII one), so that a non-ASCII name
// stays invalid.
func NormalizeHost(host string) string {
	host = asciiLower(strings.TrimSuffix(host, "."))
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	return host
}

// ValidHostname reports whether host, normalized (NormalizeHost), is a
// syntactically valid DNS name as the policy decides names: labels of
// lowercase letters, digits, hyphens and underscores, at most 253
// characters.
func ValidHostname(host string) bool {
	if host == "" || len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// hostPort is "host:port", or host alone for port 0.
func hostPort(host string, port int) string {
	if port == 0 {
		return host
	}
	return host + ":" + strconv.Itoa(port)
}

// asciiLower lowercases the ASCII letters of s only.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
