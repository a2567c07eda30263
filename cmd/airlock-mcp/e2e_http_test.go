package main_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// bearerTransport adds an Authorization header to every request.
type bearerTransport struct{ token string }

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

// startHTTPServer starts the binary with args and waits until healthURL
// answers 200 through client. The process is killed when the test ends.
func startHTTPServer(t testing.TB, client *http.Client, healthURL string, args ...string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(airlockBinary(t), args...)
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !waitFor(30*time.Second, func() bool {
		resp, err := client.Get(healthURL)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	}) {
		t.Fatalf("the server never became healthy at %s:\n%s", healthURL, stderr.String())
	}
	return cmd, stderr
}

func freeLoopbackAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestHTTPServerEndToEnd runs `airlock-mcp http` with a tokens file on a
// loopback port, drives it with the official MCP Go SDK client over
// streamable HTTP, and stops it with SIGTERM.
func TestHTTPServerEndToEnd(t *testing.T) {
	const token = "e2e-token-0123456789abcdef"
	tokens := filepath.Join(t.TempDir(), "tokens")
	os.WriteFile(tokens, []byte("e2e "+token+"\n"), 0o600)
	addr := freeLoopbackAddr(t)
	cmd, stderr := startHTTPServer(t, http.DefaultClient, "http://"+addr+"/healthz", "http", "--listen", addr, "--auth-tokens", tokens)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := mcp.NewClient(&mcp.Implementation{Name: "http-e2e", Version: "1"}, nil)
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{
		Endpoint: "http://" + addr + "/mcp", HTTPClient: &http.Client{Transport: bearerTransport{token}},
	}, nil)
	if err != nil {
		t.Fatalf("connect: %v\n%s", err, stderr.String())
	}
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "execute_python", Arguments: map[string]any{"code": "6*7"}})
	if err != nil || res.IsError || !strings.Contains(contentText(res), "42") {
		t.Fatalf("tools/call over HTTP: %+v %v", res, err)
	}
	session.Close()

	resp, err := http.Post("http://"+addr+"/mcp", "application/json", strings.NewReader("{}"))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("request without a token: %v %v", resp, err)
	}
	if strings.Contains(stderr.String(), token) {
		t.Error("the token appears in the server's log")
	}
	if !strings.Contains(stderr.String(), `"client":"e2e"`) {
		t.Errorf("the call's log line does not name the client:\n%s", stderr.String())
	}

	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the server did not exit after SIGTERM")
	}
}

func TestHTTPRefusesUnauthenticatedNonLoopback(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"all interfaces without tokens", []string{"http", "--listen", "0.0.0.0:0"}, "refusing to serve on 0.0.0.0:0 without authentication"},
		{"missing tokens file", []string{"http", "--auth-tokens", "/nonexistent/tokens"}, "/nonexistent/tokens"},
		{"half a TLS pair", []string{"http", "--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(airlockBinary(t), tc.args...)
			out, _ := cmd.CombinedOutput()
			if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), tc.want) {
				t.Errorf("exit %d, output:\n%s\nwant it to contain %q", cmd.ProcessState.ExitCode(), out, tc.want)
			}
		})
	}
}
