package tools

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/mark3labs/mcp-go/mcp"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/sessions"
)

// EndSessionName is the name of the end_session tool.
const EndSessionName = "end_session"

// endSessionDescription is what the model reads of end_session.
const endSessionDescription = `End one of your Python sessions (execute_python's session argument): its interpreter and sandbox are removed and everything it held (variables, imports, files) is gone. End a session once you no longer need its state, to free your share of the sessions; a call running in it finishes first. Naming a session you do not have is an error that lists the ones you have.`

// EndedSession is end_session's structured result.
type EndedSession struct {
	// Session is the session's name.
	Session string `json:"session"`
	// Ended is always true.
	Ended bool `json:"ended"`
	// Calls is how many calls its interpreter ran.
	Calls int `json:"calls"`
}

// EndSession builds the end_session tool: it ends the caller's session of
// the name given, in reg.
func EndSession(reg *sessions.Registry, log *zap.Logger) (Tool, error) {
	if reg == nil {
		return Tool{}, errors.New("tools: end_session needs a session registry")
	}
	if log == nil {
		log = zap.NewNop()
	}
	t, err := definedTool(EndSessionName, "End a Python session", endSessionDescription, mcp.ToolAnnotation{
		ReadOnlyHint:    mcp.ToBoolPtr(false),
		DestructiveHint: mcp.ToBoolPtr(true),
		IdempotentHint:  mcp.ToBoolPtr(true),
		OpenWorldHint:   mcp.ToBoolPtr(false),
	})
	if err != nil {
		return Tool{}, err
	}
	log = log.With(zap.String("tool", EndSessionName))
	t.Handler = func(ctx context.Context, call *Call) *mcp.CallToolResult {
		return endSession(ctx, reg, log, call)
	}
	t.LogArgs = sessionLogArgs
	return t, nil
}

// endSession serves one end_session call.
func endSession(ctx context.Context, reg *sessions.Registry, log *zap.Logger, call *Call) *mcp.CallToolResult {
	err := call.ArgsErr
	var name string
	if err == nil {
		name, err = sessionArgOf(call.Args)
	}
	if err != nil {
		msg := "Invalid arguments for end_session: " + err.Error()
		call.SetStatus(OutcomeInvalid, msg)
		return mcp.NewToolResultError(msg)
	}
	call.SessionName = name
	calls, err := reg.End(ctx, call.Client, name)
	var unknown *sessions.UnknownError
	switch {
	case errors.As(err, &unknown):
		return mcp.NewToolResultError(unknown.Error())
	case err != nil:
		log.Info("session not ended", zap.String("python_session", name), zap.Error(err))
		return sessionFailure(ctx, call, err)
	}
	text := fmt.Sprintf("Session %s ended after %s; its state is gone. A later call naming it starts a fresh interpreter.", strconv.Quote(name), count(calls, "call"))
	return &mcp.CallToolResult{
		Content:           []mcp.Content{mcp.NewTextContent(text)},
		StructuredContent: EndedSession{Session: name, Ended: true, Calls: calls},
	}
}

// sessionLogArgs describes the arguments of a session tool for the log:
// the session's name (the model's label, never data).
func sessionLogArgs(call *Call) []zap.Field {
	name, err := sessionArgOf(call.Args)
	if err != nil || name == "" {
		return []zap.Field{zap.Int("args_bytes", len(call.RawArgs))}
	}
	return []zap.Field{zap.String("python_session", name)}
}

// count is n with its noun: "1 call", "2 calls".
func count(n int, noun string) string {
	return strconv.Itoa(n) + " " + plural(n, noun, noun+"s")
}
