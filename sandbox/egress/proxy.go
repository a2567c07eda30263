package egress

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/netrules"
)

// Timeouts and bounds of the proxy.
const (
	// firstRequestTimeout bounds the wait for the first byte of a new
	// client connection's first request: a client sends its request as
	// soon as it has connected, so a silent connection is closed quickly
	// and does not hold one of the session's client connections.
	firstRequestTimeout = 5 * time.Second
	// headerTimeout bounds reading a request's header once the client has
	// started it.
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
	// DefaultMaxClientConns is Config.MaxClientConns when not set.
	DefaultMaxClientConns = 64
)

// Decider decides connection attempts: by name before the name is
// resolved (CheckHost), then each address it resolved to (CheckAddr); the
// proxy dials only addresses both allowed. *netrules.Egress, compiled from
// the network rules, is the one the server uses.
type Decider interface {
	// CheckHost decides a connection to host:port by name, host
	// normalized (netrules.NormalizeHost); an IP literal is decided as
	// its address.
	CheckHost(host string, port int) netrules.Verdict
	// CheckAddr decides a connection to addr:port, where host is the name
	// addr was resolved from, already allowed by CheckHost.
	CheckAddr(host string, addr netip.Addr, port int) netrules.Verdict
}

// Config configures one Session.
type Config struct {
	// Egress decides every connection attempt. Nil (no Decider at all)
	// refuses everything.
	Egress Decider
	// Resolver resolves names; nil means net.DefaultResolver.
	Resolver Resolver
	// Dial connects to upstream addresses; nil means a net.Dialer with a
	// 10 s timeout. addr is always "ip:port" of a checked address.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// MaxConnections limits the upstream connections (tunnels and plain
	// HTTP requests) of the session; 0 means unlimited. Refused attempts
	// do not count. It also bounds the ledger's full entries (see Ledger).
	MaxConnections int
	// MaxClientConns limits the client connections (from the sandbox to
	// the proxy) open at once; 0 or less means DefaultMaxClientConns. A
	// connection beyond it is answered at once with a 403 naming the
	// limit, closed, and recorded as refused by "proxy limit". With it,
	// a session never holds more than 2*MaxClientConns+2 descriptors:
	// each client connection and its one upstream connection, the
	// listener and a connection being refused (plus the resolver's own
	// sockets while a client connection's name is being resolved: two
	// with Go's resolver).
	MaxClientConns int
	// MaxBytes limits the bytes relayed by the session, both directions
	// added up; 0 means unlimited. Reaching it closes every open
	// connection of the session and refuses new ones.
	MaxBytes int64
	// Log receives one line per decision; nil means no logging. Payload
	// bytes are never logged.
	Log *zap.Logger

	// hooks lets the package's tests steer and observe the session; nil
	// otherwise.
	hooks *testHooks
}

// testHooks are the tests' view into a session. Every field is optional.
type testHooks struct {
	// requestTimeout replaces firstRequestTimeout and headerTimeout when
	// not 0.
	requestTimeout time.Duration
	// admitted is called each time a client connection is admitted.
	admitted func()
	// released is called each time a client connection has been closed
	// and its place freed.
	released func()
	// backoff replaces time.After for the accept loop's wait after a
	// failed Accept.
	backoff func(d time.Duration) <-chan time.Time
	// sent is called by a forwarded request's sender once it has written
	// the request upstream, before it reports the outcome.
	sent func()
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

	maxClients   int           // Config.MaxClientConns, defaulted
	firstRequest time.Duration // firstRequestTimeout, or the tests' own
	header       time.Duration // headerTimeout, or the tests' own
	refusedFull  []byte        // the answer to a client beyond maxClients
	warnedFull   bool          // refusedFull was logged (by the accept loop)

	mu      sync.Mutex
	closed  bool
	conns   map[net.Conn]struct{} // open client and upstream connections
	clients int                   // open client connections
	flows   map[*flow]struct{}    // connections relaying data
	opened  int                   // upstream connections started

	used        atomic.Int64 // bytes relayed, against MaxBytes
	overflow    atomic.Bool  // MaxBytes was reached
	summarising atomic.Bool  // the ledger summarises attempts without a connection

	closeOnce sync.Once
	final     Ledger
}

// Serve starts serving proxy requests on ln for one sandbox and returns at
// once. The session owns ln from then on: Close closes it.
func Serve(ln net.Listener, cfg Config) *Session {
	if cfg.Egress == nil {
		cfg.Egress = netrules.Rules{}.Egress()
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
		cfg:          cfg,
		ln:           ln,
		log:          log.With(zap.String("component", "egress-proxy")),
		ctx:          ctx,
		cancel:       cancel,
		maxClients:   cfg.MaxClientConns,
		firstRequest: firstRequestTimeout,
		header:       headerTimeout,
		conns:        make(map[net.Conn]struct{}),
		flows:        make(map[*flow]struct{}),
	}
	if s.maxClients <= 0 {
		s.maxClients = DefaultMaxClientConns
	}
	if h := cfg.hooks; h != nil && h.requestTimeout != 0 {
		s.firstRequest, s.header = h.requestTimeout, h.requestTimeout
	}
	s.refusedFull = tooManyClients(s.maxClients).bytes()
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

// release closes an upstream connection and forgets it.
func (s *Session) release(c net.Conn) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}
