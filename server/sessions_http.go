package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"
)

type reservationKey struct{}

func withReservation(ctx context.Context, r *reservation) context.Context {
	return context.WithValue(ctx, reservationKey{}, r)
}

func reservationFrom(ctx context.Context) *reservation {
	r, _ := ctx.Value(reservationKey{}).(*reservation)
	return r
}

// guardStreamable binds the streamable transport's sessions to their
// clients. A request naming a session (Mcp-Session-Id, on POST, GET or
// DELETE) must come from the client that opened it: 403 otherwise, 404 for
// a session that is not open. A request that opens a session (initialize
// before protocol 2026-07-28, or a GET without a session) first gets a
// place under the client's cap (429 when there is none); the session's id
// is minted by mcp-go through ResolveSessionIdManager below.
func (s *sessions) guardStreamable(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := ClientIdentity(r.Context())
		if id := r.Header.Get(mcpserver.HeaderKeySessionID); id != "" {
			if err := s.use(id, client); err != nil {
				s.refuse(w, err)
				return
			}
			defer s.done(id)
		}
		if s.opensStreamableSession(r) {
			res, err := s.reserve(client)
			if err != nil {
				s.refuse(w, err)
				return
			}
			defer res.finish()
			r = r.WithContext(withReservation(r.Context(), res))
		}
		next.ServeHTTP(w, r)
	})
}

// opensStreamableSession reports whether mcp-go mints a session for r.
func (s *sessions) opensStreamableSession(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet:
		return r.Header.Get(mcpserver.HeaderKeySessionID) == "" && !mcp.IsModernProtocol(r.Header.Get(mcp.HeaderProtocolVersion))
	case http.MethodPost:
		msg, ok := messageOf(r)
		return ok && msg.Method == string(mcp.MethodInitialize) && !msg.isModern(r.Header)
	}
	return false
}

// guardSSE gives each HTTP+SSE stream a place under its client's cap; the
// session lives as long as the stream. Its id is minted by sseSessionID.
func (s *sessions) guardSSE(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		res, err := s.reserve(ClientIdentity(r.Context()))
		if err != nil {
			s.refuse(w, err)
			return
		}
		defer res.finish()
		next.ServeHTTP(w, r.WithContext(withReservation(r.Context(), res)))
	})
}

// guardMessages lets a message to an HTTP+SSE session (?sessionId=) through
// only from the client that opened the session's stream.
func (s *sessions) guardMessages(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id := r.URL.Query().Get("sessionId"); id != "" {
			if err := s.use(id, ClientIdentity(r.Context())); err != nil {
				s.refuse(w, err)
				return
			}
			defer s.done(id)
		}
		next.ServeHTTP(w, r)
	})
}

// sseSessionID mints the id of an HTTP+SSE session (mcp-go's
// WithSessionIDGenerator); only a stream guardSSE let through gets one.
func (s *sessions) sseSessionID(ctx context.Context, _ *http.Request) (string, error) {
	res := reservationFrom(ctx)
	if res == nil {
		return "", errors.New("server: no session reservation: SSE streams are opened through the session guard")
	}
	return res.take(sseSession), nil
}

func (s *sessions) refuse(w http.ResponseWriter, err error) {
	var capped errSessionCap
	switch {
	case errors.Is(err, errSessionForeign):
		http.Error(w, "airlock-mcp: this MCP session was opened with another client's token; use a session opened with your own token", http.StatusForbidden)
	case errors.As(err, &capped):
		http.Error(w, "airlock-mcp: "+capped.Error(), http.StatusTooManyRequests)
	default:
		http.Error(w, fmt.Sprintf("airlock-mcp: this MCP session is not open: it never was, or it ended (closed by its client, idle for %s, or replaced by a newer session of the same client); start a new session", s.limits.IdleTimeout), http.StatusNotFound)
	}
}

// ResolveSessionIdManager makes the registry mcp-go's source of streamable
// session ids (mcpserver.SessionIdManagerResolver): ids are minted only for
// a request guardStreamable reserved a place for, are valid while the
// registry holds them, and a DELETE forgets them.
func (s *sessions) ResolveSessionIdManager(r *http.Request) mcpserver.SessionIdManager {
	ids := streamableIDs{s: s}
	if r != nil {
		ids.res = reservationFrom(r.Context())
	}
	return ids
}

type streamableIDs struct {
	s   *sessions
	res *reservation
}

func (m streamableIDs) Generate() string {
	if m.res == nil {
		return m.s.mintUnbound(streamableSession)
	}
	return m.res.take(streamableSession)
}

func (m streamableIDs) Validate(id string) (isTerminated bool, err error) {
	if !m.s.known(id) {
		return false, errSessionUnknown
	}
	return false, nil
}

func (m streamableIDs) Terminate(id string) (isNotAllowed bool, err error) {
	m.s.remove(id)
	return false, nil
}

// endStreamableSession makes mcp-go release a session ended by the
// registry (idle, or replaced), as a client's DELETE would.
func endStreamableSession(streamable http.Handler) func(*session) {
	return func(ss *session) {
		if ss.kind != streamableSession {
			return
		}
		req, err := http.NewRequest(http.MethodDelete, StreamablePath, nil)
		if err != nil {
			return
		}
		req.Header.Set(mcpserver.HeaderKeySessionID, ss.id)
		streamable.ServeHTTP(&discardResponse{header: http.Header{}}, req)
	}
}

// discardResponse is a ResponseWriter for requests the server makes to
// itself.
type discardResponse struct{ header http.Header }

func (d *discardResponse) Header() http.Header         { return d.header }
func (d *discardResponse) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardResponse) WriteHeader(int)             {}
