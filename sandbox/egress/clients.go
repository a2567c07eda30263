package egress

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// refuseWriteTimeout bounds writing the answer to a client connection
// refused because the session has too many open; the answer goes into a
// fresh socket's empty send buffer, so the write does not wait in
// practice, and the accept loop must not.
const refuseWriteTimeout = time.Second

// maxAcceptBackoff is the longest wait between failed Accept calls.
const maxAcceptBackoff = time.Second

// accept runs the accept loop until the listener is closed. A failed
// Accept (the process is out of descriptors, say) is retried after a wait
// that doubles up to maxAcceptBackoff, as net/http does: the loop neither
// spins nor gives up, and the session serves again once descriptors are
// free.
func (s *Session) accept() {
	defer s.wg.Done()
	var backoff time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), maxAcceptBackoff)
			s.log.Warn("accept failed; retrying", zap.Error(err), zap.Duration("retry_in", backoff))
			select {
			case <-s.after(backoff):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		backoff = 0
		switch s.admit(c) {
		case admitted:
			if h := s.cfg.hooks; h != nil && h.admitted != nil {
				h.admitted()
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer s.releaseClient(c)
				s.serveConn(c)
			}()
		case full:
			s.refuseClient(c)
		case closed:
			c.Close()
		}
	}
}

// after is time.After, or the tests' replacement.
func (s *Session) after(d time.Duration) <-chan time.Time {
	if h := s.cfg.hooks; h != nil && h.backoff != nil {
		return h.backoff(d)
	}
	return time.After(d)
}

// admission is what becomes of an accepted client connection.
type admission int

const (
	admitted admission = iota // served
	full                      // refused: maxClients are open
	closed                    // closed: the session is closing
)

// admit counts c among the session's open client connections and tracks
// it for Close, unless maxClients are already open or the session is
// closed.
func (s *Session) admit(c net.Conn) admission {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return closed
	case s.clients >= s.maxClients:
		return full
	}
	s.clients++
	s.conns[c] = struct{}{}
	return admitted
}

// releaseClient closes an admitted client connection, then frees its
// place, so that the session never holds more than maxClients of them.
func (s *Session) releaseClient(c net.Conn) {
	c.Close()
	s.mu.Lock()
	delete(s.conns, c)
	s.clients--
	s.mu.Unlock()
	if h := s.cfg.hooks; h != nil && h.released != nil {
		h.released()
	}
}

// refuseClient answers a client connection beyond maxClients with the 403
// saying so, closes it at once and records the refusal. Its request is not
// read: waiting for it would hold the descriptor the limit is there to
// save. (The client still reads the answer: it is in its receive buffer
// before the reset that closing with its request unread may cause.)
func (s *Session) refuseClient(c net.Conn) {
	s.ledger.note(Entry{Rule: limitRule, Reason: tooManyClientsReason(s.maxClients)})
	c.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
	c.Write(s.refusedFull)
	c.Close()
	if !s.warnedFull { // once per session: a flood must not flood the log
		s.warnedFull = true
		s.log.Info("client connection refused: too many open", zap.Int("max_client_conns", s.maxClients))
	}
}

// limitRule is the rule the proxy's own limits refuse by.
const limitRule = "proxy limit"

// tooManyClientsReason is the ledger's reason for a client connection
// beyond the limit of n open at once.
func tooManyClientsReason(n int) string {
	return "Connection to the Airlock proxy refused: at most " + strconv.Itoa(n) +
		" connections to it may be open at once per call, and this call had them all open; close the connections it no longer needs (or reuse them), then retry."
}

// tooManyClients is the answer to a client connection beyond the limit of
// n open at once.
func tooManyClients(n int) *refusal {
	return &refusal{
		status: http.StatusForbidden,
		phrase: "Airlock policy: connection refused by proxy limit: at most " + strconv.Itoa(n) + " connections to the proxy open at once",
		rule:   limitRule,
		body:   tooManyClientsReason(n) + "\n" + limitNote + "\n",
	}
}
