package server

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/filestore"
	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sandbox/sandboxtest"
	"github.com/airlock-mcp/airlock-mcp/server/audit"
	"github.com/airlock-mcp/airlock-mcp/server/metrics"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// BenchmarkReturnedPNG measures what returning one 100 KB PNG adds to a
// call in the Airlock layer: the whole call pipeline as in
// BenchmarkAirlockLayer, plus encoding the result as JSON as a transport
// does, with the backend returning the PNG (sized, typed, hashed, kept and
// sent inline as image content) or nothing.
func BenchmarkReturnedPNG(b *testing.B) {
	png := append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{0x5a}, 100<<10)...)
	for _, bc := range []struct {
		name  string
		files []sandbox.OutFile
	}{
		{"without", nil},
		{"100 KB PNG", []sandbox.OutFile{{Path: "plot.png", Size: int64(len(png)), Data: png}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := policy.Default()
			store, err := filestore.New(filestore.Options{TTL: time.Hour, MaxBytes: 8 << 20})
			if err != nil {
				b.Fatal(err)
			}
			backend := &sandboxtest.Backend{Result: sandbox.Result{Status: sandbox.StatusOK, Backend: "fake", Files: bc.files}}
			all, err := tools.All(p, backend, tools.Sessions{}, store, zap.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			w, err := audit.Open(filepath.Join(b.TempDir(), "audit.jsonl"), zap.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			pl := &pipeline{log: zap.NewNop(), limiter: newRateLimiter(1e9, 1e6), audit: w, metrics: metrics.New("bench"),
				policy: p, policySHA256: p.SHA256(), backend: "fake", anonymous: "bench"}
			handler := pl.handler(all[0])
			var req mcp.CallToolRequest
			req.Params.Name = tools.ExecutePythonName
			req.Params.RawArguments = json.RawMessage(`{"code":"print(1)"}`)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				res, err := handler(ctx, req)
				if err != nil || res.IsError || len(res.Content) != 1+len(bc.files) {
					b.Fatalf("call failed: %v %+v", err, res)
				}
				if _, err := json.Marshal(res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
