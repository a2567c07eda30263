package egress

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// maxInterim bounds the 1xx responses relayed before a final one.
const maxInterim = 16

// errClientGone reports that writing to the client failed.
var errClientGone = errors.New("the client connection failed")

// forward serves one absolute-form request (GET http://host/path): it
// decides the destination, sends the request in origin form to a checked
// address on a fresh upstream connection, and streams the response back.
// It reports whether the client connection may carry another request.
func (s *Session) forward(c net.Conn, br *bufio.Reader, req *http.Request) bool {
	t, err := parseTarget(req.URL.Hostname(), req.URL.Port(), 80)
	if err != nil {
		s.refuse(c, badRequest(http.StatusBadRequest, "bad URL", "The request URL is not usable: "+err.Error()+"."))
		return false
	}
	rec, up, ref := s.open(req.Method, t)
	if ref != nil {
		s.refuse(c, ref)
		return false
	}
	defer s.release(up.Conn)
	f := s.startFlow(rec, c, up.Conn)
	if f == nil {
		return false // the byte limit was reached meanwhile
	}
	defer s.endFlow(f)

	http10 := !req.ProtoAtLeast(1, 1)
	clientClose := req.Close || http10
	toOrigin(req)

	// The request goes upstream from its own goroutine, so that the
	// response (a 100 Continue, or an early answer) is relayed while the
	// body is still being sent.
	uw := bufio.NewWriterSize(up, 8<<10)
	body := wrapBody(req.Body, uw)
	if body != nil {
		req.Body = body
	}
	sent := make(chan error, 1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := req.Write(flushWriter{uw})
		if err == nil {
			err = uw.Flush()
		}
		if h := s.cfg.hooks; h != nil && h.sent != nil {
			h.sent()
		}
		if body != nil && body.err != nil {
			// The client's body failed: the server would wait for the
			// rest forever. (When writing upstream fails, the server has
			// gone, and reading its answer fails too, or finds an early
			// answer it sent before going.)
			up.Close()
		}
		sent <- err
	}()

	cw := bufio.NewWriterSize(c, 8<<10)
	resp, err := s.readResponse(up, req, cw, http10)
	if err != nil {
		up.Close()
		if !waitSent(c, sent, body) {
			if body != nil && body.err != nil {
				return false // the client's request body failed: the client went away
			}
		}
		if s.overflow.Load() || errors.Is(err, errClientGone) {
			return false // the byte limit cut the exchange, or the client left
		}
		s.noteUpstreamError(rec, "read", err)
		reason := "The server at " + t.String() + " (" + rec.entry().Address + ") sent no valid HTTP response (" + clip(dialErrText(err), 200) + ")."
		s.refuse(c, upstreamFailure(reason, "no valid response from "+t.String()))
		return false
	}

	stripHopByHop(resp.Header)
	unbounded := resp.ContentLength < 0 && len(resp.TransferEncoding) == 0 &&
		bodyAllowed(resp.StatusCode) && req.Method != http.MethodHead
	resp.Close = clientClose || unbounded
	if http10 {
		resp.TransferEncoding = nil // an HTTP/1.0 client reads to the end instead
	}
	resp.Proto, resp.ProtoMajor, resp.ProtoMinor = "HTTP/1.1", 1, 1
	rbody := wrapBody(resp.Body, cw)
	if rbody != nil {
		resp.Body = rbody
	}
	werr := resp.Write(flushWriter{cw})
	if ferr := cw.Flush(); werr == nil {
		werr = ferr // (after a failure, what was read is still passed on)
	}
	if rbody != nil && rbody.err != nil {
		s.noteUpstreamError(rec, "read", rbody.err)
	}

	// The exchange is over: the upstream connection is not reused.
	up.Close()
	waitSent(c, sent, body)
	// The client connection can carry another request only when this one
	// was read from it in full (whether it all reached the server does not
	// matter to the client connection's framing).
	readAll := body == nil || body.complete() && body.err == nil
	return readAll && werr == nil && !resp.Close && !s.overflow.Load()
}

// waitSent waits for the goroutine sending the request upstream, after the
// upstream connection was closed, and reports whether it had to be cut
// short. A sender still reading the client's body (the server answered, or
// failed, before reading it all) is stopped with a read deadline on c; one
// that has read the whole request only writes to the closed upstream
// connection, and ends at once. Whether it had read the whole request is
// decided by the body reaching its end, never by how far the sender got
// when looked at: a sender about to report success is waited for.
func waitSent(c net.Conn, sent <-chan error, body *flushingBody) (cut bool) {
	if body != nil && !body.complete() {
		cut = true
		c.SetReadDeadline(time.Unix(1, 0))
		defer c.SetReadDeadline(time.Time{})
	}
	<-sent
	return cut
}

