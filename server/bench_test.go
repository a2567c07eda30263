package server

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// noopBackend returns a fixed ok Result at once.
type noopBackend struct{}

func (noopBackend) Name() string { return "noop" }
func (noopBackend) Execute(context.Context, sandbox.Request) (sandbox.Result, error) {
	return sandbox.Result{Status: sandbox.StatusOK, Backend: "noop"}, nil
}
func (noopBackend) Close() error { return nil }

// BenchmarkAirlockLayer measures what airlock-mcp adds to one typical
// execute_python call, without JSON-RPC or transport: the logging and
// validation middlewares (composed per call, as mcp-go does), argument
// decoding, the policy decision and building the result, with a no-op
// backend and a disabled logger.
func BenchmarkAirlockLayer(b *testing.B) {
	all, err := tools.All(policy.Default(), noopBackend{}, zap.NewNop())
	if err != nil {
		b.Fatalf("tools.All: %v", err)
	}
	logMW, validateMW := logCalls(zap.NewNop(), all), validateArguments(all)
	handler := all[0].Handler
	var req mcp.CallToolRequest
	req.Params.Name = tools.ExecutePythonName
	req.Params.RawArguments = json.RawMessage(`{"code":"print(1)","timeout_s":10}`)
	ctx := context.Background()

	b.ReportAllocs()
	for b.Loop() {
		res, err := logMW(validateMW(handler))(ctx, req)
		if err != nil || res.IsError {
			b.Fatalf("call failed: %v %+v", err, res)
		}
	}
}
