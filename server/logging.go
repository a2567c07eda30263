package server

import (
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/airlock-mcp/airlock-mcp/tools"
)

// maxLoggedText caps how much of an error result's text is logged.
const maxLoggedText = 300

// logCall logs one line for call, once it is over: the tool, its duration,
// the client when it authenticated, the arguments as the tool describes
// them (describe; never the code itself), whether the result was an error,
// and the call's final status when the code ran. A call that failed with a Go
// error (err) is logged at error level.
func (p *pipeline) logCall(call *tools.Call, describe func(*tools.Call) []zap.Field, res *mcp.CallToolResult, err error) {
	level := zapcore.InfoLevel
	if err != nil {
		level = zapcore.ErrorLevel
	}
	ce := p.log.Check(level, "tool call")
	if ce == nil {
		return
	}
	fields := []zap.Field{
		zap.String("tool", call.Tool),
		zap.Duration("duration", call.Duration),
	}
	if call.Authenticated {
		fields = append(fields, zap.String("client", call.Client))
	}
	fields = append(fields, argFields(call, describe)...)
	fields = append(fields, resultFields(call, res, err)...)
	ce.Write(fields...)
}

// argFields describes call's arguments with the tool's describer, or by
// their size alone when the tool has none.
func argFields(call *tools.Call, describe func(*tools.Call) []zap.Field) []zap.Field {
	switch {
	case call.ArgsErr != nil:
		return []zap.Field{zap.NamedError("args_error", call.ArgsErr)}
	case describe == nil:
		return []zap.Field{zap.Int("args_bytes", len(call.RawArgs))}
	}
	return describe(call)
}

// resultFields describes the outcome of call: the result res or the Go
// error err the client got, and the sandbox's result when the code ran.
func resultFields(call *tools.Call, res *mcp.CallToolResult, err error) []zap.Field {
	switch {
	case err != nil:
		return []zap.Field{zap.Error(err)}
	case res == nil:
		return []zap.Field{zap.Bool("no_result", true)}
	}
	fields := []zap.Field{zap.Bool("is_error", res.IsError)}
	if r := call.Result; r != nil {
		// The call's final status, as audited and counted: a cancelled
		// call is "cancelled", though its sandbox was killed.
		return append(fields,
			zap.String("status", call.Status),
			zap.String("backend", r.Backend),
			zap.Int64("sandbox_ms", r.DurationMS),
			zap.Bool("truncated", r.Truncated))
	}
	if res.IsError {
		fields = append(fields, zap.String("error_text", errorText(res)))
	}
	return fields
}

// errorText returns the text of an error result without structured content
// (a validation failure, a refusal, a backend failure), capped for the log.
func errorText(res *mcp.CallToolResult) string {
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			return truncate(tc.Text, maxLoggedText)
		}
	}
	return ""
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
