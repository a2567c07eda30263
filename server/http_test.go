package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
)

const (
	aliceToken = "alice-0123456789abcdef"
	bobToken   = "bob-0123456789abcdef00"
)

func writeTokens(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// bearer adds an Authorization header to every request.
type bearer struct {
	token string
	base  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.RoundTrip(r)
}

// newHTTPTestServer serves the default policy with a fake backend over
// both HTTP transports, requiring tokens.
func newHTTPTestServer(t *testing.T) (*httptest.Server, *Tokens) {
	t.Helper()
	tokens, err := LoadTokens(writeTokens(t, "# clients\nalice "+aliceToken+"\n\nbob "+bobToken+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	transport := NewHTTPTransport(newServer(t, &sandboxtest.Backend{Result: okResult()}, nil), HTTPOptions{Tokens: tokens})
	ts := httptest.NewServer(transport)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		transport.Shutdown(ctx)
		ts.Close()
	})
	return ts, tokens
}

// TestHTTPTransportsWithTheOfficialClient: the official Go SDK client
// lists and calls the tool over both transports, in both protocol eras
// (sessions bound to the token, or none), and closes its session.
func TestHTTPTransportsWithTheOfficialClient(t *testing.T) {
	ts, _ := newHTTPTestServer(t)
	client := &http.Client{Transport: bearer{aliceToken, http.DefaultTransport}}
	tests := []struct {
		name      string
		transport sdk.Transport
		protocol  string // "" for the SDK's latest
	}{
		{"streamable HTTP", &sdk.StreamableClientTransport{Endpoint: ts.URL + StreamablePath, HTTPClient: client}, ""},
		{"streamable HTTP, protocol 2025-11-25", &sdk.StreamableClientTransport{Endpoint: ts.URL + StreamablePath, HTTPClient: client}, "2025-11-25"},
		{"HTTP+SSE", &sdk.SSEClientTransport{Endpoint: ts.URL + SSEPath, HTTPClient: client}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c := sdk.NewClient(&sdk.Implementation{Name: "http-test", Version: "1"}, nil)
			session, err := c.Connect(ctx, tc.transport, &sdk.ClientSessionOptions{ProtocolVersion: tc.protocol})
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer session.Close()
			tools, err := session.ListTools(ctx, nil)
			if err != nil || len(tools.Tools) != 1 || tools.Tools[0].Name != "execute_python" {
				t.Fatalf("tools/list: %+v %v", tools, err)
			}
			res, err := session.CallTool(ctx, &sdk.CallToolParams{Name: "execute_python", Arguments: map[string]any{"code": "print(1)"}})
			if err != nil || res.IsError {
				t.Fatalf("tools/call: %+v %v", res, err)
			}
			raw, _ := json.Marshal(res.StructuredContent)
			if !strings.Contains(string(raw), `"status":"ok"`) {
				t.Errorf("structured content %s", raw)
			}
			if err := session.Close(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
}

func TestHTTPAuthentication(t *testing.T) {
	ts, _ := newHTTPTestServer(t)
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	tests := []struct {
		name, path, auth string
		want             int
	}{
		{"no token", StreamablePath, "", http.StatusUnauthorized},
		{"wrong token", StreamablePath, "Bearer not-a-real-token-at-all", http.StatusUnauthorized},
		{"a token's prefix", StreamablePath, "Bearer " + aliceToken[:10], http.StatusUnauthorized},
		{"not bearer", StreamablePath, "Basic " + aliceToken, http.StatusUnauthorized},
		{"SSE without a token", SSEPath, "", http.StatusUnauthorized},
		{"message endpoint without a token", MessagePath, "", http.StatusUnauthorized},
		{"right token", StreamablePath, "Bearer " + bobToken, http.StatusOK},
		{"health needs no token", HealthPath, "", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method, body := http.MethodPost, strings.NewReader(initialize)
			if tc.path == HealthPath || tc.path == SSEPath {
				method, body = http.MethodGet, strings.NewReader("")
			}
			req, _ := http.NewRequest(method, ts.URL+tc.path, body)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Accept", "application/json, text/event-stream")
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Errorf("401 without a Bearer challenge: %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestTokensFile(t *testing.T) {
	tests := []struct {
		name, content, wantErr string
	}{
		{"good", "a " + aliceToken + "\n# comment\nb " + bobToken + "\n", ""},
		{"three fields", "a b c\n", ":1: want \"NAME TOKEN\", got 3 fields"},
		{"duplicate name", "a " + aliceToken + "\na " + bobToken + "\n", `:2: client name "a" appears twice`},
		{"short token", "a short\n", `:1: the token of "a" is shorter than 16 characters`},
		{"empty", "# nothing\n", "no tokens"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tokens, err := LoadTokens(writeTokens(t, tc.content))
			if tc.wantErr == "" {
				if err != nil || tokens.Len() != 2 {
					t.Fatalf("LoadTokens: %v (%d tokens)", err, tokens.Len())
				}
				if tokens.identify(aliceToken) != "a" || tokens.identify(bobToken) != "b" || tokens.identify("nope-nope-nope-nope") != "" {
					t.Error("tokens do not identify their clients")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestTokensReload(t *testing.T) {
	path := writeTokens(t, "alice "+aliceToken+"\n")
	tokens, err := LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, []byte("bob "+bobToken+"\n"), 0o600)
	if err := tokens.Reload(); err != nil {
		t.Fatal(err)
	}
	if tokens.identify(aliceToken) != "" || tokens.identify(bobToken) != "bob" {
		t.Error("reload did not replace the tokens")
	}
	os.WriteFile(path, []byte("broken line with four\n"), 0o600)
	if err := tokens.Reload(); err == nil {
		t.Error("a broken file reloaded")
	}
	if tokens.identify(bobToken) != "bob" {
		t.Error("a failed reload dropped the tokens in force")
	}
}

func TestIsLoopback(t *testing.T) {
	tests := map[string]bool{
		"127.0.0.1:8080": true, "localhost:8080": true, "[::1]:8080": true, "127.1.2.3:1": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "192.168.1.5:8080": false, "example.com:80": false,
	}
	for addr, want := range tests {
		got, err := IsLoopback(addr)
		if err != nil || got != want {
			t.Errorf("IsLoopback(%q) = %v, %v; want %v", addr, got, err, want)
		}
	}
	if _, err := IsLoopback("no-port"); err == nil {
		t.Error("an address without a port passed")
	}
}
