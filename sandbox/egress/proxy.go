package egress

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
)

// Timeouts and bounds of the proxy.
const (
	// headerTimeout bounds reading a request's header once the client has
	// started it (and the first request of a connection).
	headerTimeout = 10 * time.Second
	// idleTimeout bounds the wait for the next request on a kept-alive
	// client connection.
	idleTimeout = 60 * time.Second
	// helloTimeout bounds reading the TLS ClientHello of a tunnel.
	helloTimeout = 10 * time.Second
	// resolveTimeout bounds resolving one name.
	resolveTimeout = 10 * time.Second
	// dialTimeout is the default dialer's timeout.
	dialTimeout = 10 * time.Second
	// writeTimeout bounds writing the proxy's own answers (errors, the
	// CONNECT reply).
	writeTimeout = 10 * time.Second
	// maxHeaderBytes bounds a request header.
	maxHeaderBytes = 64 << 10
	// maxResponseHeaderBytes bounds an upstream response header.
	maxResponseHeaderBytes = 1 << 20
	// lingerTimeout is how long a refused connection is drained after the
	// answer, so that closing it with unread input does not reset it
	// before the client has read the answer.
	lingerTimeout = 500 * time.Millisecond
)

// Config configures one Session.
type Config struct {
	// Egress decides every connection attempt. Nil refuses everything.
	Egress *policy.Egress
	// Resolver resolves names; nil means net.DefaultResolver.
	Resolver Resolver
	// Dial connects to upstream addresses; nil means a net.Dialer with a
	// 10 s timeout. addr is always "ip:port" of a checked address.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxConnections limits the upstream connections (tunnels and plain
	// HTTP requests) of the session; 0 means unlimited. Refused attempts
	// do not count.
	MaxConnections int
	// MaxBytes limits the bytes relayed by the session, both directions
	// added up; 0 means unlimited. Reaching it closes every open
	// connection of the session and refuses new ones.
	MaxBytes int64
	// Log receives one line per decision; nil means no logging. Payload
	// bytes are never logged.
	Log *zap.Logger
}

// Resolver resolves a name to addresses; *net.Resolver satisfies it.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Session is the proxy serving one sandbox (one call). Create it with
// Serve; end it with Close.
type Session struct {
	cfg    Config
	ln     net.Listener
	log    *zap.Logger
	ctx    context.Context // cancelled by Close; bounds resolving and dialling
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine of the session
	ledger ledger

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{} // open client and upstream connections
	flows  map[*flow]struct{}    // connections relaying data
	opened int                   // upstream connections started

	used     atomic.Int64 // bytes relayed, against MaxBytes
	overflow atomic.Bool  // MaxBytes was reached

	closeOnce sync.Once
	final     Ledger
}

// flow is one allowed connection relaying data: a tunnel or a plain HTTP
// exchange, with the connections to close when a limit cuts it.
type flow struct {
	rec   *record
	conns []net.Conn
}

// Serve starts serving proxy requests on ln for one sandbox and returns at
// once. The session owns ln from then on: Close closes it.
func Serve(ln net.Listener, cfg Config) *Session {
	if cfg.Egress == nil {
		cfg.Egress = policy.Network{}.Egress()
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Dial == nil {
		cfg.Dial = (&net.Dialer{Timeout: dialTimeout}).DialContext
	}
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Session{
		cfg:    cfg,
		ln:     ln,
		log:    log.With(zap.String("component", "egress-proxy")),
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[net.Conn]struct{}),
		flows:  make(map[*flow]struct{}),
	}
	s.wg.Add(1)
	go s.accept()
	return s
}

// Close stops accepting, closes the listener and every open connection
// (client and upstream), waits until every goroutine of the session has
// returned, and returns the ledger. It is idempotent: later calls return
// the same ledger.
func (s *Session) Close() Ledger {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		conns := make([]net.Conn, 0, len(s.conns))
		for c := range s.conns {
			conns = append(conns, c)
		}
		s.mu.Unlock()
		s.cancel()
		s.ln.Close()
		for _, c := range conns {
			c.Close()
		}
		s.wg.Wait()
		s.final = s.ledger.snapshot()
	})
	return s.final
}

// Snapshot returns the ledger so far, byte counts of open connections
// included. It is safe to call at any time, concurrently with everything.
func (s *Session) Snapshot() Ledger { return s.ledger.snapshot() }

