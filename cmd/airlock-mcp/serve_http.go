package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/server"
	"github.com/airlock-mcp/airlock-mcp/server/metrics"
)

// serveHTTP serves MCP over streamable HTTP and HTTP+SSE until a signal
// arrives: it checks the http flags (http_flags.go), opens the backend,
// wires and starts the server (http_service.go), then runs the serve loop.
func serveHTTP(ctx context.Context, o options, p *policy.Policy, log *zap.Logger, stderr io.Writer) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "airlock-mcp: "+format+"\n", args...)
		return 2
	}
	tokens, err := checkHTTPOptions(o)
	if err != nil {
		return fail("%v", err)
	}
	c, err := newCalls(o, log)
	if err != nil {
		return fail("%v", err)
	}
	m := metrics.New(buildVersion())
	m.SetErrorLog(zap.NewStdLog(log.Named("metrics")))
	backend, err := openBackend(ctx, o.backend, p, false, log, m)
	if err != nil {
		c.shutdown(nil, log)
		return fail("%v", err)
	}
	defer c.shutdown(backend, log)
	h, err := newHTTPService(o, p, backend, c, tokens, m, log)
	if err != nil {
		return fail("%v", err)
	}
	// SIGHUP is ours before the server says it is serving: a reload asked
	// for at once must not find the default action (exit) or an inherited
	// SIG_IGN (nohup) in place.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	addr, served, err := h.serve(o)
	if err != nil {
		return fail("listen: %v", err)
	}
	log.Info("serving MCP over HTTP", zap.String("addr", addr.String()), zap.Bool("tls", o.tlsCert != ""),
		zap.Bool("auth", tokens != nil), zap.String("backend", backend.Name()), zap.String("policy_sha256", p.SHA256()),
		zap.Int("max_connections", h.limits.Max), zap.Int("max_connections_per_address", h.limits.PerAddress),
		zap.Int("max_sessions_per_client", o.http.maxSessionsPerClient), zap.Duration("session_idle_timeout", o.http.sessionIdle))
	return h.run(ctx, hup, served, tokens, c, log)
}

// run is the serve loop: a signal on hup (SIGHUP) reloads the tokens; the
// server failing ends it with 1; ctx ending (SIGINT, SIGTERM) shuts the
// server down and ends it with 0.
func (h *httpService) run(ctx context.Context, hup <-chan os.Signal, served <-chan error, tokens *server.Tokens, c *calls, log *zap.Logger) int {
	for {
		select {
		case <-hup:
			reloadTokens(tokens, log)
		case err := <-served:
			if !errors.Is(err, http.ErrServerClosed) {
				log.Error("http server failed", zap.Error(err))
				return 1
			}
			return 0
		case <-ctx.Done():
			h.shutdown(c, log)
			return 0
		}
	}
}
