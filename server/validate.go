package server

import (
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/airlock-mcp/airlock-mcp/schemas"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// validate checks call's arguments, as decoded from the wire, against its
// tool's compiled input schema s. A call that fails gets an isError result
// listing every violation, one per line, recorded in call, and never
// reaches the handler; nil lets it through.
func validate(call *tools.Call, s *jsonschema.Schema) *mcp.CallToolResult {
	msg := checkArguments(call, s)
	if msg == "" {
		return nil
	}
	call.SetStatus(tools.OutcomeInvalid, msg)
	return mcp.NewToolResultError(msg)
}

// checkArguments validates call's arguments against s and returns "" when
// they are valid, else the message for the model: a sentence naming the
// tool, then one violation per line.
func checkArguments(call *tools.Call, s *jsonschema.Schema) string {
	if call.ArgsErr != nil {
		return invalid(call.Tool, "/: "+call.ArgsErr.Error())
	}
	err := s.Validate(call.Args)
	if err == nil {
		return ""
	}
	vs := schemas.Violations(err)
	lines := make([]string, len(vs))
	for i, v := range vs {
		lines[i] = v.String()
	}
	return invalid(call.Tool, lines...)
}

// invalid formats the rejection of a call to tool.
func invalid(tool string, lines ...string) string {
	return "Invalid arguments for " + tool + ":\n" + strings.Join(lines, "\n")
}
