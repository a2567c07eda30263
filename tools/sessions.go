package tools

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/sandbox"
	"github.com/airlock-mcp/airlock-mcp/sessions"
)

// Sessions is the server's Python sessions as the tools see them: the
// registry that keeps them, or why there are none.
type Sessions struct {
	// Registry keeps the sessions of every client; nil when the server
	// offers none. The tools key each session by the call's Client.
	Registry *sessions.Registry
	// Off says in one sentence why the server offers no sessions, when
	// Registry is nil ("the modal backend does not keep sessions"); "" reads
	// as "this server does not offer sessions".
	Off string
}

// offReason is why s offers no sessions, never "".
func (s Sessions) offReason() string {
	if s.Off == "" {
		return "this server does not offer sessions"
	}
	return s.Off
}

// SessionsConfig is the session registry's configuration under p: its
// sessions section, the limits section's limits for each session's
// sandbox, and a call waiting for its session's turn giving up after the
// queue timeout, as one waiting for an execution slot does.
func SessionsConfig(p *policy.Policy) sessions.Config {
	return sessions.Config{
		MaxPerClient: p.Sessions.MaxPerClient,
		MaxTotal:     p.Sessions.MaxTotal,
		IdleTTL:      p.Sessions.IdleTTL(),
		MaxLifetime:  p.Sessions.MaxLifetime(),
		Limits:       p.DefaultLimits(),
		TurnTimeout:  time.Duration(p.Limits.QueueTimeoutS * float64(time.Second)),
	}
}

// sessionArgOf reads the session argument from a call's decoded
// arguments: "" when absent; an error when it is not a string.
func sessionArgOf(v any) (string, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return "", fmt.Errorf("the arguments are %T, not an object", v)
	}
	switch s := m["session"].(type) {
	case nil:
		return "", nil
	case string:
		return s, nil
	default:
		return "", fmt.Errorf("session is %T, not a string", s)
	}
}

// sessionFailure records and words a session call that did not run: a
// session limit (a refusal by the policy), a wait for a busy session or a
// slot, a cancellation, a shutdown, or the backend failing.
func sessionFailure(ctx context.Context, call *Call, err error) *mcp.CallToolResult {
	var le *sessions.LimitError
	switch {
	case errors.As(err, &le):
		call.Deny("sessions", le.Limit, le.Error())
		return mcp.NewToolResultError(le.Error())
	case errors.Is(err, sessions.ErrClosed):
		msg := "The server is shutting down, so the session call could not run; retry once it is back."
		call.SetStatus(OutcomeCancelled, msg)
		return mcp.NewToolResultError(msg)
	case isBusy(err):
		msg := busyMessage(err)
		call.SetStatus(OutcomeBusy, msg)
		return mcp.NewToolResultError(msg)
	case ctx.Err() != nil:
		msg := "the call was cancelled before the code finished"
		call.SetStatus(OutcomeCancelled, msg)
		return mcp.NewToolResultError(msg)
	}
	msg := fmt.Sprintf("the session's sandbox could not be reached or started: %v; retry, or the operator can run `airlock-mcp doctor`", err)
	call.SetStatus(OutcomeFailed, msg)
	return mcp.NewToolResultError(msg)
}

// isBusy reports whether err is a wait that gave up: for an execution
// slot (sandbox.ErrBusy) or for a session running another call
// (*sessions.BusyError, which is one too).
func isBusy(err error) bool { return errors.Is(err, sandbox.ErrBusy) }

// busyMessage words err, a wait that gave up, for the model: the session's
// own sentence, or the slot queue's from "Server busy" on.
func busyMessage(err error) string {
	var be *sessions.BusyError
	if errors.As(err, &be) {
		return be.Error()
	}
	msg := err.Error()
	if i := strings.Index(msg, "server busy"); i >= 0 {
		msg = msg[i:]
	}
	return strings.Replace(msg, "server busy", "Server busy", 1)
}
