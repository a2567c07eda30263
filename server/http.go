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
	// MetricsPath serves Prometheus metrics, behind the same tokens as MCP.
	MetricsPath = "/metrics"
)

// HTTPOptions configure the HTTP transports.
type HTTPOptions struct {
	// Tokens, when set, are required on every MCP and metrics request.
	Tokens *Tokens
	// Metrics, when set, is served at MetricsPath.
	Metrics http.Handler
	// MaxBodyBytes bounds each request body; a larger one gets 413. 0
	// means DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// DefaultMaxBodyBytes bounds request bodies when HTTPOptions does not.
const DefaultMaxBodyBytes = 4 << 20

// MaxBodyBytesFor is the body bound for calls carrying up to maxCode bytes
// of code: JSON may escape each byte as six (\u00XX), plus room for the
// rest of the message.
func MaxBodyBytesFor(maxCode int) int64 { return int64(maxCode)*6 + 64<<10 }

// NewHTTPHandler serves s over streamable HTTP (StreamablePath) and the
// older HTTP+SSE transport (SSEPath, MessagePath) from one handler, with
// DNS-rebinding protection on, the bearer-token check when opts.Tokens is
// set, request bodies bounded, metrics at MetricsPath when opts.Metrics is
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
	mcp.Handle(StreamablePath, acceptBareNotifications(streamable))
	mcp.Handle(SSEPath, sse.SSEHandler())
	mcp.Handle(MessagePath, sse.MessageHandler())
	if opts.Metrics != nil {
		mcp.Handle(MetricsPath, opts.Metrics)
	}
	maxBody := opts.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	var protected http.Handler = limitBody(maxBody, mcp)
	if opts.Tokens != nil {
		protected = requireToken(opts.Tokens, protected)
	}
	root := http.NewServeMux()
	root.HandleFunc(HealthPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	root.Handle("/", protected)
	return root, streamable, sse
}

// limitBody answers 413 to a request whose body is larger than n, and cuts
// off a body that turns out larger while it is read.
func limitBody(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > n {
			http.Error(w, fmt.Sprintf("airlock-mcp: request body of %d bytes is larger than the limit of %d bytes", r.ContentLength, n), http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next.ServeHTTP(w, r)
	})
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
