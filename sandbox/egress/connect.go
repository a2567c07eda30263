package egress

import (
	"bufio"
	"errors"
	"github.com/airlock-mcp/airlock-mcp/netrules"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
)

// connectEstablished is the answer to an allowed CONNECT.
const connectEstablished = "HTTP/1.1 200 Connection established\r\n\r\n"

// alertAccessDenied is a fatal TLS access_denied alert, sent to a client
// whose ClientHello failed the SNI check so its TLS library reports a
// refusal rather than a bare end of stream.
var alertAccessDenied = []byte{21, 3, 3, 0, 2, 2, 49}

// tlsPort is the port on which a tunnel must carry TLS.
const tlsPort = 443

// connect serves a CONNECT request; the client connection is the tunnel's
// from then on and ends with it.
func (s *Session) connect(c net.Conn, br *bufio.Reader, req *http.Request) {
	host, port, err := net.SplitHostPort(req.URL.Host)
	if req.URL.Host == "" || err != nil {
		s.refuse(c, badRequest(http.StatusBadRequest, "CONNECT needs host:port",
			"CONNECT takes the destination as host:port, such as CONNECT pypi.org:443; got "+strconv.Quote(clip(req.RequestURI, 100))+"."))
		return
	}
	t, err := parseTarget(host, port, 0)
	if err != nil {
		s.refuse(c, badRequest(http.StatusBadRequest, "bad CONNECT target", "The CONNECT target is not usable: "+err.Error()+"."))
		return
	}
	rec, up, ref := s.open(http.MethodConnect, t)
	if ref != nil {
		s.refuse(c, ref)
		return
	}
	defer s.release(up.Conn)
	f := s.startFlow(rec, c, up.Conn)
	if f == nil {
		return // the byte limit was reached meanwhile
	}
	defer s.endFlow(f)

	c.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := io.WriteString(c, connectEstablished); err != nil {
		return
	}
	c.SetWriteDeadline(time.Time{})

	if t.port == tlsPort {
		// The hello is checked before anything is relayed either way.
		if !s.checkHello(c, br, up, rec, t, true) {
			return
		}
		s.splice(c, br, up, rec, nil)
		return
	}
	// Other ports may carry protocols in which the server speaks first,
	// so the server's bytes flow at once; the client's first bytes are
	// checked when they look like a TLS handshake record (0x16 0x03 ...).
	s.splice(c, br, up, rec, func() bool {
		if b, err := br.Peek(1); err != nil || b[0] != recordHandshake {
			return true
		}
		// Possibly TLS: a TLS client sends its whole first record at
		// once, so waiting for the record header is safe (and bounded).
		c.SetReadDeadline(time.Now().Add(helloTimeout))
		b, err := br.Peek(5)
		c.SetReadDeadline(time.Time{})
		if err == nil && b[1] != 3 {
			return true // not TLS after all
		}
		return s.checkHello(c, br, up, rec, t, false)
	})
}

