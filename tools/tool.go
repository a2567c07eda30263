// Package tools defines the MCP tools airlock-mcp offers: each tool's
// definition (name, description, input and output schemas, annotations), its
// compiled schemas, and its handler. Constructors receive their dependencies,
// so handlers are tested with fakes and the server only wires them up.
package tools

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// Tool is one MCP tool: its definition, its compiled schemas, its handler.
type Tool struct {
	// Definition is what tools/list shows the client.
	Definition mcp.Tool
	// Input is the compiled input schema, the same document as
	// Definition.RawInputSchema. The server validates arguments against it
	// before Handler runs.
	Input *jsonschema.Schema
	// Output is the compiled output schema, the same document as
	// Definition.RawOutputSchema; every non-error result's structured
	// content conforms to it.
	Output *jsonschema.Schema
	// Handler runs the tool. It assumes arguments already passed Input.
	Handler mcpserver.ToolHandlerFunc
	// LogArgs describes a call's raw arguments for the server's log without
	// revealing them (sizes and hashes, never the code itself). o is what
	// the call's layers recorded, so that what the handler already
	// computed (the code's hash) is not computed again.
	LogArgs func(args []byte, o CallOutcome) []zap.Field
}

// All builds every tool airlock-mcp offers, in the order tools/list shows them.
func All(p *policy.Policy, b sandbox.Backend, log *zap.Logger, opts ...Option) ([]Tool, error) {
	ep, err := ExecutePython(p, b, log, opts...)
	if err != nil {
		return nil, err
	}
	return []Tool{ep}, nil
}

// RawArguments returns the JSON of a call's arguments exactly as they came
// over the wire; arguments given as a Go value are marshalled. Missing or
// null arguments are the empty object "{}".
func RawArguments(req mcp.CallToolRequest) ([]byte, error) {
	var raw []byte
	switch a := req.GetRawArguments().(type) {
	case nil:
		return []byte("{}"), nil
	case json.RawMessage:
		raw = a
	case []byte:
		raw = a
	default:
		b, err := json.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("tools: marshal arguments of %s: %w", req.Params.Name, err)
		}
		raw = b
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return []byte("{}"), nil
	}
	return raw, nil
}