// accept runs the accept loop until the listener is closed.
func (s *Session) accept() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.ctx.Err() != nil {
				return
			}
			// Out of file descriptors and the like: wait and retry, as
			// net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", zap.Error(err), zap.Duration("retry_in", backoff))
			select {
			case <-time.After(backoff):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		if !s.track(c) {
			c.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer s.release(c)
			s.serveConn(c)
		}()
	}
}

// track registers c to be closed by Close; false when the session is
// already closed (the caller must close c).
func (s *Session) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

// release closes c and forgets it.
func (s *Session) release(c net.Conn) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// startFlow registers an allowed connection relaying data, so that reaching
// MaxBytes can cut it. It returns nil when the byte limit has already been
// reached (the caller must stop).
func (s *Session) startFlow(rec *record, conns ...net.Conn) *flow {
	f := &flow{rec: rec, conns: conns}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.overflow.Load() {
		return nil
	}
	s.flows[f] = struct{}{}
	return f
}

// endFlow forgets f.
func (s *Session) endFlow(f *flow) {
	s.mu.Lock()
	delete(s.flows, f)
	s.mu.Unlock()
}

// errByteLimit is returned by metered reads and writes once the session's
// byte limit is reached.
var errByteLimit = errors.New("the session's byte limit was reached")

// take reserves n bytes of the session's byte budget and returns how many
// may be relayed; fewer than n means the limit is reached (the caller then
// relays those and calls overflowed).
func (s *Session) take(n int) int {
	if s.cfg.MaxBytes <= 0 || n <= 0 {
		return n
	}
	for {
		used := s.used.Load()
		k := min(int64(n), max(s.cfg.MaxBytes-used, 0))
		if s.used.CompareAndSwap(used, used+k) {
			return int(k)
		}
	}
}

// overflowed cuts every flow once the byte limit is reached, noting the
// cut in each one's ledger entry. The flow of by, which hit the limit, is
// left to end itself once it has relayed its last bytes.
func (s *Session) overflowed(by *meteredConn) {
	s.mu.Lock()
	if s.overflow.Swap(true) {
		s.mu.Unlock()
		return
	}
	flows := make([]*flow, 0, len(s.flows))
	for f := range s.flows {
		flows = append(flows, f)
	}
	s.mu.Unlock()
	s.log.Info("byte limit reached; closing every connection of the call", zap.Int64("max_bytes", s.cfg.MaxBytes))
	for _, f := range flows {
		f.rec.update(func(e *Entry) {
			e.Error = byteLimitText(s.cfg.MaxBytes) + "; the connection was closed"
			e.Reason = "The connection was closed: the Airlock proxy relays at most " + bytesText(s.cfg.MaxBytes) +
				" per call (both directions together), and this call reached that limit."
		})
		if f.rec == by.rec {
			continue
		}
		for _, c := range f.conns {
			c.Close()
		}
	}
}

// meteredConn is an upstream connection whose traffic counts against the
// session's byte budget and into one ledger entry.
type meteredConn struct {
	net.Conn
	s   *Session
	rec *record
}

// Read reads from upstream, counting the bytes in. At the byte limit it
// returns the bytes still allowed with errByteLimit.
func (c *meteredConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		k := c.s.take(n)
		c.rec.in.Add(int64(k))
		if k < n {
			c.s.overflowed(c)
			return k, errByteLimit
		}
	}
	return n, err
}

// Write writes to upstream, counting the bytes out. At the byte limit it
// writes the bytes still allowed and returns errByteLimit.
func (c *meteredConn) Write(p []byte) (int, error) {
	k := c.s.take(len(p))
	n, err := c.Conn.Write(p[:k])
	c.rec.out.Add(int64(n))
	if k < len(p) {
		c.s.overflowed(c)
		if err == nil {
			err = errByteLimit
		}
	}
	return n, err
}

// serveConn serves one client connection: requests until the client closes
// it, a CONNECT takes it over, or an answer requires closing it.
func (s *Session) serveConn(c net.Conn) {
	lr := &limitReader{r: c}
	br := bufio.NewReader(lr)
	for first := true; ; first = false {
		wait := idleTimeout
		if first {
			wait = headerTimeout
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
		c.SetReadDeadline(time.Now().Add(headerTimeout))
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
