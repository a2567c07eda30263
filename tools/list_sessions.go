package tools

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/sessions"
)

// ListSessionsName is the name of the list_sessions tool.
const ListSessionsName = "list_sessions"

// listSessionsDescription is what the model reads of list_sessions.
const listSessionsDescription = `List your live Python sessions (execute_python's session argument): for each, its name, when it was created and last used, how many calls it ran, the memory it uses (null when unknown), and when it will be ended unless you use it (RFC 3339, UTC); and how many sessions you may keep. Use it to find a session again, or to choose one to end with end_session.`

// SessionList is list_sessions' structured result, and the content of the
// airlock://sessions resource.
type SessionList struct {
	// Sessions are the caller's live sessions, by name.
	Sessions []SessionEntry `json:"sessions"`
	// MaxPerClient is how many sessions the caller may keep at once.
	MaxPerClient int `json:"max_per_client"`
	// IdleTTLS and MaxLifetimeS are the operator's expiries, in seconds.
	IdleTTLS     int `json:"idle_ttl_s"`
	MaxLifetimeS int `json:"max_lifetime_s"`
}

// SessionEntry is one session of a SessionList.
type SessionEntry struct {
	Name        string `json:"name"`
	Created     string `json:"created"`
	LastUsed    string `json:"last_used"`
	Calls       int    `json:"calls"`
	MemoryBytes *int64 `json:"memory_bytes"`
	ExpiresAt   string `json:"expires_at"`
}

// ListOf returns the live sessions of owner in reg, as list_sessions and
// the airlock://sessions resource show them.
func ListOf(ctx context.Context, reg *sessions.Registry, owner string) (SessionList, error) {
	infos, err := reg.List(ctx, owner)
	if err != nil {
		return SessionList{}, err
	}
	cfg := reg.Config()
	l := SessionList{Sessions: make([]SessionEntry, len(infos)), MaxPerClient: cfg.MaxPerClient,
		IdleTTLS: int(cfg.IdleTTL.Seconds()), MaxLifetimeS: int(cfg.MaxLifetime.Seconds())}
	for i, in := range infos {
		e := SessionEntry{Name: in.Name, Created: sessions.FormatTime(in.Created), LastUsed: sessions.FormatTime(in.LastUsed),
			Calls: in.Calls, ExpiresAt: sessions.FormatTime(in.ExpiresAt)}
		if in.MemoryBytes > 0 {
			m := in.MemoryBytes
			e.MemoryBytes = &m
		}
		l.Sessions[i] = e
	}
	return l, nil
}

// Text is l as a model reads it: one line per session.
func (l SessionList) Text() string {
	if len(l.Sessions) == 0 {
		return fmt.Sprintf("You have no live sessions (you may keep %d; a session is created by naming it in execute_python's session argument).", l.MaxPerClient)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "You have %s of at most %d:", count(len(l.Sessions), "live session"), l.MaxPerClient)
	for _, s := range l.Sessions {
		memory := "memory unknown"
		if s.MemoryBytes != nil {
			memory = "memory " + strconv.FormatFloat(float64(*s.MemoryBytes)/(1<<20), 'f', 1, 64) + " MiB"
		}
		fmt.Fprintf(&b, "\n- %s: %s, %s; created %s, last used %s, ends at %s unless used",
			strconv.Quote(s.Name), count(s.Calls, "call"), memory, s.Created, s.LastUsed, s.ExpiresAt)
	}
	return b.String()
}

// ListSessions builds the list_sessions tool: it lists the caller's
// sessions in reg.
func ListSessions(reg *sessions.Registry, log *zap.Logger) (Tool, error) {
	if reg == nil {
		return Tool{}, errors.New("tools: list_sessions needs a session registry")
	}
	if log == nil {
		log = zap.NewNop()
	}
	t, err := definedTool(ListSessionsName, "List your Python sessions", listSessionsDescription, mcp.ToolAnnotation{
		ReadOnlyHint:    mcp.ToBoolPtr(true),
		DestructiveHint: mcp.ToBoolPtr(false),
		IdempotentHint:  mcp.ToBoolPtr(true),
		OpenWorldHint:   mcp.ToBoolPtr(false),
	})
	if err != nil {
		return Tool{}, err
	}
	log = log.With(zap.String("tool", ListSessionsName))
	t.Handler = func(ctx context.Context, call *Call) *mcp.CallToolResult {
		if call.ArgsErr != nil {
			msg := "Invalid arguments for list_sessions: " + call.ArgsErr.Error()
			call.SetStatus(OutcomeInvalid, msg)
			return mcp.NewToolResultError(msg)
		}
		l, err := ListOf(ctx, reg, call.Client)
		if err != nil {
			log.Info("sessions not listed", zap.Error(err))
			return sessionFailure(ctx, call, err)
		}
		return &mcp.CallToolResult{
			Content:           []mcp.Content{mcp.NewTextContent(l.Text())},
			StructuredContent: l,
		}
	}
	t.LogArgs = func(call *Call) []zap.Field { return []zap.Field{zap.Int("args_bytes", len(call.RawArgs))} }
	return t, nil
}
