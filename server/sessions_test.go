package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
)

// TestSessionsAreBoundToTheirClient: a valid token does not open another
// client's session, whichever way it is named — the streamable
// transport's Mcp-Session-Id on every method, or the SSE transport's
// ?sessionId= — and the owner's session keeps working; a session that was
// never opened is not found.
func TestSessionsAreBoundToTheirClient(t *testing.T) {
	backend := &sandboxtest.Backend{Result: okResult()}
	ts, _, _ := serveTransport(t, backend, HTTPOptions{})
	alice := initialize(t, ts, aliceToken)
	aliceSSE := openSSE(t, ts, aliceToken)
	never := "mcp-session-0b7d5bf4-3c4c-4c55-9e0b-5c1ad8a0b1a2" // well-formed, never opened

	call := `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"execute_python","arguments":{"code":"print(1)"}}}`
	streamable := func(method, body string) func(session string) (int, string) {
		return func(session string) (int, string) {
			return send(t, mcpRequest(t, ts, method, bobToken, session, legacyVersion, body))
		}
	}
	tests := []struct {
		name    string
		do      func(session string) (int, string)
		session string
		want    int
	}{
		{"tools/list in alice's session", streamable(http.MethodPost, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`), alice, http.StatusForbidden},
		{"tools/call in alice's session", streamable(http.MethodPost, call), alice, http.StatusForbidden},
		{"notifications/cancelled in alice's session", streamable(http.MethodPost, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9}}`), alice, http.StatusForbidden},
		{"GET alice's stream", streamable(http.MethodGet, ""), alice, http.StatusForbidden},
		{"DELETE alice's session", streamable(http.MethodDelete, ""), alice, http.StatusForbidden},
		{"message to alice's SSE session", func(id string) (int, string) {
			return postMessage(t, ts, bobToken, id, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
		}, aliceSSE, http.StatusForbidden},
		{"tools/list in a session never opened", streamable(http.MethodPost, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`), never, http.StatusNotFound},
		{"GET a session never opened", streamable(http.MethodGet, ""), never, http.StatusNotFound},
		{"message to an SSE session never opened", func(id string) (int, string) {
			return postMessage(t, ts, bobToken, id, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
		}, "0b7d5bf4-3c4c-4c55-9e0b-5c1ad8a0b1a2", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := tc.do(tc.session)
			if code != tc.want {
				t.Fatalf("status %d, want %d: %s", code, tc.want, body)
			}
			want := "another client's token"
			if tc.want == http.StatusNotFound {
				want = "start a new session"
			}
			if !strings.Contains(body, want) {
				t.Errorf("body %q does not say %q", body, want)
			}
		})
	}
	if n := backend.Calls(); n != 0 {
		t.Errorf("bob's tools/call in alice's session reached the backend (%d calls)", n)
	}
	if code, body := listTools(t, ts, aliceToken, alice); code != http.StatusOK || !strings.Contains(body, "execute_python") {
		t.Errorf("alice's own session after bob's attempts: %d %s", code, body)
	}
	if code, body := postMessage(t, ts, aliceToken, aliceSSE, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`); code != http.StatusAccepted {
		t.Errorf("alice's own SSE session: %d %s", code, body)
	}
	bob := initialize(t, ts, bobToken)
	if code, body := listTools(t, ts, bobToken, bob); code != http.StatusOK {
		t.Errorf("bob's own session: %d %s", code, body)
	}
}

// TestClosedSessionIsGone: a session its client DELETEs is not found
// afterwards, and mcp-go no longer holds it.
func TestClosedSessionIsGone(t *testing.T) {
	ts, transport, _ := serveTransport(t, newGateBackend(), HTTPOptions{})
	id := initialize(t, ts, aliceToken)
	if code, body := send(t, mcpRequest(t, ts, http.MethodDelete, aliceToken, id, legacyVersion, "")); code != http.StatusOK {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	if code, _ := listTools(t, ts, aliceToken, id); code != http.StatusNotFound {
		t.Errorf("tools/list after DELETE: %d, want 404", code)
	}
	if n := transport.sessions.count(); n != 0 {
		t.Errorf("%d sessions held after DELETE", n)
	}
}

// TestModernCancellationReachesOnlyItsSender: under protocol 2026-07-28
// (no sessions) bob's notifications/cancelled naming the id of alice's
// running call leaves it running; alice's own cancels it.
func TestModernCancellationReachesOnlyItsSender(t *testing.T) {
	const modern = "2026-07-28"
	backend := newGateBackend()
	ts, _, _ := serveTransport(t, backend, HTTPOptions{})
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"` + modern + `","io.modelcontextprotocol/clientCapabilities":{}}`
	callReq := mcpRequest(t, ts, http.MethodPost, aliceToken, "", modern,
		`{"jsonrpc":"2.0","id":41,"method":"tools/call","params":{"name":"execute_python","arguments":{"code":"print(1)"},`+meta+`}}`)
	callReq.Header.Set("Mcp-Method", "tools/call")
	callReq.Header.Set("Mcp-Name", "execute_python")
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		if resp, err := http.DefaultClient.Do(callReq); err == nil {
			resp.Body.Close()
		}
	}()
	call := backend.nextCall(t)

	cancel := func(token string) {
		t.Helper()
		code, body := send(t, mcpRequest(t, ts, http.MethodPost, token, "", modern,
			`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":41,"reason":"stop"}}`))
		if code != http.StatusAccepted {
			t.Fatalf("notifications/cancelled: %d %s", code, body)
		}
	}
	// The cancellation is handled before its 202 is written: once it is
	// answered, a call it reached is already cancelled.
	cancel(bobToken)
	if err := call.Err(); err != nil {
		t.Fatalf("bob's notifications/cancelled cancelled alice's call: %v", err)
	}
	cancel(aliceToken)
	if call.Err() == nil {
		t.Fatal("alice's notifications/cancelled did not cancel her call")
	}
	<-answered
}

// TestSessionStreamAndCallsTogether: while a session's GET stream is open,
// its owner still makes calls in it.
func TestSessionStreamAndCallsTogether(t *testing.T) {
	ts, _, _ := serveTransport(t, newGateBackend(), HTTPOptions{})
	id := initialize(t, ts, aliceToken)
	openStream(t, ts, aliceToken, id)
	if code, body := listTools(t, ts, aliceToken, id); code != http.StatusOK {
		t.Errorf("tools/list while the stream is open: %d %s", code, body)
	}
}

// TestSSESessionIDWithoutReservation: mcp-go asking for an HTTP+SSE
// session id outside the session guard gets an error naming this package,
// and no id.
func TestSSESessionIDWithoutReservation(t *testing.T) {
	s := newSessions(SessionLimits{IdleTimeout: time.Minute, MaxPerClient: 1}, nil, nil)
	id, err := s.sseSessionID(context.Background(), nil)
	if id != "" || err == nil || !strings.HasPrefix(err.Error(), "server: no session reservation") {
		t.Errorf("sseSessionID = %q, %v; want no id and an error starting \"server: no session reservation\"", id, err)
	}
	if s.count() != 0 {
		t.Errorf("%d sessions, want none", s.count())
	}
}
