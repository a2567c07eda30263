package server

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"strconv"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	pysessions "github.com/airlock-mcp/airlock-mcp/sessions"
	"github.com/airlock-mcp/airlock-mcp/tools"
)

// SessionsResourceURI names the resource listing the caller's Python
// sessions.
const SessionsResourceURI = "airlock://sessions"

// addSessionsResource registers airlock://sessions on s: the reader's own
// sessions in reg, as list_sessions shows them (its structured result, as
// JSON). A reader without an authenticated identity is anonymous.
func addSessionsResource(s *mcpserver.MCPServer, reg *pysessions.Registry, anonymous string) {
	res := mcp.NewResource(SessionsResourceURI, "Your Python sessions",
		mcp.WithResourceDescription("Your live Python sessions (execute_python's session argument): name, created, last used, calls, memory in use, and when each will expire; the same content as the list_sessions tool."),
		mcp.WithMIMEType("application/json"),
	)
	s.AddResource(res, func(ctx context.Context, _ mcp.ReadResourceRequest) ([]mcp.ResourceContents, error) {
		owner := ClientIdentity(ctx)
		if owner == "" {
			owner = anonymous
		}
		l, err := tools.ListOf(ctx, reg, owner)
		if err != nil {
			return nil, fmt.Errorf("list your sessions: %w", err)
		}
		b, err := json.Marshal(l)
		if err != nil {
			return nil, fmt.Errorf("encode your sessions: %w", err)
		}
		return []mcp.ResourceContents{mcp.TextResourceContents{URI: SessionsResourceURI, MIMEType: "application/json", Text: string(b)}}, nil
	})
}

// StdioClient is the identity of the client of a stdio server: the local
// user who runs it, "stdio:" and the user's name (its uid when it has
// none). A restarted stdio server is the same client, and finds the
// sessions it left where the backend keeps them.
func StdioClient() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "stdio:" + u.Username
	}
	return "stdio:" + strconv.Itoa(os.Getuid())
}
