package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	mcpserver "github.com/mark3labs/mcp-go/server"
	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
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
	// Sessions bound the MCP sessions each client holds and how long an
	// idle one lives.
	Sessions SessionLimits
	// Logger receives the sessions the server ends (idle, or replaced);
	// nil discards.
	Logger *zap.Logger

	// now is the sessions' clock (tests set it); nil means time.Now.
	now func() time.Time
}

// DefaultMaxBodyBytes bounds request bodies when HTTPOptions does not.
const DefaultMaxBodyBytes = 4 << 20

// MaxBodyBytesFor is the body bound for calls p allows: up to
// limits.max_code_bytes of code, which JSON may escape as six bytes each
// (\u00XX); the files argument's content up to files.max_in_mb, counted
// twice (base64 takes 4/3, and text whose escapes more than double it —
// control characters — should be sent as base64), with room for each
// entry's path and keys; and room for the rest of the message.
func MaxBodyBytesFor(p *policy.Policy) int64 {
	return int64(p.Limits.MaxCodeBytes)*6 + p.MaxInBytes()*2 + int64(p.Files.MaxInCount)*8<<10 + 64<<10
}

// HTTPTransport serves an MCP server over streamable HTTP (StreamablePath)
// and the older HTTP+SSE transport (SSEPath, MessagePath) from one
// handler, with metrics at MetricsPath when HTTPOptions.Metrics is set and
// an unauthenticated HealthPath. Every other request passes, in order: the
// DNS-rebinding Host check, the bearer-token check (when HTTPOptions.Tokens
// is set), the body bound; then each MCP session is bound to the client
// that opened it, and a notifications/cancelled of protocol 2026-07-28
// reaches only its sender's requests. A connection whose request passed
// the token check counts as authenticated for a ConnLimiter.
type HTTPTransport struct {
	handler    http.Handler
	streamable *mcpserver.StreamableHTTPServer
	sse        *mcpserver.SSEServer
	sessions   *sessions
	stopSweep  chan struct{}
	stopOnce   sync.Once
}

// NewHTTPTransport builds the transports of s; Shutdown ends them.
func NewHTTPTransport(s *mcpserver.MCPServer, opts HTTPOptions) *HTTPTransport {
	t := &HTTPTransport{sessions: newSessions(opts.Sessions, opts.now, opts.Logger), stopSweep: make(chan struct{})}
	t.streamable = mcpserver.NewStreamableHTTPServer(s,
		mcpserver.WithEndpointPath(StreamablePath),
		mcpserver.WithHTTPContextFunc(withClient),
		mcpserver.WithSessionIdManagerResolver(t.sessions),
	)
	t.sse = mcpserver.NewSSEServer(s,
		mcpserver.WithSSEEndpoint(SSEPath),
		mcpserver.WithMessageEndpoint(MessagePath),
		mcpserver.WithSSEContextFunc(withClient),
		mcpserver.WithSessionIDGenerator(t.sessions.sseSessionID),
	)
	t.sessions.end = endStreamableSession(t.streamable)
	go t.sessions.sweepEvery(t.sessions.sweepInterval(), t.stopSweep)

	mcp := http.NewServeMux()
	mcp.Handle(StreamablePath, t.sessions.guardStreamable(newModernCalls().guard(acceptBareNotifications(t.streamable))))
	mcp.Handle(SSEPath, t.sessions.guardSSE(t.sse.SSEHandler()))
	mcp.Handle(MessagePath, t.sessions.guardMessages(t.sse.MessageHandler()))
	if opts.Metrics != nil {
		mcp.Handle(MetricsPath, opts.Metrics)
	}
	maxBody := opts.MaxBodyBytes
	if maxBody <= 0 {
		maxBody = DefaultMaxBodyBytes
	}
	var protected http.Handler = trustConnection(limitBody(maxBody, readRequest(mcp)))
	if opts.Tokens != nil {
		protected = requireToken(opts.Tokens, protected)
	}
	root := http.NewServeMux()
	root.HandleFunc(HealthPath, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintln(w, "ok")
	})
	root.Handle("/", refuseRebinding(protected))
	t.handler = root
	return t
}

// ServeHTTP serves every endpoint.
func (t *HTTPTransport) ServeHTTP(w http.ResponseWriter, r *http.Request) { t.handler.ServeHTTP(w, r) }

// Shutdown ends every session and stream of both transports and stops
// looking for idle sessions.
func (t *HTTPTransport) Shutdown(ctx context.Context) error {
	t.stopOnce.Do(func() { close(t.stopSweep) })
	// The SSE server's own Shutdown ends nothing when it does not run the
	// http.Server itself.
	t.sse.CloseSessions()
	return errors.Join(t.sse.Shutdown(ctx), t.streamable.Shutdown(ctx))
}

// Timeouts of the HTTP server NewHTTPServer builds. There is no write
// timeout: it would cut off long calls and streams.
const (
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout = 10 * time.Second
	// ReadTimeout bounds reading a whole request, body included; net/http
	// lifts it once the body is read (the transport reads every body to
	// the end first), so it never cuts off a call or a stream.
	ReadTimeout = 60 * time.Second
	// IdleTimeout closes a keep-alive connection that waits this long for
	// its next request.
	IdleTimeout = 60 * time.Second
)

// NewHTTPServer returns the http.Server for handler: the timeouts above,
// and conns (if not nil) hooked in; serve it on conns.Listener.
func NewHTTPServer(handler http.Handler, conns *ConnLimiter) *http.Server {
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: ReadHeaderTimeout, ReadTimeout: ReadTimeout, IdleTimeout: IdleTimeout}
	if conns != nil {
		conns.Install(srv)
	}
	return srv
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