// checkHello reads the tunnel's TLS ClientHello from br and checks its
// server name against t. When it passes, the hello is forwarded upstream
// and checkHello returns true; otherwise the refusal is noted in rec and it
// returns false (the caller ends the tunnel). required says whether the
// tunnel must carry TLS (port 443).
func (s *Session) checkHello(c net.Conn, br *bufio.Reader, up *meteredConn, rec *record, t target, required bool) bool {
	c.SetReadDeadline(time.Now().Add(helloTimeout))
	h, err := readClientHello(br)
	c.SetReadDeadline(time.Time{})
	var reason string
	switch {
	case errors.Is(err, io.EOF) && h == nil:
		return false // the client closed the tunnel without sending anything
	case errors.Is(err, errNotTLS) && required:
		reason = "Tunnel to " + t.String() + " closed: the client did not start a TLS handshake; on port 443 the Airlock proxy only carries TLS whose server name (SNI) is the CONNECT host."
	case err != nil:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			err = errors.New("no ClientHello within " + helloTimeout.String())
		}
		reason = "Tunnel to " + t.String() + " closed: the TLS ClientHello could not be read (" + clip(err.Error(), 200) + "), so its server name (SNI) could not be checked."
	case !sniMatches(h, t):
		if h.hasSNI {
			reason = "Tunnel to " + t.String() + " closed: the TLS server name (SNI) " + strconv.Quote(clip(h.serverName, 100)) +
				" is not the CONNECT host " + t.name + "; a tunnel may only reach the name the policy allowed."
		} else {
			reason = "Tunnel to " + t.String() + " closed: the TLS ClientHello names no server (SNI); it must name the CONNECT host " + t.name + "."
		}
	default:
		if _, err := up.Write(h.raw); err != nil {
			s.noteUpstreamError(rec, "write", err)
			return false
		}
		return true
	}
	rec.update(func(e *Entry) {
		e.Allowed, e.Rule, e.Reason = false, "sni check", reason
	})
	s.log.Info("egress tunnel refused", zap.String("host", t.host), zap.Int("port", t.port), zap.String("rule", "sni check"), zap.String("reason", reason))
	if h != nil || !errors.Is(err, errNotTLS) {
		c.SetWriteDeadline(time.Now().Add(time.Second))
		c.Write(alertAccessDenied)
	}
	return false
}

// sniMatches reports whether h's server name fits t: equal to the name
// (case and one trailing dot aside), and for an IP literal absent or the
// same address.
func sniMatches(h *clientHello, t target) bool {
	if t.ip.IsValid() {
		if !h.hasSNI {
			return true
		}
		a, err := netip.ParseAddr(h.serverName)
		return err == nil && a.Unmap() == t.ip
	}
	return h.hasSNI && netrules.NormalizeHost(h.serverName) == t.name
}

// copyBufs recycles the tunnels' copy buffers.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// splice relays the tunnel both ways until both directions end, then
// closes both connections. When first is not nil, the client-to-upstream
// direction runs it before relaying anything and ends the tunnel when it
// returns false.
func (s *Session) splice(c net.Conn, br *bufio.Reader, up *meteredConn, rec *record, first func() bool) {
	var wg sync.WaitGroup
	closeBoth := func() {
		c.Close()
		up.Close()
	}
	s.wg.Add(1)
	wg.Add(1)
	go func() { // client → upstream
		defer s.wg.Done()
		defer wg.Done()
		if first != nil && !first() {
			closeBoth()
			return
		}
		rerr, werr := pump(up, br)
		if werr != nil {
			s.noteUpstreamError(rec, "write", werr)
		}
		if rerr != nil || werr != nil {
			closeBoth()
			return
		}
		closeWrite(up.Conn)
	}()
	// upstream → client
	rerr, werr := pump(c, up)
	if rerr != nil {
		s.noteUpstreamError(rec, "read", rerr)
	}
	if rerr != nil || werr != nil {
		closeBoth()
	} else {
		closeWrite(c)
	}
	wg.Wait()
	closeBoth()
}

// pump copies src to dst until src ends (nil errors) or either fails.
func pump(dst io.Writer, src io.Reader) (readErr, writeErr error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return nil, werr
			}
		}
		if err == io.EOF {
			return nil, nil
		}
		if err != nil {
			return err, nil
		}
	}
}

// closeWrite half-closes c when it can; a connection that cannot is left
// open until the other direction ends.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}

// noteUpstreamError records a failure of the upstream side of an allowed
// connection in its entry, unless it is the proxy's own doing (the session
// or the connection was closed, the byte limit cut it).
func (s *Session) noteUpstreamError(rec *record, op string, err error) {
	if err == nil || errors.Is(err, net.ErrClosed) || errors.Is(err, errByteLimit) || s.ctx.Err() != nil || s.overflow.Load() {
		return
	}
	rec.update(func(e *Entry) {
		if e.Error == "" {
			e.Error = op + " upstream: " + clip(dialErrText(err), 200)
		}
	})
}
