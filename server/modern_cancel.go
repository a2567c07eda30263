package server

import (
	"context"
	"net/http"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
)

// modernCalls scopes notifications/cancelled to the client that sent it
// under protocol 2026-07-28.
//
// That protocol has no sessions: mcp-go serves each request on a session
// of its own with an empty id and keys the requests a cancellation may
// reach by ":" + request id alone, so one client's notifications/cancelled
// would cancel any other client's request that happens to carry the same
// id. modernCalls keeps the streamable transport's modern requests by
// client and id instead, answers every modern notifications/cancelled
// itself (202), cancelling only the sender's own request of that id, and
// never lets one reach mcp-go. Requests of the older protocols are keyed by
// their session, which the session guard binds to its client, and pass
// untouched.
type modernCalls struct {
	mu      sync.Mutex
	running map[callKey]map[*context.CancelFunc]struct{}
}

type callKey struct{ client, id string }

func newModernCalls() *modernCalls {
	return &modernCalls{running: map[callKey]map[*context.CancelFunc]struct{}{}}
}

// guard wraps the streamable transport.
func (m *modernCalls) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		msg, ok := messageOf(r)
		if r.Method != http.MethodPost || !ok || !msg.isModern(r.Header) {
			next.ServeHTTP(w, r)
			return
		}
		client := ClientIdentity(r.Context())
		if msg.Method == string(mcp.MethodNotificationCancelled) && !msg.isRequest() {
			m.cancel(callKey{client, idKey(msg.Params.RequestID)})
			w.WriteHeader(http.StatusAccepted)
			return
		}
		if msg.isRequest() {
			// Cancelling the request's context ends the call (its sandbox
			// dies); mcp-go then writes no response, as the protocol asks
			// of a cancelled request.
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			key := callKey{client, idKey(msg.ID)}
			m.add(key, &cancel)
			defer m.remove(key, &cancel)
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}

func (m *modernCalls) add(k callKey, cancel *context.CancelFunc) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running[k] == nil {
		m.running[k] = map[*context.CancelFunc]struct{}{}
	}
	m.running[k][cancel] = struct{}{}
}

func (m *modernCalls) remove(k callKey, cancel *context.CancelFunc) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.running[k], cancel)
	if len(m.running[k]) == 0 {
		delete(m.running, k)
	}
}

// cancel cancels every running request of k; it returns once their
// contexts are cancelled.
func (m *modernCalls) cancel(k callKey) {
	if k.id == "" {
		return
	}
	m.mu.Lock()
	var cancels []context.CancelFunc
	for c := range m.running[k] {
		cancels = append(cancels, *c)
	}
	m.mu.Unlock()
	for _, c := range cancels {
		c()
	}
}
