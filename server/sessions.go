package server

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
)

// SessionLimits bound the MCP sessions of the HTTP transports (the
// streamable transport's Mcp-Session-Id sessions of protocols before
// 2026-07-28, and HTTP+SSE streams).
type SessionLimits struct {
	// IdleTimeout ends a session that has had no request or stream open
	// for this long; 0 means DefaultSessionIdleTimeout.
	IdleTimeout time.Duration
	// MaxPerClient is the most sessions one client (token) holds at once;
	// 0 means DefaultMaxSessionsPerClient. A client opening one more ends
	// its least recently used idle session, or is refused when every one of
	// its sessions has a request or stream open.
	MaxPerClient int
}

const (
	// DefaultSessionIdleTimeout is SessionLimits.IdleTimeout's default.
	DefaultSessionIdleTimeout = 30 * time.Minute
	// DefaultMaxSessionsPerClient is SessionLimits.MaxPerClient's default.
	DefaultMaxSessionsPerClient = 64
)

func (l SessionLimits) withDefaults() SessionLimits {
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultSessionIdleTimeout
	}
	if l.MaxPerClient <= 0 {
		l.MaxPerClient = DefaultMaxSessionsPerClient
	}
	return l
}

type sessionKind int

const (
	streamableSession sessionKind = iota
	sseSession
)

// unboundOwner owns a session minted outside a reservation (which the
// guards never let happen): nobody can use it, and it expires.
const unboundOwner = "\x00unbound"

// session is one MCP session: the client that opened it, how many of its
// requests (calls, streams) are open, and when it was last used.
type session struct {
	id    string
	owner string
	kind  sessionKind
	open  int
	last  time.Time
}

var (
	errSessionUnknown = errors.New("session unknown")
	errSessionForeign = errors.New("session of another client")
)

// errSessionCap refuses a new session to a client whose sessions are all
// in use.
type errSessionCap struct {
	client string
	max    int
}

func (e errSessionCap) Error() string {
	who := "this client"
	if e.client != "" {
		who = fmt.Sprintf("client %q", e.client)
	}
	return fmt.Sprintf("%s already holds %d MCP sessions, the most one client may hold (--max-sessions-per-client), and each has a request or stream open; close one (HTTP DELETE, or end its stream), then retry", who, e.max)
}

// sessions binds every MCP session to the client that opened it, caps the
// sessions of each client, and ends idle ones. end releases what a
// transport holds for a session ended here (not for one its client closed).
type sessions struct {
	limits SessionLimits
	now    func() time.Time
	end    func(*session)
	log    *zap.Logger

	mu        sync.Mutex
	byID      map[string]*session
	perClient map[string]int // sessions and reservations
}

func newSessions(limits SessionLimits, now func() time.Time, log *zap.Logger) *sessions {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &sessions{limits: limits.withDefaults(), now: now, end: func(*session) {}, log: log,
		byID: map[string]*session{}, perClient: map[string]int{}}
}

// use marks a request of client on session id open; done closes it. It
// fails for a session that is not open (errSessionUnknown) or that another
// client opened (errSessionForeign).
func (s *sessions) use(id, client string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byID[id]
	switch {
	case !ok:
		return errSessionUnknown
	case ss.owner != client:
		return errSessionForeign
	}
	ss.open++
	ss.last = s.now()
	return nil
}

func (s *sessions) done(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss, ok := s.byID[id]; ok {
		ss.open--
		ss.last = s.now()
	}
}

// known reports whether session id is open.
func (s *sessions) known(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.byID[id]
	return ok
}

// remove forgets session id (its client closed it, or its stream ended).
func (s *sessions) remove(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forget(id)
}

func (s *sessions) forget(id string) *session {
	ss, ok := s.byID[id]
	if !ok {
		return nil
	}
	delete(s.byID, id)
	if s.perClient[ss.owner]--; s.perClient[ss.owner] <= 0 {
		delete(s.perClient, ss.owner)
	}
	return ss
}

