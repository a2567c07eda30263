package server

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// maxLoggedText caps how much of an error result's text is logged.
const maxLoggedText = 300

// logCalls returns the middleware that logs one line per tool call: the
// tool, its duration, whether it was an error, the sandbox status when there
// is one, and the arguments as the tool describes them (never the code
// itself). A call that fails with a Go error is logged at error level.
func logCalls(log *zap.Logger, ts []tools.Tool) mcpserver.ToolHandlerMiddleware {
	describe := make(map[string]func([]byte, tools.CallOutcome) []zap.Field, len(ts))
	for _, t := range ts {
		describe[t.Definition.Name] = t.LogArgs
	}
	return func(next mcpserver.ToolHandlerFunc) mcpserver.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			start := time.Now()
			res, err := next(ctx, req)
			level := zapcore.InfoLevel
			if err != nil {
				level = zapcore.ErrorLevel
			}
			if ce := log.Check(level, "tool call"); ce != nil {
				fields := []zap.Field{
					zap.String("tool", req.Params.Name),
					zap.Duration("duration", time.Since(start)),
				}
				if client := ClientIdentity(ctx); client != "" {
					fields = append(fields, zap.String("client", client))
				}
				fields = append(fields, argFields(req, describe[req.Params.Name], tools.OutcomeFrom(ctx).Snapshot())...)
				fields = append(fields, resultFields(res, err)...)
				ce.Write(fields...)
			}
			return res, err
		}
	}
}

// argFields describes req's arguments with the tool's describer, or by their
// size alone when the tool has none.
func argFields(req mcp.CallToolRequest, describe func([]byte, tools.CallOutcome) []zap.Field, o tools.CallOutcome) []zap.Field {
	raw, err := tools.RawArguments(req)
	if err != nil {
		return []zap.Field{zap.NamedError("args_error", err)}
	}
	if describe == nil {
		return []zap.Field{zap.Int("args_bytes", len(raw))}
	}
	return describe(raw, o)
}

// resultFields describes the outcome of a call.
func resultFields(res *mcp.CallToolResult, err error) []zap.Field {
	switch {
	case err != nil:
		return []zap.Field{zap.Error(err)}
	case res == nil:
		return []zap.Field{zap.Bool("no_result", true)}
	}
	fields := []zap.Field{zap.Bool("is_error", res.IsError)}
	if r, ok := res.StructuredContent.(sandbox.Result); ok {
		return append(fields,
			zap.String("status", string(r.Status)),
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
