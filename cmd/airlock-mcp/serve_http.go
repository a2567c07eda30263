package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/airlock-mcp/airlock-mcp/policy"
	"github.com/airlock-mcp/airlock-mcp/server"
	"github.com/airlock-mcp/airlock-mcp/server/metrics"
)

// serveHTTP serves MCP over streamable HTTP and HTTP+SSE until a signal
// arrives. A listen address that is not loopback is refused unless
// --auth-tokens names a tokens file; SIGHUP re-reads that file.
func serveHTTP(ctx context.Context, o options, p *policy.Policy, log *zap.Logger, stderr io.Writer) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "airlock-mcp: "+format+"\n", args...)
		return 2
	}
	loopback, err := server.IsLoopback(o.listen)
	if err != nil {
		return fail("%v", err)
	}
	var tokens *server.Tokens
	if o.authTokens != "" {
		if tokens, err = server.LoadTokens(o.authTokens); err != nil {
			return fail("%v", err)
		}
	} else if !loopback {
		return fail("refusing to serve on %s without authentication: pass --auth-tokens FILE (one \"NAME TOKEN\" pair per line), or listen on a loopback address", o.listen)
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return fail("--tls-cert and --tls-key go together")
	}

	c, err := newCalls(o, log)
	if err != nil {
		return fail("%v", err)
	}
	m := metrics.New(buildVersion())
	m.SetErrorLog(zap.NewStdLog(log.Named("metrics")))
	backend, err := openBackend(ctx, o.backend, p, false, log, m)
	if err != nil {
		log.Error("backend unavailable", zap.String("backend", o.backend), zap.Error(err))
		c.shutdown(nil, log)
		return fail("%v", err)
	}
	defer c.shutdown(backend, log)
	s, err := server.New(server.Options{Policy: p, Backend: backend, Logger: log, Version: buildVersion(),
		Audit: c.audit, Metrics: m, Stop: c.stop, InFlight: &c.inFlight})
	if err != nil {
		return fail("%v", err)
	}
	handler, streamable, sse := server.NewHTTPHandler(s, server.HTTPOptions{
		Tokens:       tokens,
		Metrics:      m.Handler(),
		MaxBodyBytes: server.MaxBodyBytesFor(p.Limits.MaxCodeBytes),
	})
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fail("listen: %v", err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() {
		if o.tlsCert != "" {
			served <- srv.ServeTLS(ln, o.tlsCert, o.tlsKey)
		} else {
			served <- srv.Serve(ln)
		}
	}()
	log.Info("serving MCP over HTTP", zap.String("addr", ln.Addr().String()), zap.Bool("tls", o.tlsCert != ""),
		zap.Bool("auth", tokens != nil), zap.String("backend", backend.Name()), zap.String("policy_sha256", p.SHA256()))

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			if tokens == nil {
				continue
			}
			if err := tokens.Reload(); err != nil {
				log.Error("auth tokens not reloaded; the previous ones stay in force", zap.Error(err))
			} else {
				log.Info("auth tokens reloaded", zap.Int("tokens", tokens.Len()))
			}
		case err := <-served:
			if !errors.Is(err, http.ErrServerClosed) {
				log.Error("http server failed", zap.Error(err))
				return 1
			}
			return 0
		case <-ctx.Done():
			// Stop accepting, cancel the calls in flight so their sandboxes
			// die and their responses go out, end the streams, then (in the
			// deferred shutdown) close the backend and the audit log.
			log.Info("shutting down")
			sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
			defer cancel()
			closed := make(chan struct{})
			go func() {
				defer close(closed)
				if err := srv.Shutdown(sctx); err != nil {
					_ = srv.Close()
				}
			}()
			c.cancel()
			_ = sse.Shutdown(sctx)
			_ = streamable.Shutdown(sctx)
			<-closed
			return 0
		}
	}
}
