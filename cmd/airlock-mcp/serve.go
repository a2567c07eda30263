package main

import (
	"context"
	"fmt"
	"io"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/server"
)

// serveStdio serves MCP over stdin/stdout until stdin closes or a signal
// arrives, then cancels the calls still running, kills every sandbox and
// closes the audit log.
func serveStdio(ctx context.Context, o options, p *policy.Policy, log *zap.Logger, stdin io.Reader, stdout, stderr io.Writer) int {
	c, err := newCalls(o, log)
	if err != nil {
		fmt.Fprintf(stderr, "airlock-mcp: %v\n", err)
		return 1
	}
	backend, err := openBackend(ctx, o.backend, p, false, log, nil)
	if err != nil {
		fmt.Fprintf(stderr, "airlock-mcp: %v\n", err)
		c.shutdown(nil, log)
		return 1
	}
	defer c.shutdown(backend, log)
	ps, err := c.openSessions(p, backend, log)
	if err != nil {
		log.Error("session registry setup failed", zap.Error(err))
		return 1
	}
	files, err := openFileStore(p)
	if err != nil {
		log.Error("file store setup failed", zap.Error(err))
		return 1
	}
	s, err := server.New(server.Options{Policy: p, Backend: backend, Logger: log, Version: buildVersion(),
		Audit: c.audit, Stop: c.stop, InFlight: &c.inFlight, AnonymousClient: server.StdioClient(), Sessions: ps, Files: files})
	if err != nil {
		log.Error("server setup failed", zap.Error(err))
		return 1
	}
	log.Info("serving MCP over stdio", zap.String("backend", backend.Name()), zap.String("version", buildVersion()), zap.String("policy_sha256", p.SHA256()))
	if err := server.ServeStdio(ctx, s, stdin, stdout, p.Limits.MaxConcurrent+4, log); err != nil {
		log.Error("stdio transport failed", zap.Error(err))
		return 1
	}
	if ctx.Err() != nil {
		log.Info("signal received; shutting down")
	} else {
		log.Info("stdio closed; shutting down")
	}
	return 0
}