// reservation holds a place for one session of a client until the
// transport mints the session's id (take) or the request ends (finish).
type reservation struct {
	s      *sessions
	client string
	mu     sync.Mutex
	taken  *session
	closed bool
}

// reserve makes room for one more session of client: under the cap, or by
// ending the client's least recently used session that has nothing open.
func (s *sessions) reserve(client string) (*reservation, error) {
	s.mu.Lock()
	var evicted *session
	if s.perClient[client] >= s.limits.MaxPerClient {
		for _, ss := range s.byID {
			if ss.owner == client && ss.open == 0 && ss.kind == streamableSession && (evicted == nil || ss.last.Before(evicted.last)) {
				evicted = ss
			}
		}
		if evicted == nil {
			s.mu.Unlock()
			return nil, errSessionCap{client: client, max: s.limits.MaxPerClient}
		}
		s.forget(evicted.id)
	}
	s.perClient[client]++
	s.mu.Unlock()
	if evicted != nil {
		s.log.Info("MCP session ended to make room for a newer one of the same client",
			zap.String("client", client), zap.String("session", evicted.id), zap.Int("max_sessions_per_client", s.limits.MaxPerClient))
		s.end(evicted)
	}
	return &reservation{s: s, client: client}, nil
}

// take mints the reserved session's id; the session starts with one
// request open (the one minting it). A reservation is taken once: a second
// take mints an unbound session.
func (r *reservation) take(kind sessionKind) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.taken != nil || r.closed {
		return r.s.mintUnbound(kind)
	}
	ss := &session{id: newSessionID(), owner: r.client, kind: kind, open: 1, last: r.s.now()}
	r.s.mu.Lock()
	r.s.byID[ss.id] = ss
	r.s.mu.Unlock()
	r.taken = ss
	return ss.id
}

// finish ends the reserving request: the place is given back if no session
// was minted; an SSE session, which lives as long as this request's stream,
// ends; a streamable session stays, idle.
func (r *reservation) finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	switch {
	case r.taken == nil:
		r.s.mu.Lock()
		if r.s.perClient[r.client]--; r.s.perClient[r.client] <= 0 {
			delete(r.s.perClient, r.client)
		}
		r.s.mu.Unlock()
	case r.taken.kind == sseSession:
		r.s.remove(r.taken.id)
	default:
		r.s.done(r.taken.id)
	}
}

// mintUnbound registers a session nobody can use; it expires like any
// idle session, which releases what the transport holds for it.
func (s *sessions) mintUnbound(kind sessionKind) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := &session{id: newSessionID(), owner: unboundOwner, kind: kind, last: s.now()}
	s.byID[ss.id] = ss
	s.perClient[unboundOwner]++
	return ss.id
}

// sweep ends the sessions that have had nothing open for the idle timeout.
func (s *sessions) sweep() {
	s.mu.Lock()
	now := s.now()
	var expired []*session
	for id, ss := range s.byID {
		if ss.open == 0 && now.Sub(ss.last) >= s.limits.IdleTimeout {
			expired = append(expired, s.forget(id))
		}
	}
	s.mu.Unlock()
	for _, ss := range expired {
		owner := ss.owner
		if owner == unboundOwner {
			owner = "(none)"
		}
		s.log.Info("MCP session ended after being idle", zap.String("client", owner), zap.String("session", ss.id),
			zap.Duration("idle_timeout", s.limits.IdleTimeout))
		s.end(ss)
	}
}

// sweepEvery sweeps at interval until stop is closed.
func (s *sessions) sweepEvery(interval time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			s.sweep()
		}
	}
}

// sweepInterval is how often idle sessions are looked for: a quarter of
// the idle timeout, between 1 s and 1 min.
func (s *sessions) sweepInterval() time.Duration {
	return min(max(s.limits.IdleTimeout/4, time.Second), time.Minute)
}

// count is the number of sessions open.
func (s *sessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

// newSessionID returns an unguessable session id (130 random bits).
func newSessionID() string { return "airlock-" + rand.Text() }
