package egress

import (
	"net"
	"strconv"
	"strings"
	"time"
)

// maxPhrase bounds the reason phrase of the proxy's own status lines.
const maxPhrase = 300

// refuse writes r to c and ends the connection politely (see finish). The
// caller closes c.
func (s *Session) refuse(c net.Conn, r *refusal) {
	c.SetWriteDeadline(time.Now().Add(writeTimeout))
	c.Write(r.bytes())
	c.SetWriteDeadline(time.Time{})
	finish(c)
}

// bytes renders r as an HTTP/1.1 response that closes the connection.
func (r *refusal) bytes() []byte {
	var b strings.Builder
	b.WriteString("HTTP/1.1 ")
	b.WriteString(strconv.Itoa(r.status))
	b.WriteByte(' ')
	b.WriteString(headerSafe(r.phrase, maxPhrase))
	b.WriteString("\r\nContent-Type: text/plain; charset=utf-8\r\n")
	if r.rule != "" {
		b.WriteString("X-Airlock-Rule: ")
		b.WriteString(headerSafe(r.rule, maxPhrase))
		b.WriteString("\r\n")
	}
	b.WriteString("Content-Length: ")
	b.WriteString(strconv.Itoa(len(r.body)))
	b.WriteString("\r\nConnection: close\r\n\r\n")
	b.WriteString(r.body)
	return []byte(b.String())
}

// headerSafe makes s fit a status line or header value: printable ASCII
// only (anything else becomes '?', so no CR or LF from input can split the
// line), at most n bytes.
func headerSafe(s string, n int) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	if len(b) > n {
		b = append(b[:n-3], "..."...)
	}
	return string(b)
}
