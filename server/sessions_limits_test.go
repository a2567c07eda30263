package server

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
)

// heldByMCPGo reports whether mcp-go still holds session id.
func heldByMCPGo(s *mcpserver.MCPServer, id string) bool {
	err := s.SendNotificationToSpecificClient(id, "notifications/message", map[string]any{"level": "info", "data": "x"})
	return !errors.Is(err, mcpserver.ErrSessionNotFound)
}

// TestIdleSessionsExpire: a session with nothing open for the idle timeout
// ends — it is not found any more and mcp-go no longer holds it — while a
// session with its stream open, or used within the timeout, stays.
func TestIdleSessionsExpire(t *testing.T) {
	const idle = 10 * time.Minute
	clock := newFakeClock()
	ts, transport, mcp := serveTransport(t, &sandboxtest.Backend{Result: okResult()}, HTTPOptions{Sessions: SessionLimits{IdleTimeout: idle}, now: clock.Now})
	abandoned := initialize(t, ts, aliceToken)
	streaming := initialize(t, ts, aliceToken)
	openStream(t, ts, aliceToken, streaming)
	used := initialize(t, ts, bobToken)

	clock.Advance(idle - time.Second)
	if code, _ := listTools(t, ts, bobToken, used); code != http.StatusOK {
		t.Fatalf("tools/list within the idle timeout: %d", code)
	}
	transport.sessions.sweep()
	if code, _ := listTools(t, ts, aliceToken, abandoned); code != http.StatusOK {
		t.Fatalf("a session idle for less than the timeout ended: %d", code)
	}
	clock.Advance(idle)
	if code, _ := listTools(t, ts, bobToken, used); code != http.StatusOK {
		t.Fatalf("tools/list: %d", code)
	}
	clock.Advance(time.Second)
	transport.sessions.sweep()

	code, body := listTools(t, ts, aliceToken, abandoned)
	if code != http.StatusNotFound || !strings.Contains(body, "idle for 10m0s") {
		t.Errorf("the abandoned session after the idle timeout: %d %s", code, short(body))
	}
	if heldByMCPGo(mcp, abandoned) {
		t.Error("mcp-go still holds the expired session")
	}
	for name, id := range map[string]string{"with its stream open": streaming, "used within the timeout": used} {
		token := aliceToken
		if id == used {
			token = bobToken
		}
		if code, body := listTools(t, ts, token, id); code != http.StatusOK {
			t.Errorf("the session %s ended: %d %s", name, code, body)
		}
	}
}

// TestSessionsPerClientCap: a client at its cap that opens one more session
// ends its least recently used idle one (mcp-go lets it go too); when every
// one of its sessions has a request or stream open, the new one is refused
// with a sentence naming the cap; other clients are not affected; however
// many sessions a client abandons, the server holds at most the cap.
func TestSessionsPerClientCap(t *testing.T) {
	clock := newFakeClock()
	ts, transport, mcp := serveTransport(t, &sandboxtest.Backend{Result: okResult()}, HTTPOptions{Sessions: SessionLimits{MaxPerClient: 2}, now: clock.Now})
	first := initialize(t, ts, aliceToken)
	clock.Advance(time.Second)
	second := initialize(t, ts, aliceToken)
	clock.Advance(time.Second)
	if code, _ := listTools(t, ts, aliceToken, first); code != http.StatusOK { // second is now the least recently used
		t.Fatalf("tools/list: %d", code)
	}
	clock.Advance(time.Second)
	third := initialize(t, ts, aliceToken)

	if code, _ := listTools(t, ts, aliceToken, second); code != http.StatusNotFound {
		t.Errorf("the least recently used session over the cap: %d, want 404", code)
	}
	if heldByMCPGo(mcp, second) {
		t.Error("mcp-go still holds the replaced session")
	}
	for _, id := range []string{first, third} {
		if code, _ := listTools(t, ts, aliceToken, id); code != http.StatusOK {
			t.Errorf("a recent session ended: %d", code)
		}
	}

	openStream(t, ts, aliceToken, first)
	openStream(t, ts, aliceToken, third)
	code, _, body := tryInitialize(t, ts, aliceToken)
	if code != http.StatusTooManyRequests || !strings.Contains(body, `client "alice" already holds 2 MCP sessions`) {
		t.Errorf("initialize with every session in use: %d %s", code, short(body))
	}
	if code, body := send(t, func() *http.Request {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+SSEPath, nil)
		req.Header.Set("Authorization", "Bearer "+aliceToken)
		return req
	}()); code != http.StatusTooManyRequests {
		t.Errorf("SSE stream with every session in use: %d %s", code, body)
	}
	initialize(t, ts, bobToken)

	var abandoned []string
	for range 50 {
		abandoned = append(abandoned, initialize(t, ts, bobToken))
		clock.Advance(time.Second)
	}
	held := 0
	for _, id := range abandoned {
		if heldByMCPGo(mcp, id) {
			held++
		}
	}
	if held != 2 || transport.sessions.count() != 4 {
		t.Errorf("after 50 abandoned sessions of one client: mcp-go holds %d of them, the registry %d sessions in all; want 2 and 4", held, transport.sessions.count())
	}
}
