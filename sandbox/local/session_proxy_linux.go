//go:build linux

package local

import (
	"errors"
	"net"
	"sync"
	"time"
)

// proxyRelay serves a session's proxy listener for the session's life and
// hands each connection to the call running when it arrives: every call
// gets its own egress.Session (its own ledger, connection and transfer
// limits) on its own view of the listener (callListener). A connection
// that arrives between calls, from a process the code left running, is
// closed at once: no call is there to decide it or to account for it.
// When a call ends, its egress.Session closes every connection it served,
// so nothing open in one call is charged to or listed in the next.
type proxyRelay struct {
	ln net.Listener

	mu      sync.Mutex
	current *callListener
	done    chan struct{}
}

// maxRelayBackoff is the longest wait between failed Accept calls (the
// server out of descriptors, say), as the egress proxy's own accept loop.
const maxRelayBackoff = time.Second

// newProxyRelay starts relaying ln's connections.
func newProxyRelay(ln net.Listener) *proxyRelay {
	r := &proxyRelay{ln: ln, done: make(chan struct{})}
	go r.accept()
	return r
}

func (r *proxyRelay) accept() {
	defer close(r.done)
	var backoff time.Duration
	for {
		c, err := r.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), maxRelayBackoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		r.mu.Lock()
		l := r.current
		r.mu.Unlock()
		if l == nil || !l.offer(c) {
			c.Close()
		}
	}
}

// attach returns the listener of a new call; the call's egress.Session
// closes it when the call ends, detaching it.
func (r *proxyRelay) attach() *callListener {
	l := &callListener{relay: r, conns: make(chan net.Conn), closed: make(chan struct{})}
	r.mu.Lock()
	r.current = l
	r.mu.Unlock()
	return l
}

// close stops relaying and closes the session's listener.
func (r *proxyRelay) close() {
	r.ln.Close()
	<-r.done
}

// callListener is one call's view of a session's proxy listener.
type callListener struct {
	relay  *proxyRelay
	conns  chan net.Conn
	once   sync.Once
	closed chan struct{}
}

// offer hands c to the call's proxy; false when the call has ended.
func (l *callListener) offer(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.closed:
		return false
	}
}

// Accept returns the next connection of the call, or net.ErrClosed once
// the listener is closed.
func (l *callListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close detaches the listener from the relay; the session's listener
// stays open for the next call.
func (l *callListener) Close() error {
	l.once.Do(func() {
		close(l.closed)
		l.relay.mu.Lock()
		if l.relay.current == l {
			l.relay.current = nil
		}
		l.relay.mu.Unlock()
	})
	return nil
}

// Addr is the session's listener's address.
func (l *callListener) Addr() net.Addr { return l.relay.ln.Addr() }
