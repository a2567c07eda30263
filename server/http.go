package server

import (
	"fmt"
	"net"
	"net/http"

	mcpserver "github.com/mark3labs/mcp-go/server"
)

// HTTP endpoint paths.
const (
	// StreamablePath serves the streamable HTTP transport.
	StreamablePath = "/mcp"
	// SSEPath and MessagePath serve the older HTTP+SSE transport.
	SSEPath     = "/sse"
	MessagePath = "/message"
	// HealthPath answers 200 while the server runs; it needs no token.
	HealthPath = "/healthz"
)

// HTTPOptions configure the HTTP transports.
type HTTPOptions struct {
	// Tokens, when set, are required on every MCP request.
	Tokens *Tokens
}

// NewHTTPHandler serves s over streamable HTTP (StreamablePath) and the
// older HTTP+SSE transport (SSEPath, MessagePath) from one handler, with
// DNS-rebinding protection on, the bearer-token check when opts.Tokens is
// set, and an unauthenticated HealthPath. It also returns the two
// transports, whose Shutdown ends their sessions.
func NewHTTPHandler(s *mcpserver.MCPServer, opts HTTPOptions) (http.Handler, *mcpserver.StreamableHTTPServer, *mcpserver.SSEServer) {
	streamable := mcpserver.NewStreamableHTTPServer(s,
		mcpserver.WithEndpointPath(StreamablePath),
		mcpserver.WithHTTPContextFunc(withClient),
	)
	sse := mcpserver.NewSSEServer(s,
		mcpserver.WithSSEEndpoint(SSEPath),
		mcpserver.WithMessageEndpoint(MessagePath),
		mcpserver.WithSSEContextFunc(withClient),
	)
	mcp := http.NewServeMux()
	mcp.Handle(StreamablePath, streamable)
	mcp.Handle(SSEPath, sse.SSEHandler())
	mcp.Handle(MessagePath, sse.MessageHandler())
	var protected http.Handler = mcp
	if opts.Tokens != nil {
		protected = requireToken(opts.Tokens, mcp)
	}
	root := http.NewServeMux()
	root.HandleFunc(HealthPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	root.Handle("/", protected)
	return root, streamable, sse
}

// IsLoopback reports whether the listen address addr ("host:port") accepts
// connections only from this machine. An empty host (all interfaces) is
// not loopback.
func IsLoopback(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback(), nil
}
