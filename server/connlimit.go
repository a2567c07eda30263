package server

import (
	"context"
	"net"
	"net/http"
	"sync"

	"go.uber.org/zap"
)

// ConnLimits bound the connections the HTTP server holds, so that idle or
// unauthenticated connections cannot use up its file descriptors and lock
// everyone out.
type ConnLimits struct {
	// Max is the most connections open at once; 0 means DefaultMaxConns.
	// A quarter of them (at least one) is kept for authenticated clients:
	// connections that have not yet carried a valid token may hold only
	// the other three quarters.
	Max int
	// PerAddress is the most connections open at once from one remote IP
	// address; 0 means DefaultMaxConnsPerAddress.
	PerAddress int
}

const (
	// DefaultMaxConns is ConnLimits.Max's default.
	DefaultMaxConns = 512
	// DefaultMaxConnsPerAddress is ConnLimits.PerAddress's default.
	DefaultMaxConnsPerAddress = 64
)

// MaxConnsForFileLimit is the default connection cap for a process that may
// open openFiles descriptors: DefaultMaxConns, or half the limit if that is
// lower (sandboxes, the audit log and the listener need the rest).
func MaxConnsForFileLimit(openFiles uint64) int {
	return int(min(uint64(DefaultMaxConns), max(openFiles/2, 1)))
}

// ConnLimiter enforces ConnLimits on a listener. A new connection over a
// limit (all connections, the unauthenticated share, or its address's)
// takes the place of the oldest connection that has not authenticated and
// is not in the middle of a request — within the same address for the
// per-address limit; when there is none, the new connection is closed at
// once. A connection authenticates when a request on it passes the token
// check (every request does on a server without tokens), and is never
// displaced after that: it lives until its client closes it or the server's
// idle timeout does. So a flood of idle or unauthenticated connections
// cannot keep a client with a valid token out.
type ConnLimiter struct {
	max, perAddress, untrustedMax int
	log                           *zap.Logger

	mu        sync.Mutex
	seq       uint64
	conns     map[*limitedConn]struct{}
	perAddr   map[string]int
	untrusted int
	refused   uint64
}

// NewConnLimiter returns a limiter for limits; log receives refused
// connections (nil discards).
func NewConnLimiter(limits ConnLimits, log *zap.Logger) *ConnLimiter {
	if limits.Max <= 0 {
		limits.Max = DefaultMaxConns
	}
	if limits.PerAddress <= 0 {
		limits.PerAddress = DefaultMaxConnsPerAddress
	}
	if log == nil {
		log = zap.NewNop()
	}
	reserve := max(limits.Max/4, 1)
	return &ConnLimiter{max: limits.Max, perAddress: limits.PerAddress, untrustedMax: max(limits.Max-reserve, 1), log: log,
		conns: map[*limitedConn]struct{}{}, perAddr: map[string]int{}}
}

// Listener wraps ln: its Accept applies the limits.
func (l *ConnLimiter) Listener(ln net.Listener) net.Listener {
	return &limitedListener{Listener: ln, l: l}
}

// Install hooks the limiter into srv, which must serve its Listener: it
// learns which connections are in a request (ConnState) and which request
// belongs to which connection (ConnContext). Other hooks already set keep
// running.
func (l *ConnLimiter) Install(srv *http.Server) {
	prevState, prevContext := srv.ConnState, srv.ConnContext
	srv.ConnState = func(c net.Conn, state http.ConnState) {
		if lc := asLimited(c); lc != nil {
			switch state {
			case http.StateActive:
				l.setBusy(lc, true)
			case http.StateIdle:
				l.setBusy(lc, false)
			}
		}
		if prevState != nil {
			prevState(c, state)
		}
	}
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if prevContext != nil {
			ctx = prevContext(ctx, c)
		}
		if lc := asLimited(c); lc != nil {
			ctx = context.WithValue(ctx, connKey{}, lc)
		}
		return ctx
	}
}

type connKey struct{}

// trustConnection marks the connection of every request that reaches next
// as authenticated.
func trustConnection(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if lc, ok := r.Context().Value(connKey{}).(*limitedConn); ok {
			lc.l.trust(lc)
		}
		next.ServeHTTP(w, r)
	})
}

