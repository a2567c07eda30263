// Package tools defines the MCP tools airlock-mcp offers: each tool's
// definition (name, description, input and output schemas, annotations), its
// compiled schemas, and its handler. Constructors receive their dependencies,
// so handlers are tested with fakes and the server only wires them up.
package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/filestore"
	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// Tool is one MCP tool: its definition, its compiled schemas, its handler.
type Tool struct {
	// Definition is what tools/list shows the client.
	Definition mcp.Tool
	// Input is the compiled input schema, the same document as
	// Definition.RawInputSchema. The server validates each call's Args
	// against it before Handler runs.
	Input *jsonschema.Schema
	// Output is the compiled output schema, the same document as
	// Definition.RawOutputSchema; every non-error result's structured
	// content conforms to it.
	Output *jsonschema.Schema
	// Handler runs one call whose Args passed Input, and records in call
	// what became of it (the code, the policy's decision, the sandbox's
	// result, how it ended). Everything the model can act on is an isError
	// result: it returns no Go error.
	Handler func(ctx context.Context, call *Call) *mcp.CallToolResult
	// LogArgs describes a call's arguments for the server's log without
	// revealing them (sizes and hashes, never the code itself), reusing
	// what the call's record already holds (the code's hash). The server
	// calls it once the call is over, for every call whose arguments
	// decoded (ArgsErr nil), valid or not; it must not change call.
	LogArgs func(call *Call) []zap.Field
}

// All builds every tool airlock-mcp offers, in the order tools/list shows
// them: execute_python, and end_session and list_sessions when s offers
// sessions. files keeps the files execute_python returns (see
// ExecutePython).
func All(p *policy.Policy, b sandbox.Backend, s Sessions, files *filestore.Store, log *zap.Logger) ([]Tool, error) {
	ep, err := ExecutePython(p, b, s, files, log)
	if err != nil {
		return nil, err
	}
	if s.Registry == nil {
		return []Tool{ep}, nil
	}
	end, err := EndSession(s.Registry, log)
	if err != nil {
		return nil, err
	}
	list, err := ListSessions(s.Registry, log)
	if err != nil {
		return nil, err
	}
	return []Tool{ep, end, list}, nil
}