// readResponse reads upstream's final response to req, relaying interim
// (1xx) responses to the client through cw (except to HTTP/1.0 clients,
// which do not expect them).
func (s *Session) readResponse(up io.Reader, req *http.Request, cw *bufio.Writer, http10 bool) (*http.Response, error) {
	lr := &limitReader{r: up}
	ubr := bufio.NewReader(lr)
	for i := 0; ; i++ {
		lr.limit(maxResponseHeaderBytes)
		resp, err := http.ReadResponse(ubr, req)
		if err != nil {
			if lr.exhausted() {
				err = errors.New("the response header is larger than 1 MiB")
			}
			return nil, err
		}
		lr.limit(-1)
		switch {
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return nil, errors.New("the server switched protocols, which the proxy does not support")
		case resp.StatusCode >= 200:
			return resp, nil
		case i == maxInterim:
			return nil, errors.New("too many interim (1xx) responses")
		case http10:
			continue
		}
		stripHopByHop(resp.Header)
		cw.WriteString("HTTP/1.1 " + strconv.Itoa(resp.StatusCode) + " " +
			headerSafe(strings.TrimPrefix(resp.Status, strconv.Itoa(resp.StatusCode)+" "), maxPhrase) + "\r\n")
		resp.Header.Write(cw)
		cw.WriteString("\r\n")
		if err := cw.Flush(); err != nil {
			return nil, errClientGone
		}
	}
}

// toOrigin turns an absolute-form proxy request into the origin-form
// request sent upstream: hop-by-hop and proxy headers go, Host stays (the
// URL's host, which is what was decided), the connection closes after the
// exchange.
func toOrigin(req *http.Request) {
	stripHopByHop(req.Header)
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header["User-Agent"] = []string{""} // net/http would add its own
	}
	u := *req.URL
	u.Scheme, u.Host, u.User, u.Fragment, u.RawFragment = "", "", nil, "", ""
	req.URL = &u
	req.RequestURI = ""
	req.Close = true
}

// hopByHop lists the headers that concern one connection only (RFC 9110
// section 7.6.1), with the proxy's own.
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// stripHopByHop removes the hop-by-hop headers from h, those the
// Connection header names included.
func stripHopByHop(h http.Header) {
	for _, v := range h["Connection"] {
		for _, name := range strings.Split(v, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopByHop {
		h.Del(name)
	}
}

// bodyAllowed reports whether a response with status may have a body.
func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// flushWriter exposes a bufio.Writer to net/http's writers without its
// ReadFrom (so bodies go through flushingBody) but as an io.ByteWriter (so
// Request.Write does not add a buffer of its own) and a flusher (so headers
// go out before a body is read).
type flushWriter struct{ w *bufio.Writer }

func (f flushWriter) Write(p []byte) (int, error)       { return f.w.Write(p) }
func (f flushWriter) WriteByte(c byte) error            { return f.w.WriteByte(c) }
func (f flushWriter) WriteString(s string) (int, error) { return f.w.WriteString(s) }
func (f flushWriter) Flush() error                      { return f.w.Flush() }

// flushingBody is a body being relayed: before each read, whatever was
// written so far is flushed, so a streamed body is passed on as it comes
// rather than when a buffer fills. It remembers the body's read error and
// does not close (or drain) the body: the connection it comes from is
// closed or reused by the proxy.
type flushingBody struct {
	r   io.Reader
	w   *bufio.Writer
	err error
	// atEnd is set once the body has been read to its end (io.EOF).
	atEnd atomic.Bool
}

// complete reports whether the body has been read to its end.
func (b *flushingBody) complete() bool { return b.atEnd.Load() }

// wrapBody wraps a request or response body, or returns nil when there is
// none.
func wrapBody(b io.ReadCloser, w *bufio.Writer) *flushingBody {
	if b == nil || b == http.NoBody {
		return nil
	}
	return &flushingBody{r: b, w: w}
}

// Read flushes what was written, then reads the body.
func (b *flushingBody) Read(p []byte) (int, error) {
	if b.w.Buffered() > 0 {
		if err := b.w.Flush(); err != nil {
			return 0, err
		}
	}
	n, err := b.r.Read(p)
	switch {
	case err == io.EOF:
		b.atEnd.Store(true)
	case err != nil && b.err == nil:
		b.err = err
	}
	return n, err
}

// Close does nothing; see flushingBody.
func (b *flushingBody) Close() error { return nil }
