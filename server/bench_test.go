package server

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/server/audit"
	"github.com/airlock-mcp/airlock-mcp/server/metrics"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// noopBackend returns a fixed ok Result at once.
type noopBackend struct{}

func (noopBackend) Name() string { return "noop" }
func (noopBackend) Execute(context.Context, sandbox.Request) (sandbox.Result, error) {
	return sandbox.Result{Status: sandbox.StatusOK, Backend: "noop"}, nil
}
func (noopBackend) Close() error { return nil }

// BenchmarkValidateAndDecide measures the Airlock layer's decision alone:
// decoding the arguments (once, into the call's record), validating them
// against the compiled input schema, reading them as the handler does and
// the policy decision, for one execute_python call.
func BenchmarkValidateAndDecide(b *testing.B) {
	p := policy.Default()
	all, err := tools.All(p, noopBackend{}, tools.Sessions{}, nil, zap.NewNop())
	if err != nil {
		b.Fatalf("tools.All: %v", err)
	}
	var req mcp.CallToolRequest
	req.Params.Name = tools.ExecutePythonName
	req.Params.RawArguments = json.RawMessage(`{"code":"print(1)","timeout_s":10}`)
	b.ReportAllocs()
	for b.Loop() {
		call := tools.NewCall(req)
		if msg := checkArguments(call, all[0].Input); msg != "" {
			b.Fatal(msg)
		}
		args := call.Args.(map[string]any)
		timeoutS, err := args["timeout_s"].(json.Number).Float64()
		if err != nil {
			b.Fatal(err)
		}
		if _, d := p.DecideExecute(args["code"].(string), &timeoutS); !d.Allowed {
			b.Fatal(d.Reason)
		}
	}
}

// BenchmarkAirlockLayer measures what airlock-mcp adds to one typical
// execute_python call, without JSON-RPC or transport: the whole call
// pipeline (the call's record and argument decoding, rate limit,
// validation, the policy decision, the static network pre-check, building
// the result, the log line, metrics and audit record), with a no-op
// backend, a disabled logger and a real audit log in a temporary file.
func BenchmarkAirlockLayer(b *testing.B) {
	for _, bc := range []struct {
		name, code string
	}{
		{"print", "print(1)"},
		{"200-line script", strings.Repeat("import json, math\nrows = [{'x': i, 'y': math.sqrt(i)} for i in range(100)]\nprint(json.dumps(rows[:3]))  # a comment with 'quotes'\n", 66)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := policy.Default()
			all, err := tools.All(p, noopBackend{}, tools.Sessions{}, nil, zap.NewNop())
			if err != nil {
				b.Fatalf("tools.All: %v", err)
			}
			w, err := audit.Open(filepath.Join(b.TempDir(), "audit.jsonl"), zap.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			pl := &pipeline{log: zap.NewNop(), limiter: newRateLimiter(1e9, 1e6), audit: w, metrics: metrics.New("bench"),
				policy: p, policySHA256: p.SHA256(), backend: "noop", anonymous: "bench"}
			handler := pl.handler(all[0])
			args, _ := json.Marshal(map[string]any{"code": bc.code, "timeout_s": 10})
			var req mcp.CallToolRequest
			req.Params.Name = tools.ExecutePythonName
			req.Params.RawArguments = json.RawMessage(args)
			ctx := context.Background()

			b.ReportAllocs()
			for b.Loop() {
				res, err := handler(ctx, req)
				if err != nil || res.IsError {
					b.Fatalf("call failed: %v %+v", err, res)
				}
			}
		})
	}
}