type limitedListener struct {
	net.Listener
	l *ConnLimiter
}

func (ll *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc, displaced, why := ll.l.admit(c)
		if displaced != nil {
			_ = displaced.Close()
		}
		if lc != nil {
			return lc, nil
		}
		_ = c.Close()
		ll.l.logRefusal(c.RemoteAddr(), why)
	}
}

// limitedConn is a connection the limiter counts. Its fields but Conn and
// addr are guarded by the limiter's mu.
type limitedConn struct {
	net.Conn
	l         *ConnLimiter
	addr      string
	seq       uint64
	trusted   bool
	busy      bool
	forgotten bool
	closeOnce sync.Once
}

func (c *limitedConn) Close() error {
	err := error(nil)
	c.closeOnce.Do(func() {
		c.l.release(c)
		err = c.Conn.Close()
	})
	return err
}

// asLimited finds the limitedConn under c (a TLS connection wraps it).
func asLimited(c net.Conn) *limitedConn {
	for c != nil {
		if lc, ok := c.(*limitedConn); ok {
			return lc
		}
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return nil
		}
		c = u.NetConn()
	}
	return nil
}

// admit counts c in, displacing another connection if a limit requires
// it; it returns nil and the limit that refused c when none can go.
func (l *ConnLimiter) admit(c net.Conn) (admitted, displaced *limitedConn, refusedBy string) {
	addr := remoteHost(c.RemoteAddr())
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.perAddr[addr] >= l.perAddress:
		if displaced = l.oldestDisplaceable(addr); displaced == nil {
			return nil, nil, "per-address"
		}
	case len(l.conns) >= l.max || l.untrusted >= l.untrustedMax:
		if displaced = l.oldestDisplaceable(""); displaced == nil {
			return nil, nil, "total"
		}
	}
	if displaced != nil {
		l.forget(displaced)
	}
	l.seq++
	admitted = &limitedConn{Conn: c, l: l, addr: addr, seq: l.seq}
	l.conns[admitted] = struct{}{}
	l.perAddr[addr]++
	l.untrusted++
	return admitted, displaced, ""
}

// oldestDisplaceable is the oldest connection (from addr, unless "") that
// has not authenticated and is not serving a request.
func (l *ConnLimiter) oldestDisplaceable(addr string) *limitedConn {
	var oldest *limitedConn
	for c := range l.conns {
		if !c.trusted && !c.busy && (addr == "" || c.addr == addr) && (oldest == nil || c.seq < oldest.seq) {
			oldest = c
		}
	}
	return oldest
}

func (l *ConnLimiter) forget(c *limitedConn) {
	if c.forgotten {
		return
	}
	c.forgotten = true
	delete(l.conns, c)
	if l.perAddr[c.addr]--; l.perAddr[c.addr] <= 0 {
		delete(l.perAddr, c.addr)
	}
	if !c.trusted {
		l.untrusted--
	}
}

func (l *ConnLimiter) release(c *limitedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forget(c)
}

func (l *ConnLimiter) trust(c *limitedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !c.trusted && !c.forgotten {
		c.trusted = true
		l.untrusted--
	}
}

func (l *ConnLimiter) setBusy(c *limitedConn, busy bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c.busy = busy
}

// logRefusal logs the first refused connection and every 100th after it,
// so that a flood does not flood the log too.
func (l *ConnLimiter) logRefusal(remote net.Addr, limit string) {
	l.mu.Lock()
	l.refused++
	n := l.refused
	l.mu.Unlock()
	if n%100 != 1 {
		return
	}
	msg := "connection refused: the server holds its most connections, every one authenticated or in a request (--max-connections)"
	if limit == "per-address" {
		msg = "connection refused: its address holds its most connections, every one authenticated or in a request (--max-connections-per-address)"
	}
	l.log.Warn(msg, zap.String("remote", remote.String()), zap.Uint64("refused_so_far", n))
}

// ConnCounts reports the connections open and how many of them have not
// authenticated.
func (l *ConnLimiter) ConnCounts() (open, unauthenticated int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns), l.untrusted
}

func remoteHost(a net.Addr) string {
	if a == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}
