package server

import (
	"bytes"
	"context"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/airlock-mcp/airlock-mcp/schemas"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// validateArguments returns the middleware that checks a call's arguments,
// exactly as they came over the wire, against its tool's compiled input
// schema. A call that fails gets an isError result listing every violation,
// one per line, and never reaches the handler. Calls to tools not in ts pass
// through; finding unknown tools is mcp-go's business.
func validateArguments(ts []tools.Tool) mcpserver.ToolHandlerMiddleware {
	inputs := make(map[string]*jsonschema.Schema, len(ts))
	for _, t := range ts {
		inputs[t.Definition.Name] = t.Input
	}
	return func(next mcpserver.ToolHandlerFunc) mcpserver.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if s, ok := inputs[req.Params.Name]; ok {
				if msg := checkArguments(req, s); msg != "" {
					tools.OutcomeFrom(ctx).Set(tools.OutcomeInvalid, msg)
					return mcp.NewToolResultError(msg), nil
				}
			}
			return next(ctx, req)
		}
	}
}

// checkArguments validates req's arguments against s and returns "" when
// they are valid, else the message for the model: a sentence naming the tool,
// then one violation per line.
func checkArguments(req mcp.CallToolRequest, s *jsonschema.Schema) string {
	raw, err := tools.RawArguments(req)
	if err != nil {
		return invalid(req.Params.Name, "/: "+err.Error())
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return invalid(req.Params.Name, "/: not valid JSON: "+err.Error())
	}
	err = s.Validate(v)
	if err == nil {
		return ""
	}
	vs := schemas.Violations(err)
	lines := make([]string, len(vs))
	for i, v := range vs {
		lines[i] = v.String()
	}
	return invalid(req.Params.Name, lines...)
}

// invalid formats the rejection of a call to tool.
func invalid(tool string, lines ...string) string {
	return "Invalid arguments for " + tool + ":\n" + strings.Join(lines, "\n")
}
