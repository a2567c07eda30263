package server

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// gateBackend hands every call's context to the test (started) and blocks
// until the call is cancelled or the test releases it.
type gateBackend struct {
	started chan context.Context
	release chan struct{}
}

func newGateBackend() *gateBackend {
	return &gateBackend{started: make(chan context.Context, 16), release: make(chan struct{})}
}

func (g *gateBackend) Name() string { return "gate" }

func (g *gateBackend) Execute(ctx context.Context, _ sandbox.Request) (sandbox.Result, error) {
	g.started <- ctx
	select {
	case <-ctx.Done():
		return sandbox.Result{}, ctx.Err()
	case <-g.release:
		return okResult(), nil
	}
}

func (g *gateBackend) Close() error { return nil }

// nextCall waits for the next call to reach the backend.
func (g *gateBackend) nextCall(t *testing.T) context.Context {
	t.Helper()
	select {
	case ctx := <-g.started:
		return ctx
	case <-time.After(30 * time.Second):
		t.Fatal("no call reached the backend")
		return nil
	}
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// serveTransport serves a transport for the tokens of alice and bob over
// a loopback httptest server, with backend b; it returns the MCP server
// too.
func serveTransport(t *testing.T, b sandbox.Backend, opts HTTPOptions) (*httptest.Server, *HTTPTransport, *mcpserver.MCPServer) {
	t.Helper()
	tokens, err := LoadTokens(writeTokens(t, "alice "+aliceToken+"\nbob "+bobToken+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	opts.Tokens = tokens
	s := newServer(t, b, nil)
	transport := NewHTTPTransport(s, opts)
	ts := httptest.NewServer(transport)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		transport.Shutdown(ctx)
		ts.CloseClientConnections()
		ts.Close()
	})
	return ts, transport, s
}

// mcpRequest is a raw request to the streamable transport, as a client of
// protocol version (2025-06-18, or 2026-07-28) sends it.
func mcpRequest(t *testing.T, ts *httptest.Server, method, token, session, version, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+StreamablePath, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	if version != "" {
		req.Header.Set(mcp.HeaderProtocolVersion, version)
	}
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	return req
}

// send does req and returns the status and the body read whole, or ""
// for an event stream, which is closed unread.
func send(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	if req.Method == http.MethodGet && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return resp.StatusCode, ""
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const legacyVersion = "2025-06-18"

// tryInitialize sends initialize (protocol 2025-06-18) with token and
// returns the status, the session id and the body.
func tryInitialize(t *testing.T, ts *httptest.Server, token string) (int, string, string) {
	t.Helper()
	req := mcpRequest(t, ts, http.MethodPost, token, "", "",
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"`+legacyVersion+`","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Mcp-Session-Id"), string(b)
}

// openStream opens the GET stream of session with token; it stays open
// until the test ends.
func openStream(t *testing.T, ts *httptest.Server, token, session string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := http.DefaultClient.Do(mcpRequest(t, ts, http.MethodGet, token, session, legacyVersion, "").WithContext(ctx))
	if err != nil || resp.StatusCode != http.StatusOK {
		cancel()
		t.Fatalf("GET stream of %s: %v %v", session, resp, err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
}

// initialize opens a session of protocol 2025-06-18 with token and returns
// its id.
func initialize(t *testing.T, ts *httptest.Server, token string) string {
	t.Helper()
	code, id, body := tryInitialize(t, ts, token)
	if code != http.StatusOK || id == "" {
		t.Fatalf("initialize: %d, session %q: %s", code, id, body)
	}
	if code, body := send(t, mcpRequest(t, ts, http.MethodPost, token, id, legacyVersion, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)); code != http.StatusAccepted {
		t.Fatalf("notifications/initialized: %d %s", code, body)
	}
	return id
}

// listTools sends tools/list in session and returns the HTTP status.
func listTools(t *testing.T, ts *httptest.Server, token, session string) (int, string) {
	t.Helper()
	return send(t, mcpRequest(t, ts, http.MethodPost, token, session, legacyVersion, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`))
}

// openSSE opens an HTTP+SSE stream with token and returns the session id
// of its endpoint event; the stream closes when the test ends.
func openSSE(t *testing.T, ts *httptest.Server, token string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+SSEPath, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", SSEPath, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if _, endpoint, ok := strings.Cut(sc.Text(), "data: "); ok {
			_, id, _ := strings.Cut(strings.TrimSpace(endpoint), "sessionId=")
			return id
		}
	}
	t.Fatalf("the SSE stream ended before its endpoint event: %v", sc.Err())
	return ""
}

// postMessage sends body to the HTTP+SSE session id with token.
func postMessage(t *testing.T, ts *httptest.Server, token, id, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+MessagePath+"?sessionId="+id, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	return send(t, req)
}

// short cuts s for a failure message.
func short(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}
