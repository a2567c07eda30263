package tools

import (
	"context"
	"strconv"

	"github.com/mark3labs/mcp-go/mcp"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy/precheck"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
)

// runInSession runs req, a call the policy allowed, in the caller's
// session name (created on first use), and records what became of it.
// The caller is the call's Client: a session belongs to the identity that
// made it.
func (h *executePython) runInSession(ctx context.Context, call *Call, name string, req sandbox.Request, pre precheck.Result) *mcp.CallToolResult {
	stopProgress := startProgress(ctx, call.Request, h.progress, req.Limits.Timeout)
	out, err := h.sessions.Registry.Execute(ctx, call.Client, name, req)
	stopProgress()
	if err != nil {
		h.log.Info("session call did not run", zap.String("python_session", name), zap.Error(err))
		return sessionFailure(ctx, call, err)
	}
	return h.respond(call, out.Result, pre, sessionNote(*out.Result.Session, out.Ended))
}

// sessionNote is the line the text of a session call ends with: which
// call of which session it was, that the session was restarted (its state
// lost) and why, and that this call ended the session's interpreter.
func sessionNote(s sandbox.SessionInfo, ended string) string {
	note := "[session " + strconv.Quote(s.Name) + ", call " + strconv.Itoa(s.Call) + "]"
	if s.Restarted {
		note = "[session " + strconv.Quote(s.Name) + " was restarted before this call, so the variables, imports and files of its earlier calls are gone: " + s.Reason + "]"
	}
	if ended != "" {
		note += "\n[session " + strconv.Quote(s.Name) + " ended during this call (" + ended + "): its state is lost, and the next call naming it starts a fresh interpreter]"
	}
	return note
}
