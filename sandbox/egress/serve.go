package egress

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// serveConn serves one client connection: requests until the client closes
// it, a CONNECT takes it over, or an answer requires closing it.
func (s *Session) serveConn(c net.Conn) {
	lr := &limitReader{r: c}
	br := bufio.NewReader(lr)
	for first := true; ; first = false {
		wait := idleTimeout
		if first {
			wait = s.firstRequest
		}
		lr.limit(maxHeaderBytes + 4096)
		c.SetReadDeadline(time.Now().Add(wait))
		b, err := br.Peek(1)
		if err != nil {
			return // closed, idle or nothing sent
		}
		if first && b[0] == recordHandshake {
			s.refuse(c, badRequest(http.StatusBadRequest, "TLS sent to a plain HTTP proxy",
				"The Airlock proxy speaks plain HTTP: use http://127.0.0.1:3128 (not https://) as the proxy URL; HTTPS goes through it with CONNECT."))
			return
		}
		c.SetReadDeadline(time.Now().Add(s.header))
		req, err := http.ReadRequest(br)
		if err != nil {
			s.badRequest(c, err, lr.exhausted())
			return
		}
		lr.limit(-1)
		c.SetReadDeadline(time.Time{})
		if !s.handle(c, br, req) {
			return
		}
	}
}

// badRequest answers a request that could not be read.
func (s *Session) badRequest(c net.Conn, err error, tooLarge bool) {
	var ne net.Error
	switch {
	case tooLarge:
		s.refuse(c, badRequest(http.StatusRequestHeaderFieldsTooLarge, "request header too large",
			"The request header is larger than the Airlock proxy accepts (64 KiB)."))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.As(err, &ne) && ne.Timeout():
		// The client went away or stalled: nobody to answer.
	default:
		s.log.Debug("malformed request refused") // the error quotes input: not logged
		s.refuse(c, badRequest(http.StatusBadRequest, "malformed request",
			"The Airlock proxy could not read an HTTP/1.1 proxy request ("+clip(err.Error(), 200)+"). It accepts CONNECT host:port and absolute-form requests such as GET http://host/path."))
	}
}

// handle serves one request and reports whether the client connection may
// carry another.
func (s *Session) handle(c net.Conn, br *bufio.Reader, req *http.Request) bool {
	if req.ProtoMajor != 1 {
		s.refuse(c, badRequest(http.StatusHTTPVersionNotSupported, "HTTP/1.x only",
			"The Airlock proxy speaks HTTP/1.0 and HTTP/1.1 only; "+clip(req.Proto, 20)+" is not supported."))
		return false
	}
	if req.Method == http.MethodConnect {
		s.connect(c, br, req)
		return false
	}
	switch {
	case req.URL.Host == "" && req.URL.Scheme == "":
		s.refuse(c, badRequest(http.StatusBadRequest, "not a proxy request",
			"This is the Airlock egress proxy, not a web server: send absolute-form requests (GET http://host/path) or CONNECT host:port."))
		return false
	case req.URL.Scheme != "http":
		s.refuse(c, badRequest(http.StatusBadRequest, "use CONNECT for "+clip(req.URL.Scheme, 16),
			"The Airlock proxy forwards only http:// URLs as requests; for https:// and other protocols open a tunnel with CONNECT host:port (HTTP clients do this themselves when HTTPS_PROXY is set)."))
		return false
	case req.URL.Host == "":
		s.refuse(c, badRequest(http.StatusBadRequest, "no host in the URL",
			"The request URL names no host."))
		return false
	case !forwardable[req.Method]:
		s.refuse(c, badRequest(http.StatusMethodNotAllowed, "method "+clip(req.Method, 16)+" not supported",
			"The Airlock proxy forwards GET, HEAD, POST, PUT, PATCH, DELETE and OPTIONS requests and opens tunnels with CONNECT; "+clip(req.Method, 32)+" is not supported."))
		return false
	}
	return s.forward(c, br, req)
}

// forwardable lists the methods forwarded as plain HTTP requests.
var forwardable = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// finish half-closes c after an answer that ends the connection and drains
// what the client still sends for a moment, so that the client reads the
// answer instead of a reset.
func finish(c net.Conn) {
	cw, ok := c.(interface{ CloseWrite() error })
	if !ok {
		return
	}
	if cw.CloseWrite() != nil {
		return
	}
	c.SetReadDeadline(time.Now().Add(lingerTimeout))
	io.Copy(io.Discard, io.LimitReader(c, 256<<10))
}

// limitReader reads from r, at most n bytes when limited: the bound on a
// request header, as net/http's server has it.
type limitReader struct {
	r      io.Reader
	n      int64 // bytes left; < 0: unlimited
	hitEnd bool
}

// limit sets the bytes left; n < 0 lifts the limit.
func (l *limitReader) limit(n int64) { l.n, l.hitEnd = n, false }

// exhausted reports whether a read failed because of the limit.
func (l *limitReader) exhausted() bool { return l.hitEnd }

// Read reads from the underlying reader within the limit.
func (l *limitReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		return l.r.Read(p)
	}
	if l.n == 0 {
		l.hitEnd = true
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
