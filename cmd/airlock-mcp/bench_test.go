package main_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// benchPolicy lets 8 calls run at once, with warm sandboxes, no rate limit.
const benchPolicy = "limits:\n  max_concurrent: 8\n  calls_per_minute: 0\nbackend:\n  local:\n    warm_sandboxes: 4\n"

// BenchmarkTransports measures execute_python of print(1) end to end
// against the built binary on the local backend: over stdio and over
// streamable HTTP (with a bearer token), one call at a time and 8 at once.
// Each iteration is one call; it reports calls/s and the median and p99
// latency of a call as the client sees it. Run with, e.g.,
//
//	go test ./cmd/airlock-mcp -run '^$' -bench Transports -benchtime 400x
func BenchmarkTransports(b *testing.B) {
	dir := b.TempDir()
	policyFile := filepath.Join(dir, "policy.yaml")
	os.WriteFile(policyFile, []byte(benchPolicy), 0o600)

	for _, transport := range []string{"stdio", "http"} {
		for _, conc := range []int{1, 8} {
			b.Run(fmt.Sprintf("%s/c%d", transport, conc), func(b *testing.B) {
				sessions := benchSessions(b, transport, policyFile, conc)
				ctx := context.Background()
				// Warm up: the first calls build sandboxes and connections.
				for _, s := range sessions {
					benchCall(b, ctx, s)
				}
				lat := make([]time.Duration, b.N)
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				start := time.Now()
				for w := range conc {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							i := next.Add(1) - 1
							if i >= int64(b.N) {
								return
							}
							t0 := time.Now()
							benchCall(b, ctx, sessions[w%len(sessions)])
							lat[i] = time.Since(t0)
						}
					}()
				}
				wg.Wait()
				elapsed := time.Since(start)
				b.StopTimer()
				slices.Sort(lat)
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "p99-ms")
			})
		}
	}
}

func benchCall(b *testing.B, ctx context.Context, s *mcp.ClientSession) {
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "execute_python", Arguments: map[string]any{"code": "print(1)"}})
	if err != nil || res.IsError {
		b.Fatalf("call: %+v %v", res, err)
	}
}

// benchSessions starts the binary on transport and returns conc client
// sessions over HTTP (one per simulated client) or one over stdio (stdio
// has one client; its calls run concurrently on the one session).
func benchSessions(b *testing.B, transport, policyFile string, conc int) []*mcp.ClientSession {
	b.Helper()
	ctx := context.Background()
	client := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil)
	if transport == "stdio" {
		cmd := exec.Command(airlockBinary(b), "--policy", policyFile, "--log-level", "error")
		s, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return []*mcp.ClientSession{s}
	}
	const token = "bench-token-0123456789abcdef"
	tokens := filepath.Join(b.TempDir(), "tokens")
	os.WriteFile(tokens, []byte("bench "+token+"\n"), 0o600)
	addr := freeLoopbackAddr(b)
	startHTTPServer(b, http.DefaultClient, "http://"+addr+"/healthz", "http", "--listen", addr, "--auth-tokens", tokens, "--policy", policyFile, "--log-level", "error")
	var out []*mcp.ClientSession
	for range conc {
		s, err := client.Connect(ctx, &mcp.StreamableClientTransport{
			Endpoint: "http://" + addr + "/mcp", HTTPClient: &http.Client{Transport: bearerTransport{token}},
		}, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		out = append(out, s)
	}
	return out
}
