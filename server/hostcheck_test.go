package server

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
)

// TestHostCheck: on a server listening on loopback, /metrics, like the MCP
// endpoints, answers only requests whose Host is a loopback name (the DNS
// rebinding defence); the health check answers any.
func TestHostCheck(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "airlock_build_info 1") })
	ts, _, _ := serveTransport(t, &sandboxtest.Backend{Result: okResult()}, HTTPOptions{Metrics: metrics})
	port := ts.URL[strings.LastIndex(ts.URL, ":")+1:]
	tests := []struct {
		path, host string
		want       int
	}{
		{MetricsPath, "evil.example", http.StatusForbidden},
		{MetricsPath, "evil.example:" + port, http.StatusForbidden},
		{MetricsPath, "127.0.0.1.nip.io:" + port, http.StatusForbidden},
		{MetricsPath, "localhost:" + port, http.StatusOK},
		{MetricsPath, "LOCALHOST", http.StatusOK},
		{MetricsPath, "127.0.0.1:" + port, http.StatusOK},
		{MetricsPath, "[::1]:" + port, http.StatusOK},
		{SSEPath, "evil.example", http.StatusForbidden},
		{HealthPath, "evil.example", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.path+" Host "+tc.host, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, ts.URL+tc.path, nil)
			req.Host = tc.host
			req.Header.Set("Authorization", "Bearer "+aliceToken)
			code, body := send(t, req)
			if code != tc.want {
				t.Fatalf("status %d, want %d: %s", code, tc.want, body)
			}
			if code == http.StatusForbidden && !strings.Contains(body, "not a loopback name") {
				t.Errorf("403 without the reason: %q", body)
			}
		})
	}
}
