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
// validating the arguments against the compiled input schema, decoding
// them and the policy decision, for one execute_python call.
func BenchmarkValidateAndDecide(b *testing.B) {
	p := policy.Default()
	all, err := tools.All(p, noopBackend{}, zap.NewNop())
	if err != nil {
		b.Fatalf("tools.All: %v", err)
	}
	var req mcp.CallToolRequest
	req.Params.Name = tools.ExecutePythonName
	req.Params.RawArguments = json.RawMessage(`{"code":"print(1)","timeout_s":10}`)
	b.ReportAllocs()
	for b.Loop() {
		if msg := checkArguments(req, all[0].Input); msg != "" {
			b.Fatal(msg)
		}
		var args struct {
			Code     string   `json:"code"`
			TimeoutS *float64 `json:"timeout_s"`
		}
		if err := json.Unmarshal(req.Params.RawArguments, &args); err != nil {
			b.Fatal(err)
		}
		if _, d := p.DecideExecute(args.Code, args.TimeoutS); !d.Allowed {
			b.Fatal(d.Reason)
		}
	}
}

// BenchmarkAirlockLayer measures what airlock-mcp adds to one typical
// execute_python call, without JSON-RPC or transport: every middleware
// (audit record and metrics, logging, rate limit, validation; composed per
// call, as mcp-go does), argument decoding, the policy decision, the static
// network pre-check and building the result, with a no-op backend, a
// disabled logger and a real audit log in a temporary file.
func BenchmarkAirlockLayer(b *testing.B) {
	for _, bc := range []struct {
		name, code string
	}{
		{"print", "print(1)"},
		{"200-line script", strings.Repeat("import json, math\nrows = [{'x': i, 'y': math.sqrt(i)} for i in range(100)]\nprint(json.dumps(rows[:3]))  # a comment with 'quotes'\n", 66)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := policy.Default()
			all, err := tools.All(p, noopBackend{}, zap.NewNop())
			if err != nil {
				b.Fatalf("tools.All: %v", err)
			}
			w, err := audit.Open(filepath.Join(b.TempDir(), "audit.jsonl"), zap.NewNop())
			if err != nil {
				b.Fatal(err)
			}
			defer w.Close()
			rec := &recorder{audit: w, metrics: metrics.New("bench"), policy: p, policySHA256: p.SHA256(), backend: "noop", anonymous: "bench"}
			logMW, rateMW, validateMW := logCalls(zap.NewNop(), all), limitRate(newRateLimiter(1e9, 1e6), "bench"), validateArguments(all)
			handler := all[0].Handler
			args, _ := json.Marshal(map[string]any{"code": bc.code, "timeout_s": 10})
			var req mcp.CallToolRequest
			req.Params.Name = tools.ExecutePythonName
			req.Params.RawArguments = json.RawMessage(args)
			ctx := context.Background()

			b.ReportAllocs()
			for b.Loop() {
				res, err := rec.recordCalls(logMW(rateMW(validateMW(handler))))(ctx, req)
				if err != nil || res.IsError {
					b.Fatalf("call failed: %v %+v", err, res)
				}
			}
		})
	}
}
